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
import hashlib
import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from typing import Protocol

from archiver import __version__
from archiver.config import Config, Site
from archiver.convert import CONVERTER_VERSION, Rules, to_markdown
from archiver.discover import discover_pages
from archiver.errors import ArchiverError, ConvertError, FetchError, LockedError
from archiver.fetch import Fetcher
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
from archiver.paths import assign_paths
from archiver.state import PageState, SiteState, StateStore
from archiver.store import ArchiveRepo

logger = logging.getLogger(__name__)

MIN_PAGES_PER_WORKER = 16  # below this a worker process costs more than it saves


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


def rules_of(site: Site) -> Rules:
    return Rules(content=tuple(site.content), strip=tuple(site.strip_selectors))


def rules_fingerprint(site: Site) -> str:
    """Identifies the conversion rules; a body hash is only trusted under the same rules."""
    rules = rules_of(site)
    text = "\x1f".join([CONVERTER_VERSION, *rules.content, "\x1e", *rules.strip])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fetcher_for(site: Site, concurrency: int | None = None) -> Fetcher:
    return Fetcher(
        concurrency=concurrency or site.concurrency,
        delay=site.delay,
        timeout=site.timeout,
        retries=site.retries,
        max_bytes=site.max_bytes,
        max_redirects=site.max_redirects,
        user_agent=site.user_agent,
    )


# --- fetch + convert (runs in workers) ----------------------------------------------------------


async def process_page(fetcher: Fetcher, job: PageJob, rules: Rules) -> PageOutcome:
    """Fetch one page and convert it unless it is unchanged; never raises for a page's failure."""
    try:
        page = await fetcher.fetch(job.url, etag=job.etag, last_modified=job.last_modified)
    except FetchError as exc:
        return PageOutcome(job, OutcomeKind.FAILED, error=str(exc))
    if page.not_modified:
        return PageOutcome(
            job,
            OutcomeKind.NOT_MODIFIED,
            etag=job.etag,
            last_modified=job.last_modified,
            body_hash=job.body_hash,
        )
    if page.gone:
        return PageOutcome(job, OutcomeKind.GONE, error=f"HTTP {page.status_code}")
    digest = hashlib.sha256(page.body).hexdigest()
    common = {"etag": page.etag, "last_modified": page.last_modified, "body_hash": digest}
    if digest == job.body_hash:
        return PageOutcome(job, OutcomeKind.SAME_BODY, final_url=page.final_url, **common)
    try:
        markdown = to_markdown(page.body, page.content_type, job.url, rules)
    except ConvertError as exc:
        return PageOutcome(job, OutcomeKind.FAILED, error=f"{job.url}: {exc}")
    except Exception as exc:  # a converter bug must cost one page, never the site's run
        logger.exception("converting %s failed", job.url)
        return PageOutcome(job, OutcomeKind.FAILED, error=f"{job.url}: cannot convert: {type(exc).__name__}: {exc}")
    return PageOutcome(job, OutcomeKind.CONVERTED, markdown=markdown, final_url=page.final_url, **common)


async def process_jobs(
    fetcher: Fetcher, jobs: Sequence[PageJob], rules: Rules, on_outcome: Callable[[PageOutcome], None]
) -> None:
    """Process ``jobs`` concurrently (the fetcher bounds requests in flight)."""

    async def one(job: PageJob) -> None:
        on_outcome(await process_page(fetcher, job, rules))

    await asyncio.gather(*(one(job) for job in jobs))


# A worker process keeps one event loop and one Fetcher (so keep-alive connections) for its life.
_worker: dict[str, object] = {}


def _worker_init(site: Site, concurrency: int) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _worker.update(loop=loop, site=site, concurrency=concurrency, rules=rules_of(site))


