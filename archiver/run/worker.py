"""Fetch + convert, page by page, in this process or in worker processes.

A worker's event loop keeps a few requests in flight while it converts the bodies that have
arrived, so downloading hides behind conversion and every core is busy; the main process only
writes files and talks to git. Nothing here raises for one page's failure: every job ends as a
:class:`PageOutcome`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ctypes
import ctypes.util
import dataclasses
import functools
import gc
import hashlib
import logging
import math
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from urllib.parse import urlsplit, urlunsplit

from archiver.archive.state import BodyStore
from archiver.config import Site
from archiver.convert.page import CONVERTER_VERSION, Rules, kind_of, markdown_alternate, page_markdown
from archiver.convert.shell import is_app_shell
from archiver.errors import ConvertError, FetchError, NotAPageError
from archiver.fetch.client import Fetcher, tls_context
from archiver.models import FetchedPage, OutcomeKind, PageJob, PageOutcome

logger = logging.getLogger(__name__)

MIN_PAGES_PER_WORKER = 16  # below this a worker process costs more than it saves
# a worker gives freed memory back to the system (gc + malloc_trim, ~60 ms) after converting a page
# this big, or this much since it last did: after every chunk that converted anything, it was a
# third of a 1 % run's wall time (200 small pages, 200 collections)
TRIM_PAGE_BYTES = 1 << 20
TRIM_TOTAL_BYTES = 32 << 20


def rules_of(site: Site, chrome: frozenset[str] = frozenset()) -> Rules:
    """The site's conversion rules; ``chrome``: the prints of the blocks its state decided are chrome."""
    return Rules(
        content=tuple(site.content),
        strip=tuple(site.strip_selectors) + tuple(site.ignore.selectors),
        drop_lines=tuple(site.ignore.lines),
        mask=tuple(site.ignore.mask),
        presets=site.generator_defaults,
        chrome=chrome,
    )


def rules_fingerprint(site: Site) -> str:
    """Identifies the conversion rules; a body hash is only trusted under the same rules."""
    r = rules_of(site)
    parts = [CONVERTER_VERSION, str(r.presets), *r.content, "\x1e", *r.strip, "\x1e", *r.drop_lines, "\x1e", *r.mask]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


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


def body_hash(content_type: str, body: bytes) -> str:
    """What the same-body shortcut compares: the bytes and the Content-Type they came with (a
    corrected charset label changes the Markdown of the same bytes)."""
    return hashlib.sha256(content_type.encode("utf-8", "replace") + b"\n" + body).hexdigest()


def markdown_twin(url: str) -> str:
    """Where a docs site commonly serves a page's Markdown: ``<url>.md``, or ``<dir>/index.md``."""
    parts = urlsplit(url)
    path = parts.path or "/"
    path = path + "index.md" if path.endswith("/") else path + ".md"
    return urlunsplit(parts._replace(path=path, query="", fragment=""))


async def _fetch_twin(fetcher: Fetcher, job: PageJob) -> tuple[FetchedPage | None, bool]:
    """The page's Markdown twin (text, not an HTML fallback) and True; or None and whether the
    answer was definite (404/410, HTML, or no Markdown for an Accept: text/markdown) rather than a
    failure that another run may not see (a timeout, a 5xx after retries)."""
    assert job.twin_url is not None
    twin_url = job.twin_url
    validators = job.twin and job.conditional  # (the validators are the twin's only if it was one)
    try:
        page = await fetcher.fetch(
            twin_url,
            etag=job.etag if validators else None,
            last_modified=job.last_modified if validators else None,
            accept="text/markdown" if job.twin_accept else None,
        )
    except FetchError:
        return None, False
    if page.not_modified:
        return (page, True) if validators else (None, False)
    if page.status_code != 200:
        return None, page.gone
    if job.twin_accept:
        is_text = kind_of(page.content_type, "") == "markdown"  # negotiated: the type must say it
    else:
        is_text = kind_of(page.content_type, twin_url) in ("markdown", "text")
    # (a server that answers every path with its HTML app is not serving a twin)
    return (page if is_text and page.body.lstrip()[:1] != b"<" else None), True


async def _get(fetcher: Fetcher, job: PageJob) -> tuple[FetchedPage, bool]:
    """The page's response (its Markdown twin's, the crawl's, or a fresh one) and whether it is the
    twin; FetchError if it could not be fetched. A page archived from its twin whose twin cannot be
    fetched this time fails (its snapshot kept) rather than flip to its HTML and back."""
    if job.twin_url is not None:
        twin, definite = await _fetch_twin(fetcher, job)
        if twin is not None:
            return twin, True
        if job.twin and not definite:
            raise FetchError(f"{job.twin_url}: the page's Markdown twin could not be fetched")
    if job.prefetched is not None:
        page = job.prefetched
    elif job.twin or not job.conditional:  # (a validator of the twin means nothing to the page)
        page = await fetcher.fetch(job.url)
    else:
        page = await fetcher.fetch(job.url, etag=job.etag, last_modified=job.last_modified)
    if job.twin_link and page.status_code == 200 and kind_of(page.content_type, job.url) == "html":
        link = markdown_alternate(page.body, page.final_url or job.url)
        if link is not None:  # the page says where its Markdown is: that is the page
            twin, _ = await _fetch_twin(fetcher, dataclasses.replace(job, twin_url=link, twin=False))
            if twin is not None:
                return dataclasses.replace(twin, url=job.url, final_url=link), True
    return page, False


