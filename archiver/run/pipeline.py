"""One run of one site, end to end; the only module that knows the stage order.

discover ─► plan jobs (paths, conditional headers from state) ─► fetch + convert (in worker
processes for big sites) ─► write / remove files ─► one commit ─► save state.

Fetching and converting happen together in each worker: a worker's event loop keeps a few
requests in flight while it converts the bodies that have arrived, so downloads hide behind
conversion and every core is busy. The main process only writes files and talks to git. A page
that fails becomes a result, never an exception; only a failed discovery fails the whole site
(and then nothing is removed).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from archiver import __version__
from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import BodyStore, PageState, SiteState, StateStore
from archiver.config import Config, Site
from archiver.convert.page import page_markdown
from archiver.errors import ArchiverError, ConvertError, FetchError, LockedError
from archiver.fetch.discover import Discovery, discover_pages, listed_pages
from archiver.models import (
    FileStat,
    OutcomeKind,
    PageJob,
    PageOutcome,
    PageResult,
    PageStatus,
    RunReport,
    SiteReport,
)
from archiver.paths import assign_paths, binary_path, page_key, relative_path
from archiver.run.worker import execute, fetcher_for, rules_fingerprint, rules_of

__all__ = ["NullProgress", "Progress", "discover", "rerender", "rules_of", "run", "run_site"]

logger = logging.getLogger(__name__)

NEAR_EMPTY_BEFORE = 200  # characters of text a page must have had ...
NEAR_EMPTY_AFTER = 80  # ... to be refused when it comes back with fewer than this


class Progress(Protocol):
    """Receives progress events; the CLI draws a bar or prints lines, tests may record them."""

    def site_started(self, site: str, total: int) -> None: ...
    def page_done(self, site: str, result: PageResult) -> None: ...
    def site_finished(self, report: SiteReport) -> None: ...


class NullProgress:
    """A Progress that ignores everything (quiet mode, library use)."""

    def site_started(self, site: str, total: int) -> None:
        pass

    def page_done(self, site: str, result: PageResult) -> None:
        pass

    def site_finished(self, report: SiteReport) -> None:
        pass


# --- the run of one site (main process) ---------------------------------------------------------


def _read_text(repo: ArchiveRepo, site: str, rel: str) -> str | None:
    data = repo.read_page(site, rel)
    return None if data is None else data.decode("utf-8", errors="replace")


def _content_length(markdown: str) -> int:
    """Characters of text after the front matter (how much page there is)."""
    if markdown.startswith("---\n"):
        end = markdown.find("\n---\n", 4)
        markdown = markdown[end + 5 :] if end >= 0 else markdown
    return len(markdown.strip())


def _came_back_empty(old: str | None, new: str) -> bool:
    """A page that had content and now has (almost) none is a broken deploy, not a change."""
    if old is None:
        return False
    before, after = _content_length(old), _content_length(new)
    return before >= NEAR_EMPTY_BEFORE and after < min(NEAR_EMPTY_AFTER, before // 10)


class _Run:
    """The mutable state of one site's run: what it found, wrote and decided (main process only)."""

    def __init__(self, site: Site, repo: ArchiveRepo, state: SiteState, mapping: dict[str, str]) -> None:
        self.site, self.repo, self.state, self.mapping = site, repo, state, mapping
        self.report = SiteReport(site.name)
        self.pages: dict[str, PageState] = {}
        self.keys = {page_key(site.base_url, u): u for u in mapping}
        self.owner: dict[str, str] = {}  # file path -> the listed URL archived in it (see claim)

    def claim(self, jobs: list[PageJob]) -> None:
        # a URL owns its own natural path first; a page that moved owns its new path if nobody does
        self.owner = {rel: url for url, rel in self.mapping.items()}
        for job in jobs:
            self.owner.setdefault(job.path, job.url)

    def remove(self, url: str, path: str) -> bool:
        """Remove ``url``'s file, unless another listed page lives in it now (after a move)."""
        if self.owner.get(path, url) != url:
            return False
        return self.repo.remove_page(self.site.name, path)

    def target(self, job: PageJob, final_url: str | None) -> tuple[str | None, str | None]:
        """Where the page's file belongs after redirects: (path, error). Moves stay in the site."""
        if not final_url or final_url == job.url:
            return job.path, None
        if not final_url.startswith(self.site.base_url):
            return None, f"redirects off-site to {final_url}; not followed into the archive"
        key = page_key(self.site.base_url, final_url)
        if key == page_key(self.site.base_url, job.url):
            return job.path, None
        owner = self.keys.get(key)
        if owner is not None:
            return self.mapping[owner], None  # the page it moved to is listed itself: one file
        rel = relative_path(self.site.base_url, final_url)
        taken = set(self.mapping.values()) - {job.path}
        return (job.path if rel in taken else rel), None

    def apply(self, outcome: PageOutcome, links: list[str] | None) -> PageResult:
        """Write, move or remove one page's file according to its outcome; update its state."""
        site, repo, job = self.site, self.repo, outcome.job
        ps = self.pages[job.url] = self.state.pages.get(job.url) or PageState()
        ps.path = ps.path or job.path
        if links is not None:
            ps.links = links
        kind = outcome.kind
        if kind is OutcomeKind.FAILED or kind is OutcomeKind.SKIPPED:
            status = PageStatus.FAILED if kind is OutcomeKind.FAILED else PageStatus.SKIPPED
            if status is PageStatus.FAILED:
                ps.failures += 1
                ps.error = outcome.error
            ps.status = status.value
            return PageResult(job.url, job.path, status, outcome.error)
        if kind is OutcomeKind.BINARY:
            return self.keep_bytes(outcome, ps)
        if kind is OutcomeKind.GONE:
            ps.gone += 1
            ps.failures, ps.error = 0, None
            ps.etag = ps.last_modified = ps.body_hash = None
            status = PageStatus.GONE
            if ps.gone >= site.remove_after and self.remove(job.url, job.path):
                status = PageStatus.REMOVED
            ps.status = status.value
            return PageResult(job.url, job.path, status, f"gone: {outcome.error}")
        target, error = self.target(job, outcome.final_url)
        if target is None:
            ps.failures += 1
            ps.error = f"{job.url}: {error}"
            ps.status = PageStatus.FAILED.value
            return PageResult(job.url, job.path, PageStatus.FAILED, ps.error)
        old = _read_text(repo, site.name, job.path)
        markdown = outcome.markdown if kind is OutcomeKind.CONVERTED else old
        if markdown is not None and _came_back_empty(old, markdown):
            ps.failures += 1
            ps.error = f"{job.url}: came back (nearly) empty; the last snapshot is kept"
            ps.status = PageStatus.FAILED.value
            return PageResult(job.url, job.path, PageStatus.FAILED, ps.error)
        ps.failures, ps.gone, ps.error = 0, 0, None
        ps.etag, ps.last_modified, ps.body_hash = outcome.etag, outcome.last_modified, outcome.body_hash
        ps.twin, ps.content_type = outcome.twin, outcome.content_type or ps.content_type
        status = PageStatus.UNCHANGED
        if markdown is not None and (kind is OutcomeKind.CONVERTED or target != job.path):
            status = repo.write_page(site.name, target, markdown)
        ps.path = target
        self.owner.setdefault(target, job.url)
        if target != job.path and self.remove(job.url, job.path):
            ps.status = PageStatus.MOVED.value
            return PageResult(
                job.url, target, PageStatus.MOVED, f"moved from {job.path} (redirects to {outcome.final_url})"
            )
        ps.status = status.value
        return PageResult(job.url, target, status, outcome.error)  # error: a note, e.g. "stored as text"

    def keep_bytes(self, outcome: PageOutcome, ps: PageState) -> PageResult:
        """Store what is not a page as it came (``store_binary``), under the URL's own file name."""
        job = outcome.job
        assert outcome.body is not None
        target = binary_path(job.path)
        status = self.repo.write_bytes(self.site.name, target, outcome.body)
        if target != job.path:  # it used to be a page: its Markdown goes
            self.remove(job.url, job.path)
        self.owner.setdefault(target, job.url)
        ps.failures, ps.gone, ps.error = 0, 0, None
        ps.etag, ps.last_modified, ps.body_hash = outcome.etag, outcome.last_modified, outcome.body_hash
        ps.content_type, ps.path, ps.status = outcome.content_type, target, status.value
        return PageResult(job.url, target, status)

    def unlisted(self) -> None:
        """Pages the last run had that discovery no longer finds: removed after ``remove_after`` runs."""
        for url, ps in sorted(self.state.pages.items()):
            if url in self.mapping or not ps.path:
                continue
            ps.gone += 1
            if ps.gone >= self.site.remove_after:
                if self.remove(url, ps.path):
                    self.report.results.append(
                        PageResult(url, ps.path, PageStatus.REMOVED, "no longer listed", fetched=False)
                    )
                continue
            self.pages[url] = ps  # remembered until it is removed (or comes back)
            if self.repo.has_page(self.site.name, ps.path):
                why = f"no longer listed ({ps.gone} of {self.site.remove_after} runs before removal)"
                self.report.results.append(PageResult(url, ps.path, PageStatus.GONE, why, fetched=False))

    def strays(self, archived: set[str]) -> None:
        """Files no page accounts for (a page dropped from an older config, a crashed run's leftovers)."""
        claimed = {ps.path for ps in self.pages.values() if ps.path} | {r.path for r in self.report.results}
        for rel in sorted(archived - claimed):
            if self.repo.remove_page(self.site.name, rel):
                self.report.results.append(PageResult("", rel, PageStatus.REMOVED, "no longer listed", fetched=False))


