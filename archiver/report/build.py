"""``archiver report``: a static HTML site of what changed, read from git, plus Atom feeds.

Layout of the output folder (every link relative, so it works from ``file://`` and any host)::

    index.html                  the sites: snapshots, last change
    feed.xml                    Atom feed of every site's snapshots
    <site>/index.html           timeline of snapshots grouped by day, and the site's pages
    <site>/feed.xml             the site's Atom feed
    <site>/snap/<sha>.html      one snapshot: files changed, sections, each file's diff
    <site>/pages/<slug>.html    one page's versions
    <site>/snapshots.json       what each snapshot changed (pages, sections, source URLs)

Regenerating is incremental: a snapshot page that exists is kept (a commit never changes), only
new ones are rendered; the indexes, page histories and feeds are rewritten every time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.archive import history
from archiver.archive.patch import FileDiff, changed_sections, parse_patch, source_url
from archiver.config import SITE_NAME
from archiver.files import write_atomic
from archiver.models import FileStat, Snapshot
from archiver.report import feeds
from archiver.report.htmlpage import diff_html, esc, href, page, safe_url, stat_html, thead

logger = logging.getLogger(__name__)

STATUS_WORD = {"A": "added", "M": "changed", "D": "removed"}
Details = dict[str, dict[str, Any]]  # repo path -> {"sections": [...], "source": url | None}


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What one ``build_report`` did."""

    out: Path
    sites: int
    snapshots: int
    rendered: int  # snapshot pages written this time (the others already existed)


def _slug(path: str) -> str:
    """A flat, safe file name for a page's history (``docs/guide/auth.md`` → ``guide_auth.md-1a2b3c4d``)."""
    digest = hashlib.sha1(path.encode()).hexdigest()[:8]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", path.partition("/")[2] or path).strip("._")
    return readable[-80:] + "-" + digest


def anchor(path: str) -> str:
    """The id of a file's section on a snapshot page."""
    return "f-" + hashlib.sha1(path.encode()).hexdigest()[:12]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8"))


def commit_link(web_url: str | None, sha: str) -> str | None:
    return web_url.replace("{sha}", sha) if web_url else None


def _when(date: str) -> str:
    return date.replace("T", " ")[:16] + " " + date[19:]


def _short(site: str, path: str) -> str:
    return path.removeprefix(f"{site}/")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _word(f: FileStat) -> str:
    return esc(STATUS_WORD.get(f.status, f.status))


def _counts(f: FileStat) -> str:
    return f'<td class="num plus">+{f.added}</td><td class="num minus">−{f.removed}</td>'


def _details(fds: list[FileDiff]) -> Details:
    return {fd.path: {"sections": [] if fd.binary else changed_sections(fd), "source": source_url(fd)} for fd in fds}


def summary_text(site: str, snap: Snapshot, details: Details) -> str:
    """Plain text: the subject, then one line per page with what happened and the sections changed."""
    lines = [snap.subject, ""]
    for f in snap.files:
        sections = ", ".join(details.get(f.path, {}).get("sections", []))
        lines.append(
            f"{STATUS_WORD.get(f.status, f.status)} {_short(site, f.path)}" + (f": {sections}" if sections else "")
        )
    return "\n".join(lines)


def _snapshot_page(
    site: str, snap: Snapshot, prev: Snapshot | None, fds: list[FileDiff], details: Details, web_url: str | None
) -> str:
    by_path = {fd.path: fd for fd in fds}
    link = safe_url(commit_link(web_url, snap.sha))
    sha = f'<a href="{link}">{esc(snap.sha[:10])}</a>' if link else f"<code>{esc(snap.sha[:10])}</code>"
    meta = [esc(_when(snap.date)), f"commit {sha}", stat_html(snap.lines_added, snap.lines_removed)]
    if prev:
        meta.append(f'<a href="{href(prev.sha + ".html")}">previous snapshot</a>')
    rows = []
    for f in snap.files:
        sections = esc(", ".join(details.get(f.path, {}).get("sections", [])))
        rows.append(
            f'<tr><td><a href="#{anchor(f.path)}">{esc(_short(site, f.path))}</a></td><td>{_word(f)}</td>'
            f"{_counts(f)}<td>{sections}</td></tr>"
        )
    body = [
        f"<h1>{esc(snap.subject)}</h1>",
        f'<p class="meta">{" · ".join(meta)}</p>',
        f"<h2>Files changed ({len(snap.files)})</h2>",
        f'<table class="list">{thead("Page", "Change", "+Added", "+Removed", "Sections")}'
        f"<tbody>{''.join(rows)}</tbody></table>",
    ]
    for f in snap.files:
        fd = by_path.get(f.path) or FileDiff(f.path, f.status, f.binary, ())
        source = safe_url(details.get(f.path, {}).get("source"))
        links = [f'<a href="{href("../pages/" + _slug(f.path) + ".html")}">history of this page</a>']
        if source:
            links.insert(0, f'<a href="{source}">{source}</a>')
        body += [
            f'<section class="file" aria-labelledby="{anchor(f.path)}">',
            f'<h2 id="{anchor(f.path)}">{esc(_short(site, f.path))} <span class="muted">({_word(f)})</span> '
            f"{stat_html(f.added, f.removed)}</h2>",
            f'<p class="meta">{" · ".join(links)}</p>',
            diff_html(fd, f, snap.sha),
            "</section>",
        ]
    crumbs = [("All sites", "index.html"), (site, f"{site}/index.html")]
    return page(f"{snap.subject} · {snap.sha[:10]}", "\n".join(body), root="../../", crumbs=crumbs, feed="../feed.xml")


