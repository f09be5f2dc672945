"""The pages only a browser fills in: rendered in the run's one headless Chromium, then converted.

Workers fetch every page as usual; one that is an app shell (or any HTML page under
``render: always``) comes back as a ``SHELL`` outcome with its body (:func:`.worker.needs_browser`).
The main process renders those after the site's fetches (:func:`render_shells`), at most
``render_tabs`` at a time, in one browser for the whole run (:func:`renderer_for_run`: started on
the first page that needs it, so a plain-HTML run starts none, and closed when the run ends), and
converts each rendered DOM as a fetched body. The rendered HTML is the body kept for the page, so
a re-render under new rules or new chrome works from what was archived, without a browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
from collections.abc import Callable, Iterator

from archiver.archive.state import BodyStore
from archiver.config import Site
from archiver.convert.page import Rules
from archiver.errors import RenderError
from archiver.fetch.browser import CHROMIUM_ENV, INSTALL, Browser, chromium_path
from archiver.models import OutcomeKind, PageOutcome
from archiver.run.worker import convert_rendered

logger = logging.getLogger(__name__)

MAX_LAUNCHES = 3  # browsers one run starts (the first, and again after a crash) before it gives up


class Renderer:
    """The browser of one run, on an event loop of its own that lives as long as the run (so one
    browser serves every site); ``launches`` counts the browsers it started."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.browser: Browser | None = None
        self.launches = 0
        self._starting: asyncio.Lock | None = None

    def render(self, site: Site, shells: list[PageOutcome], rules: Rules) -> list[PageOutcome]:
        """Each shell rendered and converted (``CONVERTED``, ``rendered``, the DOM in ``body``) or
        failed with one line saying why; never raises for one page."""
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        return self.loop.run_until_complete(self._render_all(site, shells, rules))

    async def _render_all(self, site: Site, shells: list[PageOutcome], rules: Rules) -> list[PageOutcome]:
        tabs = asyncio.Semaphore(site.render_tabs)

        async def one(outcome: PageOutcome) -> PageOutcome:
            async with tabs:
                return await self._one(site, outcome, rules)

        return list(await asyncio.gather(*(one(o) for o in shells)))

    async def _one(self, site: Site, outcome: PageOutcome, rules: Rules) -> PageOutcome:
        job = outcome.job
        assert outcome.body is not None
        url = outcome.final_url or job.url
        try:
            browser = await self._browser()
            html = await browser.render(
                url, outcome.body, outcome.content_type or "", site.render_timeout, site.max_bytes
            )
        except RenderError as exc:
            return PageOutcome(job, OutcomeKind.FAILED, error=f"{job.url}: {exc}; the last snapshot is kept")
        return convert_rendered(outcome, html.encode("utf-8"), rules)

    async def _browser(self) -> Browser:
        """The run's browser, started now if it is not running (RenderError if none can be)."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:  # two tabs asking at once start one browser
            if self.browser is not None and self.browser.dead is None:
                return self.browser
            if self.browser is not None:  # it crashed: its pages failed, the next ones get a new one
                await self.browser.close()
                self.browser = None
            if self.launches >= MAX_LAUNCHES:
                raise RenderError(f"needs a browser, and the browser stopped {MAX_LAUNCHES} times in this run")
            path = chromium_path()
            if path is None:
                raise RenderError(_missing())
            self.launches += 1
            browser = Browser(path)
            await browser.start()
            self.browser = browser
            return browser

    def close(self) -> None:
        if self.loop is None:
            return
        if self.browser is not None:
            self.loop.run_until_complete(self.browser.close())
            self.browser = None
        self.loop.close()
        self.loop = None


def _missing() -> str:
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        return f"is an app shell that needs a browser, but {CHROMIUM_ENV}={named} is not an executable; {INSTALL}"
    return f"is an app shell that needs a browser, and none is installed: {INSTALL}"


_run_renderer: contextvars.ContextVar[Renderer | None] = contextvars.ContextVar("run_renderer", default=None)


@contextlib.contextmanager
def renderer_for_run() -> Iterator[Renderer]:
    """The browser of one run: every :func:`render_shells` inside shares it."""
    renderer = Renderer()
    token = _run_renderer.set(renderer)
    try:
        yield renderer
    finally:
        _run_renderer.reset(token)
        renderer.close()


def render_shells(
    site: Site,
    shells: list[PageOutcome],
    rules: Rules,
    on_outcome: Callable[[PageOutcome], None],
    bodies: BodyStore | None = None,
) -> None:
    """Render ``shells`` (``SHELL`` outcomes) and hand each result to ``on_outcome``; a rendered
    DOM is kept as the page's pending body (the apply step accepts or discards it)."""
    if not shells:
        return
    with contextlib.ExitStack() as own:
        renderer = _run_renderer.get()
        if renderer is None:  # (outside a run: a browser for this call alone)
            renderer = own.enter_context(renderer_for_run())
        for outcome in renderer.render(site, shells, rules):
            if outcome.body is not None:
                if bodies is not None:
                    bodies.put_pending(outcome.job.url, outcome.body)
                outcome = outcome.without_body()
            on_outcome(outcome)