def _plan(site: Site, repo: ArchiveRepo, state: SiteState, mapping: dict[str, str], found: Discovery) -> list[PageJob]:
    jobs = []
    for url, rel in mapping.items():
        ps = state.pages.get(url)
        path = ps.path if ps and ps.path else rel
        prefetched = found.prefetched.get(url)
        if ps is None or not repo.has_page(site.name, path):
            # never archived, or its file was lost: fetch in full (a crawl's 304 can't be used)
            if prefetched is not None and prefetched.not_modified:
                prefetched = None
            jobs.append(PageJob(url, path, prefetched=prefetched))
            continue
        jobs.append(PageJob(url, path, ps.etag, ps.last_modified, ps.body_hash, ps.twin, prefetched))
    return jobs


def _known(
    site: Site, repo: ArchiveRepo, state: SiteState
) -> dict[str, tuple[str | None, str | None, list[str] | None]]:
    """What a crawl may ask conditionally: pages whose file is still there."""
    return {
        url: (ps.etag, ps.last_modified, ps.links)
        for url, ps in state.pages.items()
        if ps.path and not ps.twin and repo.has_page(site.name, ps.path)
    }


def discover(site: Site, repo: ArchiveRepo | None = None) -> Discovery:
    """Find the site's pages (explicit, sitemap, llms.txt, crawl); FetchError if a source fails."""
    if not site.discovers:  # only hand-listed pages: nothing to ask the network
        return listed_pages(site)
    state = StateStore(repo.state_dir).load(site.name) if repo else SiteState()
    known = _known(site, repo, state) if repo else {}

    async def go() -> Discovery:
        async with fetcher_for(site) as fetcher:
            return await discover_pages(site, fetcher, known)

    return asyncio.run(go())


