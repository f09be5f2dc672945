"""``archiver report``: a static HTML site of what changed, read from git, plus Atom feeds.

Layout of the output folder (every link relative, so it works from ``file://`` and any host)::

    index.html                        the sites: pages, base URL, last change, recent snapshots
    feed.xml                          Atom feed of every site's snapshots
    <site>/index.html                 day strip, timeline of snapshots by day, pages (removed ones: when, why)
    <site>/feed.xml                   the site's Atom feed
    <site>/snap/<sha>.html            one snapshot: previous/next, its pages, sections, each page's diff
    <site>/pages/<slug>.html          one page's versions, newest first
    <site>/pages/<slug>/<blob>.html   one version of a page: its Markdown as HTML
    <site>/snapshots.json             what each snapshot changed (pages, sections, source URLs)

Regenerating is incremental: a snapshot page that exists is kept (a commit never changes), only
new ones are rendered, and the one before the first new one again (for its "next" link); a
version page is named after its content's blob, so it is written once. The indexes, page
histories and feeds are rewritten every time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archiver.archive import history, layout, search
from archiver.archive.patch import FileDiff, changed_sections, parse_patch, source_url
from archiver.config import SITE_NAME
from archiver.files import write_atomic
from archiver.models import Snapshot
from archiver.report import feeds
from archiver.report.sitedata import STATUS_WORD, Details, SiteData, anchor, history_file, short, version_file
from archiver.report.snapshot import snapshot_page
from archiver.report.views import history_page, index_page, timeline_page, version_page

__all__ = ["ReportResult", "anchor", "build_report", "summary_text"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What one ``build_report`` did."""

    out: Path
    sites: int
    snapshots: int
    rendered: int  # snapshot pages new this time (the others already existed)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8"))


def _details(fds: list[FileDiff]) -> Details:
    return {fd.path: {"sections": [] if fd.binary else changed_sections(fd), "source": source_url(fd)} for fd in fds}


def summary_text(site: str, snap: Snapshot, details: Details) -> str:
    """Plain text: the subject, then one line per page with what happened and the sections changed."""
    lines = [snap.subject, ""]
    for f in snap.files:
        sections = ", ".join(details.get(f.path, {}).get("sections", []))
        lines.append(
            f"{STATUS_WORD.get(f.status, f.status)} {short(site, f.path)}" + (f": {sections}" if sections else "")
        )
    return "\n".join(lines)


def _load_cache(path: Path) -> dict[str, Details]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def build_report(
    repo_path: Path,
    out: Path,
    *,
    web_url: str | None = None,
    base_url: str | None = None,
    full: bool = False,
    when: str | None = None,
) -> ReportResult:
    """Write (or update) the changes site for every site in the archive at ``repo_path`` into ``out``
    (one repository for every site, or one per site: :mod:`archiver.archive.layout`). ``when``: a
    phrase (as ``archiver when`` takes it) marked in each page's history where it came in or went."""
    repos = {name: path for name, path in layout.site_repos(repo_path).items() if SITE_NAME.match(name)}
    sites = list(repos)
    base = base_url.rstrip("/") + "/" if base_url else ""
    # the whole report's feed is named after the archive's first commit (per site: the smallest one)
    root_sha = min((history.root_commit(p) for p in set(repos.values())), default="")
    rendered = total = 0
    shown: list[SiteData] = []
    everything: list[feeds.FeedEntry] = []
    for site, where in repos.items():
        snaps = history.snapshots(where, site)
        total += len(snaps)
        messages = history.messages(where, site)
        data = SiteData(
            site,
            snaps,
            {},
            {sha: {f"{site}/{p.path}": p for p in history.message_pages(m)} for sha, m in messages.items()},
            history.file_blobs(where, site),
            history.trailer(messages[snaps[0].sha], "Source") if snaps and snaps[0].sha in messages else None,
            web_url,
            when,
            _marks(where, site, when) if when is not None else {},
        )
        new = _snapshot_pages(where, out / site, data, full)
        rendered += new
        _write(out / site / "snapshots.json", json.dumps(data.details, indent=1, sort_keys=True))
        _version_pages(where, out / site, data, full)
        _write(out / site / "index.html", timeline_page(data))
        for path, versions in data.versions().items():
            _write(out / site / history_file(path), history_page(data, path, versions))
        # a re-render under new rules is archiver's change, not the docs': no entry in the docs feeds
        entries = [_feed_entry(site, s, data.details[s.sha], web_url) for s in snaps if not s.rules]
        here = base + site + "/" if base else ""
        feed = feeds.atom_feed(
            f"{site}: documentation changes",
            feeds.feed_id(site, root_sha if where == repo_path else history.root_commit(where)),
            here + "feed.xml",
            here + "index.html",
            [_rebase(e, here) for e in entries],
        )
        feeds.write_feed(out / site / "feed.xml", feed)
        everything += [_rebase(e, base + site + "/") for e in entries]
        if snaps:
            shown.append(data)
    _write(out / "index.html", index_page(shown))
    everything.sort(key=lambda e: datetime.fromisoformat(e.date), reverse=True)
    feeds.write_feed(
        out / "feed.xml",
        feeds.atom_feed(
            "Documentation changes", feeds.feed_id("*", root_sha), base + "feed.xml", base + "index.html", everything
        ),
    )
    return ReportResult(out, len(sites), total, rendered)


