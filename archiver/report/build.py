"""``archiver report``: a static HTML site of what changed, read from git, plus Atom feeds.

Layout of the output folder (every link relative, so it works from ``file://`` and any host)::

    index.html                        the sites: pages, base URL, last change, recent snapshots
    feed.xml                          Atom feed of every site's snapshots
    <site>/index.html                 day strip, timeline of snapshots by day, pages (removed ones: when, why)
    <site>/feed.xml                   the site's Atom feed
    <site>/watch-<name>.xml           a watch's Atom feed: only the snapshots that touch its scope
    <site>/watch-<name>.json          what each snapshot showed the watch (kept between builds)
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

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archiver import __version__
from archiver.archive import apichanges, history, layout, scope, search
from archiver.archive.patch import FileDiff, changed_sections, parse_patch, source_url
from archiver.config import SITE_NAME, Site
from archiver.files import write_atomic
from archiver.models import Snapshot
from archiver.report import feeds
from archiver.report.sitedata import (
    STATUS_WORD,
    Details,
    SiteData,
    anchor,
    history_file,
    short,
    version_file,
    watch_feed_file,
)
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
    site_configs: Sequence[Site] = (),
    when: str | None = None,
) -> ReportResult:
    """Write (or update) the changes site for every site in the archive at ``repo_path`` into ``out``
    (one repository for every site, or one per site: :mod:`archiver.archive.layout`);
    ``site_configs`` (the config's sites) gives each site's watches a feed. ``when``: a phrase (as
    ``archiver when`` takes it) marked in each page's history where it came in or went."""
    configured = {s.name: s for s in site_configs}
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
            {sha: found for sha, m in messages.items() if (found := apichanges.parse(m))},
            tuple(w.name for w in configured[site].watch) if site in configured else (),
            when,
            _marks(where, site, when) if when is not None else {},
        )
        parsed: dict[str, list[FileDiff]] = {}
        new = _snapshot_pages(where, out / site, data, full, parsed)
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
        if site in configured:
            _watch_feeds(
                where, out / site, data, configured[site], parsed, here, root_sha if where == repo_path else ""
            )
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


def _watch_cache(path: Path, key: list[object]) -> dict[str, list[str] | None]:
    """What each snapshot showed a watch, as the last build kept it (nothing if its key differs)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("seen"), dict):
        return {}
    return {sha: said if isinstance(said, list) else None for sha, said in data["seen"].items()}


def _snapshot_pages(
    repo_path: Path, folder: Path, data: SiteData, full: bool, parsed_out: dict[str, list[FileDiff]]
) -> int:
    """Render the snapshot pages not rendered yet (all with ``full``), and the page before the first
    new one again (its "next" link); fill ``data.details`` for every snapshot (from
    ``snapshots.json`` where known), and ``parsed_out`` with the patches it read. How many pages were new."""
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
    parsed_out.update({snaps[i].sha: fds for i, fds in parsed.items()})
    return len(new)


def _watch_feeds(
    repo_path: Path,
    folder: Path,
    data: SiteData,
    site: Site,
    parsed: dict[str, list[FileDiff]],
    here: str,
    root_sha: str,
) -> None:
    """One feed per watch of ``site``: the snapshots that touch its scope, each saying only that part.

    What each snapshot showed a watch is kept in ``watch-<name>.json`` (a commit never changes), so a
    build reads only new snapshots; it is thrown away when the watch (or archiver) changes."""
    keys: dict[str, list[object]] = {
        w.name: [__version__, list(w.pages), list(w.sections), site.base_url] for w in site.watch
    }
    caches = {w.name: _watch_cache(folder / f"watch-{w.name}.json", keys[w.name]) for w in site.watch}
    for snap in data.snaps:
        if not scope.counts(snap.kind) or all(snap.sha in seen for seen in caches.values()):
            continue
        if snap.sha not in parsed:
            parsed[snap.sha] = parse_patch(history.patch(repo_path, data.site, snap.sha, full_context=True))
        for watch in site.watch:
            pages = scope.scoped(watch, data.site, parsed[snap.sha], site.base_url)
            caches[watch.name][snap.sha] = (
                [scope.headline(data.site, watch, pages), *scope.describe(pages, 60)] if pages else None
            )
    root = root_sha or history.root_commit(repo_path)
    for watch in site.watch:
        seen = caches[watch.name]
        cache = {"key": keys[watch.name], "seen": seen}
        _write(folder / f"watch-{watch.name}.json", json.dumps(cache, indent=1, sort_keys=True))
        entries = []
        for snap in data.snaps:
            said = seen.get(snap.sha) if scope.counts(snap.kind) else None
            if said:
                summary = "\n".join([snap.subject, "", *said[1:]])
                link = data.commit_link(snap.sha)
                entry = feeds.FeedEntry(
                    data.site, snap.sha, snap.date, said[0], summary, f"snap/{snap.sha}.html", link, watch.name
                )
                entries.append(_rebase(entry, here))
        name = watch_feed_file(watch.name)
        feed = feeds.atom_feed(
            f"{data.site} · {watch.name}: {scope.describe_watch(watch)}",
            feeds.feed_id(f"{data.site}/watch/{watch.name}", root),
            here + name,
            here + "index.html",
            entries,
        )
        feeds.write_feed(folder / name, feed)


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
    return dataclasses.replace(entry, link=prefix + entry.link)
