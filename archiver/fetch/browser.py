"""Headless Chromium for the pages only a browser fills in (app shells), over the DevTools protocol.

One :class:`Browser` is one Chromium process, spoken to through ``--remote-debugging-pipe``: JSON
messages separated by NUL bytes on two pipes (its fds 3 and 4), so no port is opened that another
local user could drive, and no library is needed. Each page gets a browser context of its own
(no cookies, cache or storage shared with another page), a fixed viewport, UTC, ``en-US``, reduced
motion and no animations, no service workers, and only its own origin's requests (the rest fail
as blocked); the page's HTML itself is answered from the body archiver already fetched. It is
done when the network has been idle and the DOM unchanged for :data:`QUIET` seconds; then the
DOM's outer HTML is what is converted. Every failure is a :class:`RenderError`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from archiver.errors import RenderError

logger = logging.getLogger(__name__)

CHROMIUM_ENV = "ARCHIVER_CHROMIUM"  # the browser's path (default: chromium on PATH)
INSTALL = "install one with 'apt-get install chromium' (or set ARCHIVER_CHROMIUM to its path)"
QUIET = 0.5  # seconds without a request in flight or a DOM change: the page has settled
POLL = 0.1
VIEWPORT = (1280, 800)
HEAP_MB = 512  # a page's JavaScript heap; past it its renderer dies and the page fails
FLAGS = (
    "--headless",
    "--no-sandbox",  # (archiver often runs as root in a container, where the sandbox cannot start)
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-quic",
    "--mute-audio",
    "--hide-scrollbars",
    # (Local Network Access: the origin rule below is stricter; without it, a loopback test could not
    # tell that rule at work from Chromium's own)
    "--disable-features=Translate,MediaRouter,OptimizationHints,LocalNetworkAccessChecks",
    # one renderer per page, iframes in it: the page's request interception then sees them too
    "--disable-site-isolation-trials",
    f"--js-flags=--max-old-space-size={HEAP_MB}",
    "--remote-debugging-pipe",
)
# before any of the page's scripts: no service worker, no animation, and the time of the last DOM change
PRELUDE = """
(() => {
  try { Object.defineProperty(Navigator.prototype, 'serviceWorker', {get: () => undefined}); } catch (e) {}
  window.__archiverChanged = performance.now();
  const style = '*,*::before,*::after{animation:none!important;transition:none!important;' +
    'caret-color:transparent!important}';
  new MutationObserver(() => { window.__archiverChanged = performance.now(); })
    .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  document.addEventListener('DOMContentLoaded', () => {
    const el = document.createElement('style'); el.textContent = style; document.head.appendChild(el);
  });
})();
"""
STATE = "[document.readyState, performance.now() - window.__archiverChanged]"


def chromium_path() -> str | None:
    """The browser to start: ``$ARCHIVER_CHROMIUM`` if set (None if nothing runs there), else
    ``chromium`` or ``chromium-browser`` on PATH."""
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        return named if os.path.isfile(named) and os.access(named, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


@dataclass
class _Page:
    """What one page's session has seen: requests in flight, the last network event, a crash."""

    url: str
    body: bytes
    content_type: str
    inflight: set[str] = field(default_factory=set)
    last_network: float = field(default_factory=time.monotonic)
    crashed: bool = False
    served: bool = False  # the page's own HTML was answered from ``body``
    blocked: int = 0


