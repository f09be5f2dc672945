"""One run of one site, end to end; the only module that knows the stage order.

discover ─► plan jobs (paths, conditional headers from state) ─► fetch + convert (in worker
processes for big sites) ─► write / remove files ─► one commit ─► save state.

Fetching and converting happen together in each worker: a worker's event loop keeps a few
requests in flight while it converts the bodies that have arrived, so downloads hide behind
conversion and every core is busy. The main process only writes files and talks to git. A page
that fails becomes a result, never an exception; only a failed discovery fails the whole site
(and then nothing is removed). What each outcome does to the files is in :mod:`.apply`, the
commit message in :mod:`.commits`, the re-render under new rules in :mod:`.rerender`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import urlsplit

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import BodyStore, PageState, SiteState, StateStore
from archiver.config import Config, Site
from archiver.errors import ArchiverError, FetchError, LockedError, UnreachableError
from archiver.fetch import Discovery, discover_pages, listed_pages, url_filter
from archiver.models import FetchedPage, OutcomeKind, PageJob, PageOutcome, PageResult, RunReport, SiteReport
from archiver.paths import assign_paths, tagged
from archiver.run import sitechrome, sources
from archiver.run.apply import Applier
from archiver.run.commits import commit_site, notes, run_summary, watch_notes
from archiver.run.render import render_shells, renderer_for_run
from archiver.run.rerender import rerender, rerender_site
from archiver.run.sources import Source
from archiver.run.worker import execute, fetcher_for, pool_for_run, rules_fingerprint, rules_of

__all__ = ["NullProgress", "Progress", "discover", "rerender", "rules_of", "run", "run_site"]

logger = logging.getLogger(__name__)


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


def revalidates(site: Site, state: SiteState, url: str, ps: PageState, now: float) -> bool:
    """Whether this run asks for ``url`` without its validators: its host was caught answering 304
    for a changed page, or its last full body is older than ``revalidate_after`` (each page's turn
    comes between half of it and all of it, by a fraction fixed per URL, so the pages of one first
    run are spread over later runs instead of all coming due at once)."""
    if urlsplit(url).netloc in state.untrusted:
        return True
    if ps.verified is None:
        return True
    turn = int.from_bytes(hashlib.blake2b(url.encode(), digest_size=2).digest()) / 65536
    return now - ps.verified >= site.revalidate_after * (0.5 + 0.5 * turn)


def _job(
    url: str, path: str, ps: PageState, prefetched: FetchedPage | None, conditional: bool, source: Source, listed: bool
) -> PageJob:
    # (the run that switches a site to Markdown found by link reads each page's HTML for its link)
    conditional = conditional and not (source.switched and source.links_to_twin(ps))
    twin = source.twin_of(url, ps, conditional)
    link = source.links_to_twin(ps)
    return PageJob(
        url,
        path,
        ps.etag,
        ps.last_modified,
        ps.body_hash,
        ps.twin,
        prefetched,
        conditional,
        listed,
        twin,
        twin == url,
        link,
    )


def _plan(
    site: Site,
    repo: ArchiveRepo,
    state: SiteState,
    mapping: dict[str, str],
    found: Discovery,
    now: float,
    source: Source,
) -> list[PageJob]:
    jobs = []
    for url, rel in mapping.items():
        ps = state.pages.get(url)
        path = ps.path if ps and ps.path else rel
        prefetched = found.prefetched.get(url)
        if ps is None or not repo.has_page(site.name, path):
            # never archived, or its file was lost: fetch in full (a crawl's 304 can't be used)
            if prefetched is not None and prefetched.not_modified:
                prefetched = None
            twin = source.twin_of(url, None, False)
            link = source.links_to_twin(None)
            jobs.append(
                PageJob(url, path, prefetched=prefetched, twin_url=twin, twin_accept=twin == url, twin_link=link)
            )
            continue
        conditional = not revalidates(site, state, url, ps, now)
        jobs.append(_job(url, path, ps, prefetched, conditional, source, True))
    return jobs


def _unlisted(
    site: Site, repo: ArchiveRepo, state: SiteState, mapping: dict[str, str], now: float, source: Source
) -> list[PageJob]:
    """Pages discovery no longer finds, still fetched by their URL until ``remove_after`` runs have
    passed (a page rewritten and unlinked in one deploy keeps its last version); not those the
    site's include/exclude now rules out, nor one whose file a listed page took over."""
    wanted = url_filter(site)
    taken = set(mapping.values())
    jobs = []
    for url, ps in sorted(state.pages.items()):
        if (
            url in mapping
            or not ps.path
            or ps.path in taken
            or not wanted(url)
            or not repo.has_page(site.name, ps.path)
        ):
            continue
        conditional = not revalidates(site, state, url, ps, now)
        jobs.append(_job(url, ps.path, ps, None, conditional, source, False))
    return jobs