async def process_page(fetcher: Fetcher, job: PageJob, rules: Rules, store_binary: bool = False) -> PageOutcome:
    """Fetch one page (unless the crawl already did) and convert it unless it is unchanged."""
    try:
        page, twin = await _get(fetcher, job)
    except FetchError as exc:
        return PageOutcome(job, OutcomeKind.FAILED, error=str(exc))
    if page.not_modified:
        return PageOutcome(
            job,
            OutcomeKind.NOT_MODIFIED,
            etag=job.etag,
            last_modified=job.last_modified,
            body_hash=job.body_hash,
            twin=twin,
        )
    if page.gone:
        return PageOutcome(job, OutcomeKind.GONE, error=f"HTTP {page.status_code}", final_url=page.final_url)
    if page.status_code != 200:
        return PageOutcome(job, OutcomeKind.FAILED, error=f"{job.url}: HTTP {page.status_code}")
    content_type = "text/markdown" if twin else page.content_type
    if twin:
        twin_url: str | None = page.final_url or job.twin_url
    else:
        twin_url = markdown_alternate(page.body, job.url) if kind_of(content_type, job.url) == "html" else None
    done = functools.partial(
        PageOutcome,
        job,
        etag=page.etag,
        last_modified=page.last_modified,
        body_hash=body_hash(content_type, page.body),
        final_url=None if twin else page.final_url,  # a twin is the page itself, not a redirect
        content_type=content_type,
        twin=twin,
        twin_url=twin_url,
    )
    if done.keywords["body_hash"] == job.body_hash:
        return done(OutcomeKind.SAME_BODY)
    if needs_browser(job, content_type, page.body):  # the main process renders it (run/render.py)
        return done(OutcomeKind.SHELL, body=page.body)
    return _convert(job, page.body, content_type, rules, store_binary, done)


def needs_browser(job: PageJob, content_type: str, body: bytes) -> bool:
    """Whether the page is rendered in a browser before it is converted: an HTML page under
    ``render: always``, or an app shell (convert/shell.py) under ``render: auto``."""
    if job.render == "never" or kind_of(content_type, job.url) != "html":
        return False
    return job.render == "always" or is_app_shell(body)


def _convert(
    job: PageJob, body: bytes, content_type: str, rules: Rules, store_binary: bool, done: Callable[..., PageOutcome]
) -> PageOutcome:
    """A new body converted (``done`` fills in what the response said); never raises."""
    _converted[0] = max(_converted[0], len(body))
    _converted[1] += len(body)
    try:
        converted = page_markdown(body, content_type, job.url, rules)
    except NotAPageError as exc:
        if store_binary:
            return done(OutcomeKind.BINARY, body=body)
        return PageOutcome(job, OutcomeKind.SKIPPED, error=f"{exc}; set store_binary: true to keep its bytes")
    except ConvertError as exc:
        return PageOutcome(job, OutcomeKind.FAILED, error=f"{job.url}: {exc}")
    except Exception as exc:  # a converter bug must cost one page, never the site's run
        logger.exception("converting %s failed", job.url)
        return PageOutcome(job, OutcomeKind.FAILED, error=f"{job.url}: cannot convert: {type(exc).__name__}: {exc}")
    return done(
        OutcomeKind.CONVERTED,
        markdown=converted.markdown,
        body=body,
        error=converted.note,
        blocks=converted.blocks,
        spec=converted.spec,
        specs=converted.specs,
    )


def convert_rendered(outcome: PageOutcome, html: bytes, rules: Rules) -> PageOutcome:
    """The DOM a browser built for a ``SHELL`` outcome, converted as its body would have been
    (run/render.py); the DOM travels in ``body``, to be kept as the page's body."""

    def done(kind: OutcomeKind, **fields: object) -> PageOutcome:
        return dataclasses.replace(outcome, kind=kind, rendered=True, content_type="text/html", **fields)  # type: ignore[arg-type]

    return _convert(outcome.job, html, "text/html", rules, False, done)


async def process_jobs(
    fetcher: Fetcher,
    jobs: Sequence[PageJob],
    site: Site,
    on_outcome: Callable[[PageOutcome], None],
    bodies: BodyStore | None = None,
    chrome: frozenset[str] = frozenset(),
) -> None:
    """Process ``jobs`` concurrently (the fetcher bounds requests in flight); keep new raw bodies.
    ``chrome``: the prints of the site's chrome blocks (its state's decision)."""
    rules = rules_of(site, chrome)

    async def one(job: PageJob) -> None:
        outcome = await process_page(fetcher, job, rules, site.store_binary)
        if outcome.body is not None and outcome.kind not in (OutcomeKind.BINARY, OutcomeKind.SHELL):
            if bodies is not None:
                bodies.put_pending(job.url, outcome.body)  # the main process accepts or discards it
            outcome = outcome.without_body()  # the bytes stay here, not in the pipe to the main process
        on_outcome(outcome)

    await asyncio.gather(*(one(job) for job in jobs))