class Browser:
    """One headless Chromium process; :meth:`render` may run for several pages at once (each in its
    own tab and browser context). Start it with :meth:`start`, end it with :meth:`close`."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.process: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._next_id = 0
        self._calls: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, _Page] = {}  # session id -> its page
        self._sessions: dict[str, str] = {}  # session id -> the target it is attached to
        self.dead: str | None = None  # why the browser can no longer be used

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def start(self) -> None:
        """Start Chromium and check it answers; RenderError if it cannot."""
        self._profile = tempfile.TemporaryDirectory(prefix="archiver-chromium-")
        commands_in, commands_out = os.pipe()  # archiver writes commands; chromium reads them on fd 3
        answers_in, answers_out = os.pipe()  # chromium writes answers and events on fd 4
        command = [self.executable, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"]
        # the protocol's fds must be 3 and 4 in the browser: they come as stdin and stdout, and sh
        # moves them there before exec (dash redirects single-digit fds only)
        script = 'exec "$@" 3<&0 4>&1 0</dev/null 1>/dev/null'
        try:
            self.process = subprocess.Popen(
                ["/bin/sh", "-c", script, "sh", *command],
                stdin=commands_in,
                stdout=answers_out,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C of the run reaches archiver, which closes it
            )
        except OSError as exc:
            raise RenderError(f"cannot start the browser {self.executable}: {exc}; {INSTALL}") from exc
        finally:
            os.close(commands_in)
            os.close(answers_out)
        loop = asyncio.get_running_loop()
        self._writer, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(commands_out, "wb"))
        reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(answers_in, "rb"))
        self._reader_task = loop.create_task(self._read(reader))
        try:
            version = await asyncio.wait_for(self.call("Browser.getVersion"), 20)
        except (TimeoutError, RenderError) as exc:
            await self.close()
            raise RenderError(f"the browser {self.executable} did not start: {exc or 'no answer'}; {INSTALL}") from exc
        logger.info("started %s (pid %s)", version.get("product"), self.pid)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                message = await reader.readuntil(b"\0")
                self._dispatch(json.loads(message[:-1]))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError) as exc:
            why = "the browser stopped" if isinstance(exc, asyncio.IncompleteReadError) else f"browser protocol: {exc}"
            self._fail_all(why)

    def _fail_all(self, why: str) -> None:
        self.dead = self.dead or why
        for future in self._calls.values():
            if not future.done():
                future.set_exception(RenderError(why))
        self._calls.clear()
        for page in self._pages.values():
            page.crashed = True

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            future = self._calls.pop(message["id"], None)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(RenderError(f"browser: {message['error'].get('message', message['error'])}"))
                else:
                    future.set_result(message.get("result", {}))
            return
        page = self._pages.get(message.get("sessionId", ""))
        if page is not None:
            self._event(page, message["sessionId"], message.get("method", ""), message.get("params", {}))

    def _event(self, page: _Page, session: str, method: str, params: dict[str, Any]) -> None:
        if method == "Fetch.requestPaused":
            asyncio.get_running_loop().create_task(self._paused(page, session, params))
        elif method == "Network.requestWillBeSent":
            page.inflight.add(params["requestId"])
            page.last_network = time.monotonic()
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            page.inflight.discard(params["requestId"])
            page.last_network = time.monotonic()
        elif method in ("Inspector.targetCrashed", "Inspector.detached"):
            page.crashed = True

    async def _paused(self, page: _Page, session: str, params: dict[str, Any]) -> None:
        """Answer one intercepted request: the page's own HTML from its body, its origin's
        requests let through, every other one failed as blocked."""
        request_id, url = params["requestId"], params["request"]["url"]
        try:
            if not page.served and url.split("#", 1)[0] == page.url and params.get("resourceType") == "Document":
                page.served = True
                headers = [{"name": "Content-Type", "value": page.content_type or "text/html"}]
                body = base64.b64encode(page.body).decode("ascii")
                await self.call(
                    "Fetch.fulfillRequest",
                    {"requestId": request_id, "responseCode": 200, "responseHeaders": headers, "body": body},
                    session,
                )
            elif origin(url) == origin(page.url):
                await self.call("Fetch.continueRequest", {"requestId": request_id}, session)
            else:
                page.blocked += 1
                await self.call(
                    "Fetch.failRequest", {"requestId": request_id, "errorReason": "BlockedByClient"}, session
                )
        except RenderError:  # the page closed meanwhile, or the browser died: the render says so
            pass

    async def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        """Send one DevTools command and wait for its answer (RenderError on an error or a dead browser)."""
        if self.dead is not None or self._writer is None or self._writer.is_closing():
            raise RenderError(self.dead or "the browser is not running")
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._calls[self._next_id] = future
        self._writer.write(json.dumps(message).encode() + b"\0")
        return await future

    async def render(self, url: str, body: bytes, content_type: str, timeout: float, max_bytes: int) -> str:
        """The outer HTML of ``url``'s DOM once it has settled, its HTML answered from ``body``;
        RenderError if it does not settle within ``timeout`` seconds, its DOM exceeds
        ``max_bytes``, its renderer crashes or the browser dies."""
        context = (await self.call("Target.createBrowserContext", {"disposeOnDetach": True}))["browserContextId"]
        try:
            return await asyncio.wait_for(self._render(context, _Page(url, body, content_type), max_bytes), timeout)
        except TimeoutError:
            raise RenderError(f"did not settle within {timeout:g} s in the browser (render_timeout)") from None
        finally:
            with contextlib.suppress(RenderError):
                await asyncio.wait_for(self.call("Target.disposeBrowserContext", {"browserContextId": context}), 5)
            for session in [s for s, t in self._sessions.items() if t == context]:
                self._sessions.pop(session, None)
                self._pages.pop(session, None)

    async def _render(self, context: str, page: _Page, max_bytes: int) -> str:
        target = (await self.call("Target.createTarget", {"url": "about:blank", "browserContextId": context}))[
            "targetId"
        ]
        session = (await self.call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        self._sessions[session] = context
        self._pages[session] = page
        width, height = VIEWPORT
        for method, params in (
            ("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}),
            ("Network.enable", {}),
            ("Network.setBypassServiceWorker", {"bypass": True}),
            ("Page.enable", {}),
            ("Page.addScriptToEvaluateOnNewDocument", {"source": PRELUDE}),
            (
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            ),
            ("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]}),
            ("Emulation.setTimezoneOverride", {"timezoneId": "UTC"}),
            ("Emulation.setLocaleOverride", {"locale": "en-US"}),
        ):
            await self.call(method, params, session)
        navigated = await self.call("Page.navigate", {"url": page.url}, session)
        if navigated.get("errorText"):
            raise RenderError(f"the browser could not open the page: {navigated['errorText']}")
        await self._settle(page, session)
        html = await self._evaluate(session, "document.documentElement ? document.documentElement.outerHTML : ''")
        if not isinstance(html, str):
            raise RenderError("the browser gave no DOM")
        if len(html) > max_bytes:
            raise RenderError(f"its rendered DOM is larger than max_bytes ({max_bytes} bytes)")
        return "<!DOCTYPE html>\n" + html

    async def _settle(self, page: _Page, session: str) -> None:
        """Wait until the page is loaded, with no request in flight and no DOM change for QUIET s."""
        while True:
            if page.crashed:
                raise RenderError(f"the browser's page crashed ({self.dead or 'its renderer died'})")
            state = await self._evaluate(session, STATE)
            quiet_network = not page.inflight and time.monotonic() - page.last_network >= QUIET
            if (
                isinstance(state, list)
                and state[0] == "complete"
                and isinstance(state[1], int | float)
                and state[1] >= QUIET * 1000
                and quiet_network
            ):
                return
            await asyncio.sleep(POLL)

    async def _evaluate(self, session: str, expression: str) -> Any:
        answer = await self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in answer:
            return None  # (the page is between documents: asked again)
        return answer.get("result", {}).get("value")

    async def close(self) -> None:
        """End the browser (politely, then by force) and remove its profile."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(RenderError, TimeoutError):
                await asyncio.wait_for(self.call("Browser.close"), 5)
            try:
                await asyncio.to_thread(self.process.wait, 5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
        self._fail_all(self.dead or "the browser was closed")
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None