def _timeline_page(site: str, snaps: list[Snapshot], cache: dict[str, Details]) -> str:
    body = [
        f"<h1>{esc(site)}</h1>",
        f'<p class="meta">{_count(len(snaps), "snapshot")} · <a href="feed.xml">Atom feed</a></p>',
        "<h2>Timeline</h2>",
    ]
    day = None
    for snap in snaps:
        if snap.date[:10] != day:
            if day is not None:
                body.append("</ul>")
            day = snap.date[:10]
            body += [f"<h3>{esc(day)}</h3>", '<ul class="timeline">']
        details = cache.get(snap.sha, {})
        sections = "; ".join(
            f"{_short(site, p)}: {', '.join(d['sections'])}" for p, d in details.items() if d.get("sections")
        )
        body.append(
            f'<li><a href="{href("snap/" + snap.sha + ".html")}">{esc(snap.date[11:16])} {esc(snap.subject)}</a> '
            + (RULES_BADGE if snap.rules else "")
            + f'<span class="muted">· {_count(len(snap.files), "file")} · '
            f"{stat_html(snap.lines_added, snap.lines_removed)} · "
            f"<code>{esc(snap.sha[:10])}</code></span>"
            + (f'<p class="sections">{esc(sections)}</p>' if sections else "")
            + "</li>"
        )
    if day is not None:
        body.append("</ul>")
    body.append("<h2>Pages</h2>")
    paths = sorted({f.path for s in snaps for f in s.files})
    body.append(
        "<ul>"
        + "".join(f'<li><a href="{href("pages/" + _slug(p) + ".html")}">{esc(_short(site, p))}</a></li>' for p in paths)
        + "</ul>"
    )
    return page(
        f"{site}: snapshots", "\n".join(body), root="../", crumbs=[("All sites", "index.html")], feed="feed.xml"
    )


def _page_history(site: str, path: str, versions: list[tuple[Snapshot, FileStat]], source: str | None) -> str:
    link = safe_url(source)
    body = [f"<h1>{esc(_short(site, path))}</h1>"]
    if link:
        body.append(f'<p class="meta">Source: <a href="{link}">{link}</a></p>')
    rows = [
        f'<tr><td class="num">{n}</td><td>{esc(_when(s.date))}</td>'
        f'<td><a href="{href("../snap/" + s.sha + ".html#" + anchor(path))}">{esc(s.sha[:10])}</a></td>'
        f"<td>{_word(f)}</td>{_counts(f)}</tr>"
        for n, (s, f) in enumerate(versions, 1)
    ]
    body += [
        f"<h2>Versions ({len(versions)}, oldest first)</h2>",
        f'<table class="list">{thead("+#", "Date", "Snapshot", "Change", "+Added", "+Removed")}'
        f"<tbody>{''.join(rows)}</tbody></table>",
    ]
    crumbs = [("All sites", "index.html"), (site, f"{site}/index.html")]
    return page(f"{_short(site, path)} · {site}", "\n".join(body), root="../../", crumbs=crumbs, feed="../feed.xml")


def _index_page(rows: list[tuple[str, int, str]]) -> str:
    cells = "".join(
        f'<tr><td><a href="{href(site + "/index.html")}">{esc(site)}</a></td><td class="num">{n}</td>'
        f'<td>{esc(_when(last))}</td><td><a href="{href(site + "/feed.xml")}">Atom</a></td></tr>'
        for site, n, last in rows
    )
    body = (
        '<h1>Archived documentation</h1><p class="meta"><a href="feed.xml">Atom feed of all sites</a></p>'
        '<table class="list"><thead><tr><th scope="col">Site</th><th scope="col" class="num">Snapshots</th>'
        f'<th scope="col">Last change</th><th scope="col">Feed</th></tr></thead><tbody>{cells}</tbody></table>'
    )
    return page("Archived documentation", body, root="", crumbs=[("All sites", "index.html")], feed="feed.xml")


