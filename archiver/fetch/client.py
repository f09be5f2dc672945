"""Download pages with httpx: keep-alive, per-host limits, retries, size cap, conditional GETs.

One :class:`Fetcher` per site per process. ``fetch`` returns a :class:`FetchedPage` for any
definitive answer (200, 304, 404, 410) and raises :class:`FetchError` for everything else, after
retrying what may be transient (connection errors, timeouts, 429, 5xx) with exponential backoff
and jitter, honouring ``Retry-After``.

A request goes straight to the httpx client's own connection pool (httpcore), redirects followed
here; only a body in an encoding we did not ask for is asked again through the client. httpx's request and
response models cost ~0.4 ms of CPU per request, a third of what a conditional GET answered 304
costs in all, and a plain answer needs nothing they add.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import random
import ssl
import time
import zlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from archiver import __version__
from archiver.errors import FetchError, UnreachableError
from archiver.models import FetchedPage

logger = logging.getLogger(__name__)

USER_AGENT = f"archiver/{__version__} (documentation snapshot archiver)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFINITIVE = frozenset({200, 304, 404, 410})
MAX_RETRY_AFTER = 120.0  # seconds; a server asking for longer gets a failed page, not a stalled run
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
REDIRECTS = frozenset({301, 302, 303, 307, 308})
ACCEPT_ENCODING = "gzip, deflate"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context (certifi's CA bundle), built once per process: loading the
    CA store takes ~30 ms, and worker processes forked after the first call inherit it."""
    import certifi  # httpx's own dependency for this

    return ssl.create_default_context(cafile=certifi.where())


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header (seconds or an HTTP date) into seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_seconds(attempt: int, base: float = BACKOFF_BASE) -> float:
    """Exponential backoff with full jitter: a random delay in [0.5, 1.5) × base × 2^attempt."""
    return float(min(BACKOFF_CAP, base * 2.0**attempt)) * (0.5 + random.random())