def _marks(repo_path: Path, site: str, phrase: str) -> dict[tuple[str, str], tuple[str, str]]:
    """Where ``phrase`` came into or went from each page of ``site``: (sha, path) -> (change, line)."""
    found, _ = search.when(repo_path, phrase, [site])
    return {(a.sha, f"{site}/{a.page}"): (a.change, a.line) for a in found}


def _snapshot_pages(repo_path: Path, folder: Path, data: SiteData, full: bool) -> int:
    """Render the snapshot pages not rendered yet (all with ``full``), and the page before the first
    new one again (its "next" link); fill ``data.details`` for every snapshot (from
    ``snapshots.json`` where known). How many pages were new."""
    cache = _load_cache(folder / "snapshots.json")
    snaps = data.snaps
    new = {i for i, s in enumerate(snaps) if full or not (folder / "snap" / f"{s.sha}.html").exists()}
    again = {i + 1 for i in new if i + 1 < len(snaps)} - new
    parsed: dict[int, list[FileDiff]] = {}
    for i, snap in enumerate(snaps):
        if i in new or i in again or snap.sha not in cache:
            parsed[i] = parse_patch(history.patch(repo_path, data.site, snap.sha, full_context=True))
            cache[snap.sha] = _details(parsed[i])
        data.details[snap.sha] = cache[snap.sha]
    for i in sorted(new | again):  # (after the loop: a page names its neighbours' sections)
        _write(folder / "snap" / f"{snaps[i].sha}.html", snapshot_page(data, i, parsed[i]))
    return len(new)


def _version_pages(repo_path: Path, folder: Path, data: SiteData, full: bool) -> None:
    """One page per version of each page (per blob), written once: a blob's content never changes."""
    wanted: dict[str, list[str]] = {}  # blob -> the paths it is a version of
    for path, versions in data.versions().items():
        for v in versions:
            if v.after and not v.stat.binary and (full or not (folder / version_file(path, v.after)).exists()):
                paths = wanted.setdefault(v.after, [])
                if path not in paths:
                    paths.append(path)
    for blob, content in history.read_blobs(repo_path, sorted(wanted)):
        for path in wanted[blob]:
            _write(folder / version_file(path, blob), version_page(data.site, path, content))


def _feed_entry(site: str, snap: Snapshot, details: Details, web_url: str | None) -> feeds.FeedEntry:
    summary = summary_text(site, snap, details)
    link = web_url.replace("{sha}", snap.sha) if web_url else None
    return feeds.FeedEntry(site, snap.sha, snap.date, snap.subject, summary, f"snap/{snap.sha}.html", link)


def _rebase(entry: feeds.FeedEntry, prefix: str) -> feeds.FeedEntry:
    return feeds.FeedEntry(
        entry.site, entry.sha, entry.date, entry.title, entry.summary, prefix + entry.link, entry.commit_link
    )