def _worker_run(jobs: list[PageJob]) -> list[PageOutcome]:
    loop = _worker["loop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)
    site = _worker["site"]
    assert isinstance(site, Site)
    if "fetcher" not in _worker:
        _worker["fetcher"] = fetcher_for(site, int(str(_worker["concurrency"])))
    fetcher = _worker["fetcher"]
    assert isinstance(fetcher, Fetcher)
    rules = _worker["rules"]
    assert isinstance(rules, Rules)
    out: list[PageOutcome] = []
    loop.run_until_complete(process_jobs(fetcher, jobs, rules, out.append))
    return out


def execute(site: Site, jobs: list[PageJob], workers: int, on_outcome: Callable[[PageOutcome], None]) -> None:
    """Call ``on_outcome`` (in this process) for every job, using up to ``workers`` processes."""
    workers = min(workers, len(jobs) // MIN_PAGES_PER_WORKER)
    if workers <= 1 or site.delay > 0:
        # small site, or a politeness delay that must hold across all requests: one process

        async def run() -> None:
            async with fetcher_for(site) as fetcher:
                await process_jobs(fetcher, jobs, rules_of(site), on_outcome)

        asyncio.run(run())
        return
    per_worker = max(1, math.ceil(site.concurrency / workers))
    size = max(4, min(16, len(jobs) // (workers * 16)))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    # fork: workers start at once with every module already imported (spawn would re-import)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init, initargs=(site, per_worker)) as pool:
        futures = [pool.submit(_worker_run, chunk) for chunk in chunks]
        for future in as_completed(futures):
            for outcome in future.result():
                on_outcome(outcome)


# --- the run of one site (main process) ---------------------------------------------------------


def _plan(site: Site, repo: ArchiveRepo, state: SiteState, mapping: dict[str, str], trust: bool) -> list[PageJob]:
    jobs = []
    for url, rel in mapping.items():
        ps = state.pages.get(url)
        if ps is None or not trust or not repo.has_page(site.name, rel):
            # never archived, file lost, or the conversion rules changed: fetch in full
            jobs.append(PageJob(url, rel))
            continue
        jobs.append(PageJob(url, rel, ps.etag, ps.last_modified, ps.body_hash))
    return jobs


def _apply(site: Site, repo: ArchiveRepo, outcome: PageOutcome, ps: PageState) -> PageResult:
    """Write or remove one page's file according to its outcome; update its state."""
    job = outcome.job
    if outcome.kind is OutcomeKind.FAILED:
        ps.failures += 1
        ps.error = outcome.error
        ps.status = PageStatus.FAILED.value
        return PageResult(job.url, job.path, PageStatus.FAILED, outcome.error)
    if outcome.kind is OutcomeKind.GONE:
        ps.gone += 1
        ps.failures, ps.error = 0, None
        ps.etag = ps.last_modified = ps.body_hash = None
        status = PageStatus.GONE
        if ps.gone >= site.remove_after and repo.remove_page(site.name, job.path):
            status = PageStatus.REMOVED
        ps.status = status.value
        return PageResult(job.url, job.path, status, f"gone: {outcome.error}")
    ps.failures, ps.gone, ps.error = 0, 0, None
    ps.etag, ps.last_modified, ps.body_hash = outcome.etag, outcome.last_modified, outcome.body_hash
    if outcome.kind is OutcomeKind.CONVERTED:
        assert outcome.markdown is not None
        status = repo.write_page(site.name, job.path, outcome.markdown)
    else:
        status = PageStatus.UNCHANGED
    ps.status = status.value
    return PageResult(job.url, job.path, status)


def commit_message(site: Site, results: list[PageResult], stats: list[FileStat]) -> str:
    """Subject ``<site>: N pages changed (+A −R)``, then the pages by kind, then trailers."""
    added = sum(s.added for s in stats)
    removed = sum(s.removed for s in stats)
    n = len(stats)
    lines = [f"{site.name}: {n} page{'s' if n != 1 else ''} changed (+{added} −{removed})", ""]
    for title, status in (
        ("Added", PageStatus.ADDED),
        ("Changed", PageStatus.CHANGED),
        ("Removed", PageStatus.REMOVED),
    ):
        group = sorted((r for r in results if r.status is status), key=lambda r: r.path)
        if group:
            lines.append(f"{title}:")
            for r in group:
                why = f" ({r.error})" if status is PageStatus.REMOVED and r.error else ""
                lines.append(f"- {r.path}  {r.url}{why}")
            lines.append("")
    lines += [f"Source: {site.base_url}", f"Archived-By: archiver {__version__}", ""]
    return "\n".join(lines)


def run_site(
    site: Site,
    repo: ArchiveRepo,
    config: Config,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> SiteReport:
    """Archive one site into ``repo`` (whose lock the caller holds); one commit if anything changed."""
    progress = progress or NullProgress()
    report = SiteReport(site.name)
    store = StateStore(repo.state_dir)
    state = store.load(site.name)
    author = (config.author_name, config.author_email)
    report.recovered = repo.recover(site.name, *author)
    fingerprint = rules_fingerprint(site)

    async def discover() -> list[str]:
        async with fetcher_for(site) as fetcher:
            return await discover_pages(site, fetcher)

    try:
        urls = asyncio.run(discover()) if site.sitemap else site.page_urls()
    except FetchError as exc:
        report.error = f"page discovery failed, nothing removed: {exc}"
        progress.site_finished(report)
        return report
    mapping = assign_paths(site.base_url, urls)
    archived = repo.page_files(site.name)
    if not mapping and archived:
        report.error = f"no pages found; refusing to remove the {len(archived)} archived pages"
        progress.site_finished(report)
        return report

    jobs = _plan(site, repo, state, mapping, trust=state.rules == fingerprint)
    progress.site_started(site.name, len(jobs))
    pages: dict[str, PageState] = {}

    def handle(outcome: PageOutcome) -> None:
        ps = pages[outcome.job.url] = state.pages.get(outcome.job.url) or PageState()
        result = _apply(site, repo, outcome, ps)
        report.results.append(result)
        progress.page_done(site.name, result)

    execute(site, jobs, workers, handle)
    for rel in sorted(archived - set(mapping.values())):
        if repo.remove_page(site.name, rel):
            report.results.append(PageResult("", rel, PageStatus.REMOVED, "no longer listed", fetched=False))

    stats = repo.stage_site(site.name)
    if stats:
        report.commit = repo.commit(commit_message(site, report.results, stats), *author)
        report.lines_added = sum(s.added for s in stats)
        report.lines_removed = sum(s.removed for s in stats)
    state.pages = pages
    state.rules = fingerprint
    state.last_run = _summary(report)
    store.save(site.name, state)
    progress.site_finished(report)
    return report


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
) -> RunReport:
    """Archive ``sites`` (default: all) one after another under the repository lock."""
    workers = workers or os.cpu_count() or 1
    reports: list[SiteReport] = []
    with repo.lock(wait=wait):
        for site in sites if sites is not None else config.sites:
            try:
                reports.append(run_site(site, repo, config, workers=workers, progress=progress))
            except LockedError:
                raise
            except ArchiverError as exc:
                # one broken site (say its folder became unwritable) must not stop the others
                logger.error("%s: %s", site.name, exc)
                failed = SiteReport(site.name, error=str(exc))
                reports.append(failed)
                (progress or NullProgress()).site_finished(failed)
    return RunReport(reports)