class Fetcher:
    """An async HTTP client for one site.

    >>> async with Fetcher(concurrency=4) as f:          # doctest: +SKIP
    ...     page = await f.fetch("https://docs.example.com/", etag='"abc"')
    """

    def __init__(
        self,
        *,
        concurrency: int = 4,
        delay: float = 0.0,
        timeout: float = 30.0,
        retries: int = 2,
        max_bytes: int = 10 * 1024 * 1024,
        max_redirects: int = 10,
        user_agent: str | None = None,
        backoff_base: float = BACKOFF_BASE,
    ) -> None:
        self.concurrency = concurrency
        self.delay = delay
        self.timeout = timeout
        self.retries = retries
        self.max_bytes = max_bytes
        self.backoff_base = backoff_base
        self.max_redirects = max_redirects
        agent = user_agent or USER_AGENT
        connections = concurrency * 4
        transport = httpx.AsyncHTTPTransport(
            verify=tls_context(),
            trust_env=False,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=True,
            max_redirects=max_redirects,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": agent, "Accept-Encoding": ACCEPT_ENCODING},
            trust_env=False,
        )
        # the same pool the client uses (so one set of keep-alive connections); None if a future
        # httpx hides it, and then every request takes the client's path
        pool = getattr(transport, "_pool", None)
        self._pool = pool if isinstance(pool, httpcore.AsyncConnectionPool) else None
        self._headers = [
            (b"User-Agent", agent.encode("latin-1", "replace")),
            (b"Accept", b"*/*"),
            (b"Accept-Encoding", ACCEPT_ENCODING.encode()),
        ]
        self._timeouts = {"connect": min(timeout, 10.0), "read": timeout, "write": timeout, "pool": timeout}
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._host_next: dict[str, float] = {}
        self._host_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _polite_wait(self, host: str) -> None:
        """Keep ``delay`` seconds between the starts of two requests to one host."""
        if self.delay <= 0:
            return
        lock = self._host_locks.setdefault(host, asyncio.Lock())
        async with lock:
            now = time.monotonic()
            wait = self._host_next.get(host, now) - now
            if wait > 0:
                await asyncio.sleep(wait)
            self._host_next[host] = time.monotonic() + self.delay

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, accept: str | None = None
    ) -> FetchedPage:
        """GET ``url`` (conditionally if ``etag``/``last_modified`` are given, asking for ``accept``
        instead of anything); see the module doc."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"{url}: only http(s) URLs are fetched")
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        host = parts.netloc
        attempt = 0
        while True:
            page, retry_after, error = await self._attempt(url, headers, host)
            if page is not None and page.status_code in DEFINITIVE:
                return page
            if page is not None:
                error = f"{url}: HTTP {page.status_code}"
                if page.status_code not in RETRY_STATUSES:
                    raise FetchError(error)
            wait = self._retry_wait(attempt, error, retry_after)
            logger.debug("retrying %s in %.2f s: %s", url, wait, error)
            attempt += 1
            await asyncio.sleep(wait)

    async def content_type(self, url: str, accept: str) -> str | None:
        """The Content-Type a HEAD of ``url`` asking for ``accept`` answers with (what content
        negotiation would give), or None if it fails; one try, no retries: a probe, not a page."""
        try:
            async with asyncio.timeout(self.timeout):
                resp = await self._client.head(url, headers={"Accept": accept})
        except (TimeoutError, httpx.HTTPError, httpx.InvalidURL):
            return None
        return resp.headers.get("Content-Type", "") if resp.status_code == 200 else None

    async def _attempt(
        self, url: str, headers: dict[str, str], host: str
    ) -> tuple[FetchedPage | None, float | None, str]:
        """One request within the host's limits: (page, Retry-After, "") or (None, None, why it may be
        retried); FetchError for what a retry cannot fix."""
        async with self._host_slots.setdefault(host, asyncio.Semaphore(self.concurrency)):
            await self._polite_wait(host)
            try:
                # a whole request (connect, headers, body) gets at most twice the per-read timeout;
                # asyncio.timeout costs far less than wait_for (no extra task per request)
                async with asyncio.timeout(self.timeout * 2):
                    page, retry_after = await self._get(url, headers)
                return page, retry_after, ""
            except TimeoutError:
                return None, None, f"{url}: timed out after {self.timeout * 2:.0f} s"
            except (httpx.ConnectError, httpcore.ConnectError) as exc:
                return None, None, f"{UNREACHABLE} {host} ({_connect_reason(exc)})"
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                return None, None, f"{url}: {_describe(exc)}"
            except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.RemoteProtocolError) as exc:
                return None, None, f"{url}: {_describe(exc)}"
            except httpx.TooManyRedirects as exc:
                raise FetchError(f"{url}: too many redirects ({exc})") from exc
            except (httpx.HTTPError, httpx.InvalidURL, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
                raise FetchError(f"{url}: {_describe(exc)}") from exc

    def _retry_wait(self, attempt: int, error: str, retry_after: float | None) -> float:
        """Seconds to wait before retrying after ``attempt`` failed; FetchError when not to retry."""
        if attempt >= self.retries:
            kind = UnreachableError if error.startswith(UNREACHABLE) else FetchError
            raise kind(error + (f" (after {attempt + 1} attempts)" if attempt else ""))
        wait = backoff_seconds(attempt, self.backoff_base)
        if retry_after is not None:
            if retry_after > MAX_RETRY_AFTER:
                raise FetchError(f"{error}; server asks to retry after {retry_after:.0f} s")
            wait = max(wait, retry_after)
        return wait

    async def _get(self, url: str, headers: dict[str, str]) -> tuple[FetchedPage, float | None]:
        if self._pool is not None:
            direct = await self._get_direct(url, headers)
            if direct is not None:
                return direct
        return await self._get_via_client(url, headers)

    async def _get_direct(self, url: str, headers: dict[str, str]) -> tuple[FetchedPage, float | None] | None:
        """The answer straight from the connection pool, redirects followed; None if it needs the
        client (an encoding we did not ask for)."""
        assert self._pool is not None
        own = self._headers if "Accept" not in headers else [h for h in self._headers if h[0] != b"Accept"]
        sent = own + [(k.encode(), v.encode("latin-1", "replace")) for k, v in headers.items()]
        target = _wire_form(url)
        for _hop in range(self.max_redirects + 1):
            async with self._pool.stream(
                b"GET", target.encode(), headers=sent, extensions={"timeout": self._timeouts}
            ) as resp:
                h = httpx.Headers(resp.headers)
                decoder = _decoder(h.get("Content-Encoding", "identity").strip().lower())
                location = h.get("Location") if resp.status in REDIRECTS else None
                if location is not None or decoder is False:
                    async for _chunk in resp.aiter_stream():  # read it all: the connection stays usable
                        pass
                else:
                    body = await self._read_direct(target, h, resp.aiter_stream(), decoder)
            if decoder is False:
                return None
            if location is None:
                break
            target = _wire_form(urljoin(target, location.strip()))
            if urlsplit(target).scheme not in ("http", "https"):
                raise FetchError(f"{url}: redirected to a non-http(s) URL {target}")
        else:
            raise FetchError(f"{url}: too many redirects (more than {self.max_redirects})")
        return _answer(url, target, resp.status, h, body)

    async def _read_direct(
        self, url: str, h: httpx.Headers, chunks: AsyncIterator[bytes], decoder: Any | None
    ) -> bytes:
        """The body, decoded, within ``max_bytes`` (raw and decoded both: a small gzip bomb is caught)."""
        declared = h.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"{url}: body of {int(declared)} bytes is over the {self.max_bytes}-byte cap")
        parts: list[bytes] = []
        size = 0
        async for chunk in chunks:
            if decoder is not None:
                try:
                    chunk = decoder.decompress(chunk, self.max_bytes + 1 - size)
                except zlib.error as exc:
                    raise FetchError(f"{url}: body is not valid {h.get('Content-Encoding')} ({exc})") from exc
                if decoder.unconsumed_tail:  # more output than the cap leaves room for
                    size = self.max_bytes + 1
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"{url}: body is over the {self.max_bytes}-byte cap; not stored")
            parts.append(chunk)
        if decoder is not None:
            parts.append(decoder.flush())
        return b"".join(parts)

    async def _get_via_client(self, url: str, headers: dict[str, str]) -> tuple[FetchedPage, float | None]:
        async with self._client.stream("GET", url, headers=headers) as resp:
            final_url = str(resp.url)
            if final_url != url and urlsplit(final_url).scheme not in ("http", "https"):
                raise FetchError(f"{url}: redirected to a non-http(s) URL {final_url}")
            # read every body, even a 304's or a 404's: a connection left with unread bytes can't be
            # reused, and a new connection per request would halve the no-change run's speed
            body = await self._read_capped(url, resp)
            return _answer(url, final_url, resp.status_code, resp.headers, body)

    async def _read_capped(self, url: str, resp: httpx.Response) -> bytes:
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"{url}: body of {int(declared)} bytes is over the {self.max_bytes}-byte cap")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"{url}: body is over the {self.max_bytes}-byte cap; not stored")
            chunks.append(chunk)
        return b"".join(chunks)


UNREACHABLE = "cannot reach"  # how an error that got no answer at all begins (UnreachableError)
_REASONS = (
    ("refused", "connection refused"),
    ("all connection attempts failed", "connection refused"),  # anyio's word for it
    ("name or service not known", "no such host name"),
    ("nodename nor servname", "no such host name"),
    ("temporary failure in name resolution", "host name could not be resolved"),
    ("no route", "no route to host"),
    ("network is unreachable", "network is unreachable"),
    ("timed out", "connection timed out"),
    ("certificate", "TLS certificate not trusted"),
)


def _answer(url: str, final_url: str, status: int, h: httpx.Headers, body: bytes) -> tuple[FetchedPage, float | None]:
    """The page a response makes (body kept only for a 200) and its Retry-After, whichever path it
    took; FetchError for a bot challenge in the page's place."""
    if h.get("cf-mitigated", "").lower() == "challenge":
        raise FetchError(f"{url}: answered with a bot challenge (cf-mitigated: challenge), not the page")
    page = FetchedPage(
        url,
        final_url,
        status,
        h.get("Content-Type", ""),
        body if status == 200 else b"",
        h.get("ETag"),
        h.get("Last-Modified"),
        h.get("Vary", ""),
    )
    return page, retry_after_seconds(h.get("Retry-After"))