# A worker process keeps one event loop for its life, and one Fetcher (so keep-alive connections)
# for as long as it works for the same site.
_worker: dict[str, object] = {}


def _worker_init(parent: int) -> None:
    _die_with_parent(parent)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _worker.update(loop=loop, site=None, fetcher=None)


def _worker_run(
    site: Site, concurrency: int, bodies: BodyStore | None, chrome: frozenset[str], jobs: list[PageJob]
) -> list[PageOutcome]:
    loop = _worker["loop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)
    fetcher = _worker["fetcher"]
    if fetcher is None or _worker["site"] != (site, concurrency):  # the next site: its own connections
        if isinstance(fetcher, Fetcher):
            loop.run_until_complete(fetcher.aclose())
        fetcher = fetcher_for(site, concurrency)
        _worker.update(site=(site, concurrency), fetcher=fetcher)
    assert isinstance(fetcher, Fetcher)
    out: list[PageOutcome] = []
    loop.run_until_complete(process_jobs(fetcher, jobs, site, out.append, bodies, chrome))
    if _converted[0] >= TRIM_PAGE_BYTES or _converted[1] >= TRIM_TOTAL_BYTES:
        _give_back_memory()
        _converted[:] = [0, 0]
    return out


_run_pool: contextvars.ContextVar[WorkerPool | None] = contextvars.ContextVar("run_pool", default=None)


class WorkerPool:
    """Worker processes shared by every site of one run: forked at the first site that needs them,
    joined when the run ends (:func:`pool_for_run`). Forking and joining a pool costs ~0.3 s, more
    than a site's no-change run of a few hundred 304s: once per site, it was most of a run of
    fifty small sites. A new run forks new workers, so none grows old across runs."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def get(self) -> ProcessPoolExecutor:
        if self._pool is None:
            tls_context()  # built once here, inherited by the forked workers
            # fork: workers start at once with every module already imported (spawn would re-import)
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
            ctx = multiprocessing.get_context(method)
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


@contextlib.contextmanager
def pool_for_run(workers: int) -> Iterator[WorkerPool]:
    """The worker processes of one run: every :func:`execute` inside shares them."""
    pool = WorkerPool(workers)
    token = _run_pool.set(pool)
    try:
        yield pool
    finally:
        _run_pool.reset(token)
        pool.close()


_converted = [0, 0]  # since this process last gave memory back: the biggest body converted, and all


def _give_back_memory() -> None:
    """Return the memory a big page's trees took to the system, so a worker's size tracks the page
    it is on, not the biggest page it ever met (glibc keeps freed heap otherwise)."""
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)


def _load_libc() -> ctypes.CDLL | None:
    try:  # once, at import: find_library runs ldconfig, which no forked worker should pay again
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:  # no C library to call: nothing to trim, and no parent-death signal
        return None


_libc = _load_libc()
_malloc_trim: Callable[[int], int] | None = getattr(_libc, "malloc_trim", None)  # glibc only

PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent dies


def _die_with_parent(parent: int) -> None:
    """A worker is killed with its parent (a SIGKILLed run must not leave workers fetching on)."""
    prctl = getattr(_libc, "prctl", None)
    if prctl is not None:  # Linux; elsewhere the pool's own broken-pipe handling remains
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


def execute(
    site: Site,
    jobs: list[PageJob],
    workers: int,
    on_outcome: Callable[[PageOutcome], None],
    bodies: BodyStore | None = None,
    chrome: frozenset[str] = frozenset(),
) -> None:
    """Call ``on_outcome`` (in this process) for every job, using up to ``workers`` processes;
    ``chrome`` as for :func:`process_jobs`."""
    workers = min(workers, len(jobs) // MIN_PAGES_PER_WORKER)
    if workers <= 1 or site.delay > 0:
        # small site, or a politeness delay that must hold across all requests: one process

        async def run() -> None:
            async with fetcher_for(site) as fetcher:
                await process_jobs(fetcher, jobs, site, on_outcome, bodies, chrome)

        asyncio.run(run())
        return
    shared = _run_pool.get()
    with contextlib.ExitStack() as own:
        if shared is None:  # (outside a run, e.g. a re-render: a pool for this call alone)
            shared = own.enter_context(pool_for_run(workers))
        workers = min(workers, shared.workers)
        per_worker = max(1, math.ceil(site.concurrency / workers))
        size = max(4, min(16, len(jobs) // (workers * 16)))
        chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        pool = shared.get()
        pending = {pool.submit(_worker_run, site, per_worker, bodies, chrome, chunk) for chunk in chunks}
        while pending:
            # drop each finished chunk as soon as it is written: holding every page's Markdown until
            # the end would cost the main process tens of MB on a big site
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                for outcome in future.result():
                    on_outcome(outcome)
            del done
