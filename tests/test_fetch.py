"""The fetcher against a real loopback server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
import zlib

import pytest
from helpers import FaultServer

from archiver import __version__
from archiver.errors import FetchError, UnreachableError
from archiver.fetch.client import Fetcher, backoff_seconds, retry_after_seconds
from archiver.models import FetchedPage


def fetch(url: str, **kwargs: object) -> FetchedPage:
    options = {"retries": 0, "timeout": 5.0, "backoff_base": 0.01}
    for key in ("retries", "timeout", "max_bytes", "max_redirects", "backoff_base", "delay", "concurrency"):
        if key in kwargs:
            options[key] = kwargs.pop(key)  # type: ignore[assignment]

    async def go() -> FetchedPage:
        async with Fetcher(**options) as f:  # type: ignore[arg-type]
            return await f.fetch(url, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_200_returns_body_headers_and_sends_user_agent(docs_server: FaultServer) -> None:
    page = fetch(docs_server.url + "guide/auth.html")
    assert page.status_code == 200
    assert b"Authentication" in page.body
    assert page.content_type.startswith("text/html")
    assert page.etag and page.etag.startswith('"')
    _, headers = docs_server.request_headers[-1]
    assert headers["User-Agent"].startswith(f"archiver/{__version__}")


def test_etag_gives_304(docs_server: FaultServer) -> None:
    first = fetch(docs_server.url + "index.html")
    again = fetch(docs_server.url + "index.html", etag=first.etag)
    assert again.not_modified and again.body == b""


def test_redirect_is_followed_and_final_url_kept(docs_server: FaultServer) -> None:
    page = fetch(docs_server.url + "redirect")
    assert page.status_code == 200
    assert page.final_url == docs_server.url + "index.html"
    assert page.url == docs_server.url + "redirect"


@pytest.mark.parametrize("code", [404, 410])
def test_gone_is_an_answer_not_an_error(docs_server: FaultServer, code: int) -> None:
    assert fetch(docs_server.url + f"status/{code}").gone


@pytest.mark.parametrize("code", [500, 503, 403])
def test_error_status_raises(docs_server: FaultServer, code: int) -> None:
    with pytest.raises(FetchError, match=f"HTTP {code}"):
        fetch(docs_server.url + f"status/{code}")


def test_5xx_is_retried_with_backoff(docs_server: FaultServer) -> None:
    with pytest.raises(FetchError, match="after 3 attempts"):
        fetch(docs_server.url + "status/502", retries=2)
    assert docs_server.hits["/status/502"] == 3
    with pytest.raises(FetchError):
        fetch(docs_server.url + "status/403", retries=2)
    assert docs_server.hits["/status/403"] == 1  # a 403 is not transient: no retry


def test_retry_after_is_honoured(docs_server: FaultServer) -> None:
    start = time.monotonic()
    page = fetch(docs_server.url + "flaky", retries=1)
    assert page.status_code == 200 and b"now fine" in page.body
    assert docs_server.hits["/flaky"] == 2
    assert time.monotonic() - start >= 0.95  # waited for Retry-After: 1, not the 10 ms backoff


def test_timeout_is_a_fetch_error(docs_server: FaultServer) -> None:
    with pytest.raises(FetchError, match="(?i)timeout|timed out"):
        fetch(docs_server.url + "slow", timeout=0.5)


def test_redirect_loop_is_a_fetch_error(docs_server: FaultServer) -> None:
    with pytest.raises(FetchError, match="too many redirects"):
        fetch(docs_server.url + "loop", max_redirects=5)


def test_body_over_the_cap_is_refused(docs_server: FaultServer) -> None:
    with pytest.raises(FetchError, match="cap"):
        fetch(docs_server.url + "huge", max_bytes=2 * 1024 * 1024)


def test_declared_length_over_the_cap_is_refused_early(docs_server: FaultServer) -> None:
    docs_server.set_page("/big", b"x" * 5000)
    with pytest.raises(FetchError, match="5000 bytes is over"):
        fetch(docs_server.url + "big", max_bytes=1024)


def test_connection_reset_mid_body_is_a_fetch_error(docs_server: FaultServer) -> None:
    with pytest.raises(FetchError):
        fetch(docs_server.url + "reset")


def test_connection_refused_is_a_fetch_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(UnreachableError, match=rf"^cannot reach 127\.0\.0\.1:{port} \(connection refused\)"):
        fetch(f"http://127.0.0.1:{port}/")


def test_only_http_urls_are_fetched() -> None:
    with pytest.raises(FetchError, match="only http"):
        fetch("file:///etc/passwd")


def test_delay_spaces_requests(docs_server: FaultServer) -> None:
    async def go() -> float:
        async with Fetcher(retries=0, delay=0.2, concurrency=4) as f:
            start = time.monotonic()
            await asyncio.gather(*(f.fetch(docs_server.url + "index.html") for _ in range(4)))
            return time.monotonic() - start

    assert asyncio.run(go()) >= 0.6  # three gaps of 0.2 s between four starts


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    when = retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)  # 10 s before
    assert when == pytest.approx(10.0)


def test_backoff_grows_and_is_jittered() -> None:
    samples = [backoff_seconds(3, 0.5) for _ in range(50)]
    assert all(2.0 <= s < 6.0 for s in samples)  # 0.5 × 2³ = 4, jitter ×[0.5, 1.5)
    assert len(set(samples)) > 1


PAGE = b"<main><h1>Compressed</h1><p>" + b"The same sentence again and again. " * 200 + b"</p></main>"


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", lambda b: gzip.compress(b)),
        ("x-gzip", lambda b: gzip.compress(b)),
        ("deflate", lambda b: zlib.compress(b)),  # zlib-wrapped, as RFC 9110 says
        ("deflate", lambda b: zlib.compress(b, wbits=-15)),  # raw, as some servers send it
        ("identity", lambda b: b),
    ],
)
def test_compressed_bodies_are_decoded(docs_server: FaultServer, encoding: str, pack: object) -> None:
    docs_server.set_page("/packed", pack(PAGE), "text/html", 200, **{"Content-Encoding": encoding})  # type: ignore[operator]
    page = fetch(docs_server.url + "packed")
    assert page.body == PAGE
    _, headers = docs_server.request_headers[-1]
    assert headers["Accept-Encoding"] == "gzip, deflate"


def test_a_small_gzip_that_unpacks_over_the_cap_is_refused(docs_server: FaultServer) -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)  # ~5 KB on the wire
    docs_server.set_page("/bomb", bomb, "text/html", 200, **{"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="over the 1000000-byte cap"):
        fetch(docs_server.url + "bomb", max_bytes=1_000_000)


def test_a_corrupt_gzip_body_is_a_fetch_error(docs_server: FaultServer) -> None:
    docs_server.set_page("/corrupt", b"\x1f\x8b\x08\x00garbage" * 20, "text/html", 200, **{"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="not valid gzip"):
        fetch(docs_server.url + "corrupt")


def test_an_encoding_not_asked_for_is_left_to_httpx(docs_server: FaultServer) -> None:
    docs_server.set_page("/odd", b"as sent", "text/plain", 200, **{"Content-Encoding": "x-unheard-of"})
    page = fetch(docs_server.url + "odd")
    assert page.status_code == 200 and page.body == b"as sent"  # httpx passes what it cannot decode


def test_a_relative_redirect_chain_is_followed_with_the_validators(docs_server: FaultServer) -> None:
    docs_server.set_page("/hop1", b"", "text/html", 301, **{"Location": "hop2"})
    docs_server.set_page("/hop2", b"moved", "text/html", 302, **{"Location": "/index.html"})
    page = fetch(docs_server.url + "hop1", etag='"v1"')
    assert page.status_code == 200 and page.final_url == docs_server.url + "index.html"
    assert [p for p, _ in docs_server.request_headers] == ["/hop1", "/hop2", "/index.html"]
    assert all(h.get("If-None-Match") == '"v1"' for _, h in docs_server.request_headers)


def test_a_redirect_off_http_is_refused(docs_server: FaultServer) -> None:
    docs_server.set_page("/ftp", b"", "text/html", 301, **{"Location": "ftp://127.0.0.1/file"})
    with pytest.raises(FetchError, match="non-http"):
        fetch(docs_server.url + "ftp")


def test_a_url_with_spaces_and_non_ascii_is_sent_percent_encoded(docs_server: FaultServer) -> None:
    page = fetch(docs_server.url + "guide/no such é.html")
    assert page.status_code == 404
    assert docs_server.request_headers[-1][0] == "/guide/no%20such%20%C3%A9.html"
