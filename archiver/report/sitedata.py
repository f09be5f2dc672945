"""What the report knows of one site, read from git once per build, and the names of its files.

Every page of the report is a function of a :class:`SiteData` (the site's snapshots, what each
changed, what its commit message says of each page, the blob of each version), so the pages are
pure HTML builders and :mod:`archiver.report.build` alone reads git and writes files.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from archiver.archive.apichanges import SpecSummary
from archiver.archive.history import MessagePage
from archiver.archive.patch import section_words
from archiver.models import FileStat, Snapshot
from archiver.report.htmlpage import esc, href
from archiver.report.words import count, short_reason

STATUS_WORD = {"A": "added", "M": "changed", "D": "removed"}
Details = dict[str, dict[str, Any]]  # repo path -> {"sections": [...], "source": url | None}


def slug(path: str) -> str:
    """A flat, safe file name for a page's history (``docs/guide/auth.md`` → ``guide_auth.md-1a2b3c4d``)."""
    digest = hashlib.sha1(path.encode()).hexdigest()[:8]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", path.partition("/")[2] or path).strip("._")
    return readable[-80:] + "-" + digest


def anchor(path: str) -> str:
    """The id of a file's section on a snapshot page."""
    return "f-" + hashlib.sha1(path.encode()).hexdigest()[:12]


def history_file(path: str) -> str:
    """A page's history, relative to the site's folder."""
    return f"pages/{slug(path)}.html"


def version_file(path: str, blob: str) -> str:
    """One version of a page (its content is the blob's), relative to the site's folder: the same
    content always has the same file, so it is written once."""
    return f"pages/{slug(path)}/{blob[:16]}.html"


def watch_feed_file(name: str) -> str:
    """A watch's Atom feed, relative to the site's folder (beside the site's feed, so the entries'
    links are the same)."""
    return f"watch-{name}.xml"


def short(site: str, path: str) -> str:
    return path.removeprefix(f"{site}/")


@dataclass(frozen=True, slots=True)
class Version:
    """One snapshot of one page: the snapshot, the page's stat, and the blobs before and after."""

    snap: Snapshot
    stat: FileStat
    before: str  # "" for a page added
    after: str  # "" for a page removed


@dataclass(frozen=True, slots=True)
class SiteData:
    """One site's history as the report shows it. Snapshots are newest first."""

    site: str
    snaps: list[Snapshot]
    details: dict[str, Details]  # sha -> what each file's change touched (sections, source URL)
    notes: dict[str, dict[str, MessagePage]]  # sha -> what its commit message says of each page
    blobs: dict[str, dict[str, tuple[str, str]]]  # sha -> path -> (blob before, blob after)
    base_url: str | None = None  # the site's base URL, from its newest commit's Source: trailer
    web_url: str | None = None  # a template such as https://git.example/commit/{sha}
    api: dict[str, list[SpecSummary]] = field(default_factory=dict)  # sha -> its API changes, per spec
    watches: tuple[str, ...] = ()  # the names of the site's watches (each has a feed: watch_feed_file)
    phrase: str | None = None  # archiver report --when: the phrase whose comings and goings are marked
    marks: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (sha, path) -> (added|removed, line)

    def versions(self) -> dict[str, list[Version]]:
        """Every page that ever existed → its versions, newest first."""
        out: dict[str, list[Version]] = {}
        for snap in self.snaps:
            for f in snap.files:
                before, after = self.blobs.get(snap.sha, {}).get(f.path, ("", ""))
                out.setdefault(f.path, []).append(Version(snap, f, before, after))
        return dict(sorted(out.items()))

    def live(self) -> list[str]:
        """The pages the site has now (their last version is not a removal)."""
        return [p for p, vs in self.versions().items() if vs[0].stat.status != "D"]

    def sections(self, sha: str, path: str) -> list[str]:
        return [section_words(s) for s in self.details.get(sha, {}).get(path, {}).get("sections", [])]

    def source(self, path: str) -> str | None:
        """The page's URL: from its newest version's front matter, else from a commit message."""
        for snap in self.snaps:
            found = self.details.get(snap.sha, {}).get(path, {}).get("source")
            if found:
                return str(found)
            note = self.notes.get(snap.sha, {}).get(path)
            if note and note.url:
                return note.url
        return None

    def note(self, sha: str, path: str) -> MessagePage | None:
        return self.notes.get(sha, {}).get(path)

    def reason(self, sha: str, path: str) -> str:
        """Why the page went (or moved) in that snapshot, in a word or two: ``HTTP 404``, ``unlisted``."""
        note = self.note(sha, path)
        return short_reason(note.reason) if note else ""

    def commit_link(self, sha: str) -> str | None:
        return self.web_url.replace("{sha}", sha) if self.web_url else None

    def first(self, snap: Snapshot) -> bool:
        """The site's first snapshot."""
        return bool(self.snaps) and snap.sha == self.snaps[-1].sha


def stat_html(f: FileStat | Snapshot) -> str:
    """Lines added and removed, each only if there are any (no ``+0``, no ``−0``)."""
    if isinstance(f, FileStat) and f.binary:
        return '<span class="muted">binary</span>'
    added, removed = (f.added, f.removed) if isinstance(f, FileStat) else (f.lines_added, f.lines_removed)
    parts = ([f'<span class="plus">+{added}</span>'] if added else []) + (
        [f'<span class="minus">−{removed}</span>'] if removed else []
    )
    return f'<span class="stat">{" ".join(parts)}</span>' if parts else ""


def sections_html(sections: list[str]) -> str:
    """The headings a change touched, as a list (``Examples · Errors``)."""
    if not sections:
        return ""
    return '<ul class="sections">' + "".join(f"<li>{esc(s)}</li>" for s in sections) + "</ul>"


def reason_html(reason: str, full: str = "") -> str:
    """Why a page went: ``HTTP 404`` (the message's own words in the title when they say more)."""
    if not reason:
        return ""
    title = f' title="{esc(full)}"' if full and full != reason else ""
    return f'<span class="why"{title}>{esc(reason)}</span>'


def page_link(site: str, path: str, prefix: str = "") -> str:
    return f'<a href="{href(prefix + history_file(path))}">{esc(short(site, path))}</a>'


def files_word(snap: Snapshot) -> str:
    return count(len(snap.files), "page")
