"""Volatility inside the content (issue 11, item 1): what a CDN or a host changes on every response
or deploy never becomes a change, and what really changes still does.

The server here renders its pages on every request, as a CDN in front of a docs site does: a
Cloudflare-obfuscated email with a new key, an image URL signed anew (AWS SigV4, GCS, Azure SAS,
CloudFront), links carrying new tracking parameters, assets with a new cache buster.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import FaultHandler, FaultServer, commit_count, git, make_config, make_site

from archiver.archive.repo import ArchiveRepo
from archiver.run.pipeline import run
from archiver.urls import canonical, decode_cfemail

ADDRESS = "support@acme.example"


def cfemail(address: str, key: int) -> str:
    return f"{key:02x}" + "".join(f"{b ^ key:02x}" for b in address.encode())


def volatile_page(n: int, text: str) -> bytes:
    """The same docs page as the n-th response of a CDN renders it."""
    key = 17 + n * 37 % 200
    signed = (
        f"https://bucket.s3.amazonaws.com/diagram.png?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential=AKIA{n}%2F20261201%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=2026120{n % 10}T000000Z"
        f"&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature={n:064x}"
    )
    return (
        "<html><body><main><h1>Support</h1>"
        f"<p>{text}</p>"
        f'<p>Write to <a href="/cdn-cgi/l/email-protection#{cfemail(ADDRESS, key)}">'
        f'<span class="__cf_email__" data-cfemail="{cfemail(ADDRESS, key)}">[email&#160;protected]</span></a>.</p>'
        f'<p>Or <a class="__cf_email__" href="/cdn-cgi/l/email-protection" data-cfemail="{cfemail(ADDRESS, key + 1)}">'
        "[email&#160;protected]</a>.</p>"
        f'<p><img src="{signed}" alt="Architecture"></p>'
        f'<p><img src="https://storage.googleapis.com/b/chart.svg?X-Goog-Algorithm=GOOG4-RSA-SHA256'
        f'&X-Goog-Date=2026120{n % 10}&X-Goog-Expires=900&X-Goog-Signature={n:040x}" alt="Chart"></p>'
        f'<p><img src="https://acme.blob.core.windows.net/img/flow.png?sv=2022-11-02&se=2026-12-0{n % 9 + 1}'
        f'&sr=b&sp=r&sig={n:032x}" alt="Flow"></p>'
        f'<p><img src="https://d111.cloudfront.net/pic.jpg?Expires={1700000000 + n}&Signature={n:030x}'
        f'&Key-Pair-Id=K2JCJMDEHXQW5F" alt="Pic"></p>'
        f'<p>See the <a href="/guide.html?utm_source=docs&utm_campaign=r{n}&gclid={n:08x}&section=limits">guide</a>'
        f' and the <a href="https://acme.example/api?fbclid=x{n}&version=2">v2 API</a>.</p>'
        f'<p><img src="/static/logo.png?v={n}" alt="Logo"> <a href="/static/app.css?ver={n}">styles</a></p>'
        "</main></body></html>"
    ).encode()


class VolatileHandler(FaultHandler):
    def route(self) -> bool:
        server: VolatileServer = self.server  # type: ignore[assignment]
        if self.path.split("?", 1)[0] == "/support.html":
            self.send_body(200, volatile_page(next(server.responses), server.text), "text/html")
            return True
        return super().route()


class VolatileServer(FaultServer):
    def __init__(self, root: Path) -> None:
        super().__init__(root, VolatileHandler)
        self.responses = itertools.count(1)
        self.text = "Our support answers within a day."


@pytest.fixture
def volatile(tmp_path: Path) -> Iterator[VolatileServer]:
    (tmp_path / "www").mkdir()
    with VolatileServer(tmp_path / "www") as server:
        yield server


def archive_once(server: FaultServer, repo: ArchiveRepo) -> None:
    report = run(make_config(make_site(server.url, ["support.html"])), repo, workers=1).sites[0]
    assert not report.failed, report.results


def test_every_response_differs_yet_nothing_changes(volatile: VolatileServer, archive: ArchiveRepo) -> None:
    for _ in range(3):
        archive_once(volatile, archive)
    assert commit_count(archive.path) == 1
    text = (archive.path / "docs/support.md").read_text()
    assert f"[{ADDRESS}](mailto:{ADDRESS})" in text
    assert text.count(ADDRESS) == 4 and "protected" not in text and "cdn-cgi" not in text
    assert "![Architecture](https://bucket.s3.amazonaws.com/diagram.png)" in text
    assert "![Chart](https://storage.googleapis.com/b/chart.svg)" in text
    assert "![Flow](https://acme.blob.core.windows.net/img/flow.png)" in text
    assert "![Pic](https://d111.cloudfront.net/pic.jpg)" in text
    assert f"[guide]({volatile.url}guide.html?section=limits)" in text  # the real parameter stays
    assert "[v2 API](https://acme.example/api?version=2)" in text  # a link's version is the point
    assert f"![Logo]({volatile.url}static/logo.png)" in text and f"[styles]({volatile.url}static/app.css)" in text


def test_a_real_change_among_the_volatility_still_shows(volatile: VolatileServer, archive: ArchiveRepo) -> None:
    archive_once(volatile, archive)
    volatile.text = "Our support answers within two days."
    archive_once(volatile, archive)
    assert commit_count(archive.path) == 2
    diff = git(archive.path, "show", "--format=", "-U0", "HEAD")
    changed = [
        line for line in diff.splitlines() if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert changed == ["-Our support answers within a day.", "+Our support answers within two days."]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.org/a?utm_source=a&utm_medium=b&id=3", "https://x.org/a?id=3"),
        ("https://x.org/a?id=3&pk_campaign=x&mtm_kwd=y&_ga=1&_gl=2", "https://x.org/a?id=3"),
        ("https://x.org/api?sig=abc", "https://x.org/api?sig=abc"),  # a lone sig is an API's own
        ("https://x.org/f.pdf?Signature=a", "https://x.org/f.pdf?Signature=a"),  # no scheme says so
        ("https://b.s3.amazonaws.com/k?AWSAccessKeyId=AK&Expires=17&Signature=s%3D", "https://b.s3.amazonaws.com/k"),
        ("https://s.googleapis.com/o?GoogleAccessId=a&Expires=1&Signature=s", "https://s.googleapis.com/o"),
        ("https://x.org/page?v=2", "https://x.org/page?v=2"),  # a page's v is kept...
        ("https://x.org/app.js?v=2&lang=en", "https://x.org/app.js?lang=en"),  # ...an asset's is not
        ("https://x.org/a?b=%2F&c=1&utm_id=z", "https://x.org/a?b=%2F&c=1"),  # kept bytes stay as they were
        ("https://x.org/a?b=1&&c=2", "https://x.org/a?b=1&c=2"),
        ("https://x.org/plain", "https://x.org/plain"),
        ("http://[your-host]/x?utm_source=1", "http://[your-host]/x?utm_source=1"),  # not a URL: as it was
    ],
)
def test_canonical(url: str, expected: str) -> None:
    assert canonical(url) == expected


def test_decode_cfemail_refuses_what_is_no_address() -> None:
    assert decode_cfemail(cfemail(ADDRESS, 0x5A)) == ADDRESS
    assert decode_cfemail("zz") is None and decode_cfemail("12") is None
    assert decode_cfemail(cfemail("no at sign", 3)) is None