_UNSAFE = frozenset(' "<>\\^`{|}')


def _wire_form(url: str) -> str:
    """The URL as it goes on the wire: as it is when plain ASCII (nearly always), else as httpx
    percent-encodes it (spaces, non-ASCII paths, IDNA hosts)."""
    if url.isascii() and url.isprintable() and not _UNSAFE.intersection(url):
        return url
    return str(httpx.URL(url))


def _decoder(encoding: str) -> Any | None | bool:
    """A zlib decompressor for a Content-Encoding we asked for, None for none, False for any other
    (left to httpx, which knows more of them)."""
    if encoding in ("identity", ""):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Deflate()
    return False


class _Deflate:
    """``deflate`` as servers send it: zlib-wrapped as the RFC says, or raw as some do."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj()
        self._first = True

    @property
    def unconsumed_tail(self) -> bytes:
        return self._d.unconsumed_tail

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._d.decompress(data, max_length)
            except zlib.error:
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._d.decompress(data, max_length)

    def flush(self) -> bytes:
        return self._d.flush()


def _connect_reason(exc: httpx.ConnectError | httpcore.ConnectError) -> str:
    """Why a connection failed, in a few words (the OS's message, less its errno)."""
    text = str(exc)
    for needle, reason in _REASONS:
        if needle in text.lower():
            return reason
    return text or type(exc).__name__


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc)
    return f"{name}: {text}" if text else name