def commit_message(site: Site, results: list[PageResult], stats: list[FileStat], *, rules: bool = False) -> str:
    """Subject ``<site>: N pages changed (+A −R)``, then the pages by kind, then trailers."""
    added = sum(s.added for s in stats)
    removed = sum(s.removed for s in stats)
    n = len(stats)
    what = "re-rendered under new rules, " if rules else ""
    lines = [f"{site.name}: {what}{n} page{'s' if n != 1 else ''} changed (+{added} −{removed})", ""]
    if rules:
        lines += [
            "The site's conversion rules changed (its content/strip/ignore settings or archiver's",
            "converter). These pages were re-rendered from their stored raw bodies, without fetching:",
            "this commit records a change of rules, not a change of the docs.",
            "",
        ]
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
                why = f" ({r.error})" if status in (PageStatus.REMOVED, PageStatus.MOVED) and r.error else ""
                lines.append(f"- {r.path}  {r.url}{why}".rstrip())
            lines.append("")
    kind = "rules" if rules else "docs"
    lines += [f"Source: {site.base_url}", f"Change-Kind: {kind}", f"Archived-By: archiver {__version__}", ""]
    return "\n".join(lines)


def rerender_site(site: Site, repo: ArchiveRepo, state: SiteState) -> SiteReport:
    """Re-apply the site's current rules to the stored raw bodies; one commit marked as a rules change."""
    report = SiteReport(site.name)
    bodies = BodyStore(repo.bodies_dir(site.name))
    rules = rules_of(site)
    for url, ps in sorted(state.pages.items()):
        body = bodies.get(url)
        if not ps.path or body is None or not repo.has_page(site.name, ps.path):
            ps.etag = ps.last_modified = ps.body_hash = None  # no stored body: fetch it in full next time
            continue
        content_type = "text/markdown" if ps.twin else (ps.content_type or "text/html")
        try:
            markdown, _ = page_markdown(body, content_type, url, rules)
        except ConvertError as exc:
            report.results.append(PageResult(url, ps.path, PageStatus.FAILED, f"{url}: {exc}", fetched=False))
            continue
        status = repo.write_page(site.name, ps.path, markdown)
        report.results.append(PageResult(url, ps.path, status, fetched=False))
    stats = repo.stage_site(site.name)
    if stats:
        message = commit_message(site, report.results, stats, rules=True)
        report.commit = repo.commit(message)
        report.lines_added = sum(s.added for s in stats)
        report.lines_removed = sum(s.removed for s in stats)
    state.rules = rules_fingerprint(site)
    return report