def _load_cache(path: Path) -> dict[str, Details]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def build_report(
    repo_path: Path, out: Path, *, web_url: str | None = None, base_url: str | None = None, full: bool = False
) -> ReportResult:
    """Write (or update) the changes site for every site in the archive at ``repo_path`` into ``out``."""
    sites = [s for s in history.sites_in(repo_path) if SITE_NAME.match(s)]
    base = base_url.rstrip("/") + "/" if base_url else ""
    root_sha = history.root_commit(repo_path)
    rendered = total = 0
    overview: list[tuple[str, int, str]] = []
    everything: list[feeds.FeedEntry] = []
    for site in sites:
        snaps = history.snapshots(repo_path, site)
        total += len(snaps)
        cache, new = _snapshot_pages(repo_path, out / site, site, snaps, web_url, full)
        rendered += new
        _write(out / site / "snapshots.json", json.dumps(cache, indent=1, sort_keys=True))
        _write(out / site / "index.html", _timeline_page(site, snaps, cache))
        _page_histories(out / site, site, snaps, cache)
        # a re-render under new rules is archiver's change, not the docs': no entry in the docs feeds
        entries = [_feed_entry(site, s, cache[s.sha], web_url) for s in snaps if not s.rules]
        here = base + site + "/" if base else ""
        data = feeds.atom_feed(
            f"{site}: documentation changes",
            feeds.feed_id(site, root_sha),
            here + "feed.xml",
            here + "index.html",
            [_rebase(e, here) for e in entries],
        )
        feeds.write_feed(out / site / "feed.xml", data)
        everything += [_rebase(e, base + site + "/") for e in entries]
        if snaps:
            overview.append((site, len(snaps), snaps[0].date))
    _write(out / "index.html", _index_page(overview))
    everything.sort(key=lambda e: datetime.fromisoformat(e.date), reverse=True)
    feeds.write_feed(
        out / "feed.xml",
        feeds.atom_feed(
            "Documentation changes", feeds.feed_id("*", root_sha), base + "feed.xml", base + "index.html", everything
        ),
    )
    return ReportResult(out, len(sites), total, rendered)


def _snapshot_pages(
    repo_path: Path, folder: Path, site: str, snaps: list[Snapshot], web_url: str | None, full: bool
) -> tuple[dict[str, Details], int]:
    """Render the snapshot pages not rendered yet (all with ``full``); the details of every snapshot
    (read from ``snapshots.json`` where known) and how many pages were written."""
    cache = _load_cache(folder / "snapshots.json")
    rendered = 0
    for i, snap in enumerate(snaps):
        target = folder / "snap" / f"{snap.sha}.html"
        if full or not target.exists() or snap.sha not in cache:
            fds = parse_patch(history.patch(repo_path, site, snap.sha, full_context=True))
            cache[snap.sha] = _details(fds)
            if full or not target.exists():
                prev = snaps[i + 1] if i + 1 < len(snaps) else None
                _write(target, _snapshot_page(site, snap, prev, fds, cache[snap.sha], web_url))
                rendered += 1
    return {s.sha: cache[s.sha] for s in snaps}, rendered


def _page_histories(folder: Path, site: str, snaps: list[Snapshot], cache: dict[str, Details]) -> None:
    """One page per file that ever existed: its versions, newest first, and its source URL."""
    for path in {f.path for s in snaps for f in s.files}:
        versions = [(s, f) for s in reversed(snaps) for f in s.files if f.path == path]
        source = next((cache[s.sha][path].get("source") for s, _ in reversed(versions) if path in cache[s.sha]), None)
        _write(folder / "pages" / f"{_slug(path)}.html", _page_history(site, path, versions, source))


RULES_BADGE = '<span class="badge" title="re-rendered under new rules, not a change of the docs">rules</span> '


def _feed_entry(site: str, snap: Snapshot, details: Details, web_url: str | None) -> feeds.FeedEntry:
    summary = summary_text(site, snap, details)
    return feeds.FeedEntry(
        site, snap.sha, snap.date, snap.subject, summary, f"snap/{snap.sha}.html", commit_link(web_url, snap.sha)
    )


def _rebase(entry: feeds.FeedEntry, prefix: str) -> feeds.FeedEntry:
    return feeds.FeedEntry(
        entry.site, entry.sha, entry.date, entry.title, entry.summary, prefix + entry.link, entry.commit_link
    )
