"""Atom feeds (RFC 4287) of snapshots: one per site, one for all sites, one per watch.

Written with the standard library's ElementTree: Atom needs a handful of elements, and
ElementTree escapes text and attributes, so no feed library is needed. Entry ids are
``urn:uuid:`` values derived from the site and the commit sha, so they never change when the
feed is regenerated, and readers never show an entry twice.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from archiver import __version__

ATOM = "http://www.w3.org/2005/Atom"
MAX_ENTRIES = 100


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One snapshot as a feed entry. ``link`` points at its report page; ``commit_link`` at a git web UI."""

    site: str
    sha: str
    date: str  # ISO 8601 with offset (RFC 3339)
    title: str
    summary: str
    link: str
    commit_link: str | None = None
    watch: str = ""  # the watch whose feed it is in ("": the site's or all sites' feed)


def entry_id(site: str, sha: str, watch: str = "") -> str:
    """An entry's id: one per snapshot, and another per watch (its entry says less than the site's)."""
    name = f"archiver:watch:{site}:{watch}:{sha}" if watch else f"archiver:snapshot:{site}:{sha}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def feed_id(name: str, root_sha: str) -> str:
    """A feed's id: stable for one archive (its first commit) and one feed name."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'archiver:feed:{root_sha}:{name}')}"


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def atom_feed(title: str, fid: str, self_link: str, page_link: str, entries: list[FeedEntry]) -> bytes:
    """The feed document; ``entries`` newest first (at most :data:`MAX_ENTRIES` are kept)."""
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    _el(root, "title", title)
    _el(root, "id", fid)
    _el(root, "link", rel="self", href=self_link, type="application/atom+xml")
    _el(root, "link", rel="alternate", href=page_link, type="text/html")
    _el(root, "updated", entries[0].date if entries else "1970-01-01T00:00:00+00:00")
    author = _el(root, "author")
    _el(author, "name", "archiver")
    _el(root, "generator", "archiver", version=__version__)
    for e in entries[:MAX_ENTRIES]:
        node = _el(root, "entry")
        _el(node, "title", e.title)
        _el(node, "id", entry_id(e.site, e.sha, e.watch))
        _el(node, "updated", e.date)
        _el(node, "link", rel="alternate", href=e.link, type="text/html")
        if e.commit_link:
            _el(node, "link", rel="related", href=e.commit_link, title=f"commit {e.sha[:10]}")
        _el(node, "category", term=e.site)
        _el(node, "summary", e.summary, type="text")
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def write_feed(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