def rerender(repo: ArchiveRepo, site: Site, wait: float = 0.0) -> SiteReport:
    """``archiver rerender``: re-render a site from its stored bodies under the repository lock."""
    with repo.lock(wait=wait):
        store = StateStore(repo.state_dir)
        state = store.load(site.name)
        repo.recover(site.name)
        report = rerender_site(site, repo, state)
        store.save(site.name, state)
    return report


def run_site(
    site: Site,
    repo: ArchiveRepo,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> SiteReport:
    """Archive one site into ``repo`` (whose lock the caller holds); one commit if anything changed."""
    progress = progress or NullProgress()
    store = StateStore(repo.state_dir)
    state = store.load(site.name)
    recovered = repo.recover(site.name)
    fingerprint = rules_fingerprint(site)
    rules_commit = None
    if state.rules is not None and state.rules != fingerprint:
        # new rules: re-render what we have first, as its own commit, so the docs history stays readable
        rules_commit = rerender_site(site, repo, state).commit
        store.save(site.name, state)
    try:
        found = discover(site, repo)
    except FetchError as exc:
        report = SiteReport(site.name, error=f"page discovery failed, nothing removed: {exc}", recovered=recovered)
        progress.site_finished(report)
        return report
    mapping = assign_paths(site.base_url, found.urls)
    archived = repo.page_files(site.name)
    if not mapping and archived:
        report = SiteReport(site.name, error=f"no pages found; refusing to remove the {len(archived)} archived pages")
        progress.site_finished(report)
        return report

    work = _Run(site, repo, state, mapping)
    work.report.recovered = recovered
    work.report.rules_commit = rules_commit
    jobs = _plan(site, repo, state, mapping, found)
    work.claim(jobs)
    progress.site_started(site.name, len(jobs))

    def handle(outcome: PageOutcome) -> None:
        result = work.apply(outcome, found.links.get(outcome.job.url))
        work.report.results.append(result)
        progress.page_done(site.name, result)

    execute(site, jobs, workers, handle, BodyStore(repo.bodies_dir(site.name)))
    work.unlisted()
    work.strays(archived)
    report = work.report
    report.notes = _notes(report.results)
    stats = repo.stage_site(site.name)
    if stats:
        report.commit = repo.commit(commit_message(site, report.results, stats))
        report.lines_added = sum(s.added for s in stats)
        report.lines_removed = sum(s.removed for s in stats)
    state.pages = work.pages
    state.rules = fingerprint
    state.last_run = _summary(report)
    store.save(site.name, state)
    progress.site_finished(report)
    return report


_QUIET = (PageStatus.ADDED, PageStatus.CHANGED, PageStatus.UNCHANGED)


def _notes(results: list[PageResult]) -> list[str]:
    """Notes on pages that were archived fine, each said once with how many pages it concerns."""
    seen: dict[str, list[str]] = {}
    for r in results:
        if r.status in _QUIET and r.error:
            seen.setdefault(r.error, []).append(r.url)
    return [f"{note} ({len(urls)} page{'s' if len(urls) != 1 else ''}, e.g. {urls[0]})" for note, urls in seen.items()]


def _summary(report: SiteReport) -> dict[str, object]:
    counts = {s.value: report.count(s) for s in PageStatus}
    return {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": report.commit,
        "pages": len(report.results),
        "error": report.error,
        **counts,
    }


def run(
    config: Config,
    repo: ArchiveRepo,
    sites: Sequence[Site] | None = None,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    wait: float = 0.0,
    stop: threading.Event | None = None,
) -> RunReport:
    """Archive ``sites`` (default: all of ``config``'s) one after another under the repository lock
    (waited for up to ``wait`` s, or until ``stop`` is set).

    Commits are by the repository's identity: open it with ``identity=config.identity``.
    """
    workers = workers or os.cpu_count() or 1
    reports: list[SiteReport] = []
    with repo.lock(wait=wait, stop=stop):
        for site in sites if sites is not None else config.sites:
            try:
                reports.append(run_site(site, repo, workers=workers, progress=progress))
            except LockedError:
                raise
            except ArchiverError as exc:
                # one broken site (say its folder became unwritable) must not stop the others
                logger.error("%s: %s", site.name, exc)
                failed = SiteReport(site.name, error=str(exc))
                reports.append(failed)
                (progress or NullProgress()).site_finished(failed)
    return RunReport(reports)
