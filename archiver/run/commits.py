"""The words a run leaves behind: its commit messages, its notes and the summary kept in state."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from archiver import __version__
from archiver.archive import apichanges, scope
from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import PageState
from archiver.config import Site
from archiver.models import ApiChange, FileStat, PageResult, PageStatus, SiteReport
from archiver.text import one_line

UNLISTED = "no longer listed"  # how a page discovery no longer finds is said (run/apply.py)

_WHY = {
    "source-markdown": (
        "now archived from its Markdown source",
        "The site publishes these pages' Markdown (the text their authors write), and archiver now\n"
        "archives that instead of the Markdown it converts from the rendered HTML.",
    ),
    "source-html": (
        "now archived from its HTML",
        "These pages' Markdown source is no longer published (or source: html was set), so archiver\n"
        "now archives the Markdown it converts from their rendered HTML.",
    ),
    "rules": (
        "re-rendered under new rules",
        "The site's conversion rules changed (its content/strip/ignore settings or archiver's converter).",
    ),
    "chrome": (
        "re-rendered without the site's chrome",
        "The blocks that recur on most of the site's pages (menus, sidebars, banners), which archiver\n"
        "leaves out of every page as the site's chrome, changed.",
    ),
}


def _pages(n: int) -> str:
    return f"{n} page{'s' if n != 1 else ''}"


def subject(
    site: str, results: list[PageResult], stats: list[FileStat], *, rules: str | None = None, first: bool = False
) -> str:
    """What a commit did, in the words a timeline shows: ``docs: first snapshot, 76 pages``,
    ``docs: 1 page removed``, ``docs: 16 changed, 1 added (+184 −109)``; a re-render says why."""
    added = sum(s.added for s in stats)
    removed = sum(s.removed for s in stats)
    lines = f"(+{added} −{removed})"
    if rules:
        return f"{site}: {_WHY[rules][0]}, {_pages(len(stats))} changed {lines}"
    if first:
        return f"{site}: first snapshot, {_pages(len(stats))}"
    kinds = [
        (sum(1 for r in results if r.status is status), word)
        for status, word in (
            (PageStatus.CHANGED, "changed"),
            (PageStatus.ADDED, "added"),
            (PageStatus.MOVED, "moved"),
            (PageStatus.REMOVED, "removed"),
        )
    ]
    kinds = [(n, word) for n, word in kinds if n]
    if not kinds or sum(n for n, _ in kinds) != len(stats):  # (a recovery, a file without a page)
        return f"{site}: {_pages(len(stats))} changed {lines}"
    if len(kinds) == 1:
        n, word = kinds[0]
        return f"{site}: {_pages(n)} {word}" + ("" if word == "removed" else f" {lines}")
    return f"{site}: {', '.join(f'{n} {word}' for n, word in kinds)} {lines}"


def commit_message(
    site: Site,
    results: list[PageResult],
    stats: list[FileStat],
    *,
    rules: str | None = None,
    chrome: list[str] | None = None,
    first: bool = False,
    api: dict[str, list[ApiChange]] | None = None,
) -> str:
    """The subject says what happened (:func:`subject`), then the pages by kind, then what changed
    in each API spec (``archive.apichanges``), then trailers.

    ``rules`` (``"rules"`` or ``"chrome"``) marks a re-render from the stored bodies; ``chrome``
    lists how the site's chrome changed (``+ text``, ``- text``); ``api``: spec file → its changes."""
    lines = [subject(site.name, results, stats, rules=rules, first=first), ""]
    if rules:
        how = (
            ["These pages were fetched from their other source:"]
            if rules.startswith("source")
            else ["These pages were re-rendered from their stored raw bodies, without fetching:"]
        )
        lines += [_WHY[rules][1], *how, "this commit records a change of rules, not a change of the docs.", ""]
    if chrome:
        lines += ["Site chrome (left out of every page):", *(one_line(f"{c}") for c in chrome), ""]
    groups = (
        ("Added", PageStatus.ADDED),
        ("Changed", PageStatus.CHANGED),
        ("Moved", PageStatus.MOVED),
        ("Removed", PageStatus.REMOVED),
    )
    for title, status in groups:
        group = sorted((r for r in results if r.status is status), key=lambda r: r.path)
        if group:
            lines.append(f"{title}:")
            for r in group:
                said = status in (PageStatus.REMOVED, PageStatus.MOVED) or (r.error or "").startswith(UNLISTED)
                why = f" ({r.error})" if said and r.error else ""
                lines.append(one_line(f"- {r.path}  {r.url}{why}").rstrip())  # outside text: one line, always
            lines.append("")
    staged = {s.path for s in stats}
    for path, changes in sorted((api or {}).items()):
        if f"{site.name}/{path}" in staged:  # (a spec whose new version was refused, or written back unchanged, is not)
            lines += [*apichanges.summary(path, changes), ""]
    kind = "rules" if rules else "docs"
    lines += [f"Source: {site.base_url}", f"Change-Kind: {kind}", f"Archived-By: archiver {__version__}", ""]
    return "\n".join(lines)


def commit_site(repo: ArchiveRepo, site: Site, report: SiteReport, *, rules: str | None = None) -> None:
    """Stage the site's folder and, if anything changed, commit it; the commit and its line counts
    go into ``report``."""
    stats = repo.stage_site(site.name)
    if stats:  # (asked only now: a run that changed nothing starts no git for it)
        first = not repo.has_history(site.name)
        message = commit_message(
            site, report.results, stats, rules=rules, chrome=report.chrome, first=first, api=report.api
        )
        report.commit = repo.commit(message)
        report.lines_added = sum(s.added for s in stats)
        report.lines_removed = sum(s.removed for s in stats)


_QUIET = (PageStatus.ADDED, PageStatus.CHANGED, PageStatus.UNCHANGED)


def notes(results: list[PageResult]) -> list[str]:
    """Notes on pages that were archived fine, each said once with how many pages it concerns."""
    seen: dict[str, list[str]] = {}
    for r in results:
        if r.status in _QUIET and r.error:
            seen.setdefault(r.error, []).append(r.url)
    return [f"{note} ({len(urls)} page{'s' if len(urls) != 1 else ''}, e.g. {urls[0]})" for note, urls in seen.items()]


def watch_notes(site: Site, folder: Path, pages: dict[str, PageState]) -> list[str]:
    """Notes on the site's watches that see nothing of what the site has after this run (globs that
    match no page, sections no page in scope has: :func:`archive.scope.notes`), each said once."""
    if not site.watch:
        return []
    files = {ps.path: url for url, ps in sorted(pages.items()) if ps.path and (folder / ps.path).is_file()}

    def read(path: str) -> str | None:
        try:
            return (folder / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    return [note for watch in site.watch for note in scope.notes(watch, files, site.base_url, read)]


def run_summary(report: SiteReport) -> dict[str, object]:
    """What the state keeps of a site's last run (``archiver status`` shows it)."""
    counts = {s.value: report.count(s) for s in PageStatus}
    return {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": report.commit,
        "pages": len(report.results),
        "error": report.error,
        "rendered": report.rendered,
        **counts,
    }