def _wanted_specs(site: Site, urls: list[str], pages: dict[str, PageState], listed: dict[str, str]) -> list[str]:
    """The API specs the pages ``urls`` load (their state's ``specs``: a Swagger UI or Redoc page's),
    that are not ``listed`` yet, inside the site's base URL and not excluded."""
    wanted = url_filter(site, excludes_only=True)  # (a spec a kept page loads is part of that page)
    out: dict[str, None] = {}
    for url in urls:
        ps = pages.get(url)
        for spec in ps.specs or [] if ps else []:
            if spec not in listed and spec.startswith(site.base_url) and wanted(spec):
                out[spec] = None
    return list(out)


def _spec_paths(site: Site, urls: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Files for specs found after the plan, beside the files the run's pages have already."""
    taken = {rel.lower() for rel in mapping.values()}
    out = {}
    for url, rel in assign_paths(site.base_url, urls).items():
        if rel.lower() in taken:
            rel = tagged(rel, url)
        out[url] = rel
    return out


def _known(
    site: Site, repo: ArchiveRepo, state: SiteState, now: float
) -> dict[str, tuple[str | None, str | None, list[str] | None]]:
    """What a crawl may ask conditionally: pages whose file is still there and whose turn to be
    revalidated has not come."""
    return {
        url: (ps.etag, ps.last_modified, ps.links)
        for url, ps in state.pages.items()
        if ps.path
        and not ps.twin
        and not ps.rendered
        and repo.has_page(site.name, ps.path)
        and not revalidates(site, state, url, ps, now)
    }


def _rendering(site: Site, state: SiteState, job: PageJob) -> PageJob:
    """The job under the site's ``render`` setting; a page archived from a browser's DOM is
    fetched in full and never short-cut by its body hash: its shell stays the same while the
    scripts and data that fill it change."""
    ps = state.pages.get(job.url)
    if ps is not None and ps.rendered:
        return dataclasses.replace(job, render=site.render, conditional=False, body_hash=None)
    return dataclasses.replace(job, render=site.render)


def discover(
    site: Site, repo: ArchiveRepo | None = None, state: SiteState | None = None, now: float | None = None
) -> Discovery:
    """Find the site's pages (explicit, sitemap, llms.txt, crawl); FetchError if a source fails.

    A run passes its own ``state`` (already corrected by recovery and re-rendering), so the crawl's
    conditional requests use the same validators as the fetches; without it the saved one is read.
    """
    if not site.discovers:  # only hand-listed pages: nothing to ask the network
        return listed_pages(site)
    if state is None:
        state = StateStore(repo.state_dir).load(site.name) if repo else SiteState()
    known = _known(site, repo, state, time.time() if now is None else now) if repo else {}

    async def go() -> Discovery:
        async with fetcher_for(site) as fetcher:
            return await discover_pages(site, fetcher, known)

    return asyncio.run(go())


def run_site(
    site: Site,
    repo: ArchiveRepo,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> SiteReport:
    """Archive one site into ``repo`` (whose lock the caller holds); one commit if anything changed.

    An ArchiverError on the way (the folder became unwritable, git failed) ends the site's run as
    ``report.error``, with the page results it had so far."""
    progress = progress or NullProgress()
    report = SiteReport(site.name)
    try:
        _run_site(site, repo, report, workers, progress)
    except LockedError:
        raise
    except ArchiverError as exc:
        logger.debug("%s: %s", site.name, exc, exc_info=True)
        report.error = str(exc)
    progress.site_finished(report)
    return report


def _run_site(site: Site, repo: ArchiveRepo, report: SiteReport, workers: int, progress: Progress) -> None:
    store = StateStore(repo.state_dir)
    state = store.load(site.name)
    report.recovered, touched = repo.recover(site.name)
    state.forget_validators(touched)
    fingerprint = rules_fingerprint(site)
    if state.rules is not None and state.rules != fingerprint:
        # new rules: re-render what we have first, as its own commit, so the docs history stays readable
        report.rules_commit = rerender_site(site, repo, state).commit
        store.save(site.name, state)
    work = _archive_pages(site, repo, state, report, workers, progress)
    if work is not None:
        before = state.chrome
        after = sitechrome.decide(site, repo, work.pages, before)
        report.chrome = sitechrome.changes(before, after)
        touched = sitechrome.touched(work.pages, before, after)  # pages holding a block that changed
        if touched & work.converted:  # this run's pages first, so that its commit holds no chrome change
            sitechrome.reconvert(site, repo, work, touched & work.converted, after, workers)
        report.notes = notes(report.results) + [f"site chrome: {line}" for line in report.chrome]
        for host in sorted(work.lying - set(state.untrusted)):  # said once: from now on it is asked in full
            report.notes.append(
                f"{host} answered 304 Not Modified for a page that had changed (its ETag/Last-Modified stayed "
                "the same); its pages are fetched in full from now on"
            )
        state.untrusted = sorted(set(state.untrusted) | work.lying)
        commit_site(repo, site, report)
        _commit_switches(site, repo, work, report, progress)
        report.notes += watch_notes(site, repo.site_dir(site.name), work.pages)
        state.pages = work.pages
        # the raw bodies of pages gone from the site go too: what is kept stays one body per page
        BodyStore(repo.bodies_dir(site.name)).keep_only(state.pages)
        state.strays = work.stray_runs
        state.chrome = after
        rest = touched - work.converted  # then the pages it did not convert, as a rules change
        if rest:
            report.rules_commit = (
                rerender_site(site, repo, state, rest, "chrome", report.chrome).commit or report.rules_commit
            )
        state.rules = fingerprint
    # a failed discovery is a run too: status must show it, not the last good one
    state.last_run = run_summary(report)
    store.save(site.name, state)


def _archive_pages(
    site: Site, repo: ArchiveRepo, state: SiteState, report: SiteReport, workers: int, progress: Progress
) -> Applier | None:
    """Discover, fetch, convert and apply every page; None (and ``report.error``) if discovery failed
    or found nothing where pages are archived, so that nothing is removed."""
    try:
        # one clock for the run: what the crawl asks conditionally is what the plan does
        now = time.time()
        found = discover(site, repo, state, now)
    except UnreachableError as exc:
        report.error = f"{exc}; nothing changed"
        return None
    except FetchError as exc:
        report.error = f"page discovery failed, nothing removed: {exc}"
        return None
    mapping = assign_paths(site.base_url, [*found.urls, *_wanted_specs(site, found.urls, state.pages, {})])
    archived = repo.page_files(site.name)
    if not mapping and archived:
        report.error = f"no pages found; refusing to remove the {len(archived)} archived pages"
        return None
    bodies = BodyStore(repo.bodies_dir(site.name))
    source = sources.decide(site, state, list(mapping), now)
    work = Applier(site, repo, state, mapping, report, bodies, now)
    jobs = _plan(site, repo, state, mapping, found, work.now, source)
    jobs += _unlisted(site, repo, state, mapping, work.now, source)
    jobs = [_rendering(site, state, job) for job in jobs]
    work.claim(jobs)
    progress.site_started(site.name, len(jobs))

    def handle(outcome: PageOutcome) -> None:
        if _switches_source(site, repo, state, outcome):
            work.switched.append(outcome)  # committed apart, as a change of source (see _run_site)
            return
        result = work.apply(outcome, found.links.get(outcome.job.url))
        report.results.append(result)
        progress.page_done(site.name, result)

    shells: list[PageOutcome] = []  # app shells: rendered in the run's browser once the fetches are done

    def handle_or_hold(outcome: PageOutcome) -> None:
        (shells.append if outcome.kind is OutcomeKind.SHELL else handle)(outcome)

    execute(site, jobs, workers, handle_or_hold, bodies, frozenset(state.chrome))
    render_shells(site, shells, rules_of(site, frozenset(state.chrome)), handle, bodies)
    # the API specs this run's pages load that the list did not have: archived in this run too
    specs = _spec_paths(site, _wanted_specs(site, list(work.pages), work.pages, mapping), work.mapping)
    if specs:
        work.add(specs)
        execute(
            site,
            _plan(site, repo, state, specs, found, work.now, Source("html")),  # (a spec has no Markdown twin)
            workers,
            handle,
            bodies,
            frozenset(state.chrome),
        )
    work.unlisted()
    work.strays(archived)
    return work


def _switches_source(site: Site, repo: ArchiveRepo, state: SiteState, outcome: PageOutcome) -> bool:
    """A page archived from its HTML that now comes from its Markdown twin, or the other way."""
    old = state.pages.get(outcome.job.url)
    return (
        outcome.kind is OutcomeKind.CONVERTED
        and old is not None
        and old.path is not None
        and old.twin != outcome.twin
        and repo.has_page(site.name, old.path)
    )


def _commit_switches(site: Site, repo: ArchiveRepo, work: Applier, report: SiteReport, progress: Progress) -> None:
    """The pages whose source changed this run, written and committed on their own, marked as a
    change of rules (``Change-Kind: rules``): the same docs, read from another source."""
    if not work.switched:
        return
    switch = SiteReport(site.name)
    for outcome in work.switched:
        result = work.apply(outcome, None)
        switch.results.append(result)
        report.results.append(result)
        progress.page_done(site.name, result)
    to_markdown = sum(1 for o in work.switched if o.twin)
    commit_site(repo, site, switch, rules="source-markdown" if 2 * to_markdown >= len(work.switched) else "source-html")
    report.rules_commit = switch.commit or report.rules_commit
    work.switched.clear()


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
    # one set of workers and at most one browser (started when a page needs it) for every site
    with repo.lock(wait=wait, stop=stop), pool_for_run(workers), renderer_for_run():
        for site in sites if sites is not None else config.sites:
            try:
                reports.append(run_site(site, repo, workers=workers, progress=progress))
            except LockedError:
                raise
            except ArchiverError as exc:
                # one broken site must not stop the others (the report says it, once)
                logger.debug("%s: %s", site.name, exc, exc_info=True)
                failed = SiteReport(site.name, error=str(exc))
                reports.append(failed)
                (progress or NullProgress()).site_finished(failed)
        if any(r.commit or r.rules_commit for r in reports):
            try:
                repo.maintain()  # (under the lock, after the last commit: see ArchiveRepo.maintain)
            except ArchiverError as exc:  # a repository that cannot be packed is still a good one
                logger.warning("git gc --auto failed: %s", exc)
    return RunReport(reports)
