"""A bounded crawl: follow links from start pages, breadth first, staying under the base URL.

Every page the crawl fetches is handed on to the pipeline (``prefetched``), so a page is requested
once per run. Requests are conditional when the last run knew the page; a 304 reuses the links
the last run saw (kept in state), so an unchanged site is crawled with 304s only.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree

from archiver.config import Crawl
from archiver.errors import FetchError
from archiver.fetch.client import Fetcher
from archiver.models import FetchedPage
from archiver.paths import page_key
from archiver.text import has_control
from archiver.urls import canonical

logger = logging.getLogger(__name__)

# links to these are files, not pages: not followed
ASSET_EXTENSIONS = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".webp",
        ".ico",
        ".bmp",
        ".pdf",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".tar",
        ".whl",
        ".egg",
        ".exe",
        ".dmg",
        ".msi",
        ".css",
        ".js",
        ".map",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".mp4",
        ".webm",
        ".mp3",
        ".ogg",
        ".wav",
        ".epub",
        ".mobi",
        ".inv",
        ".doctree",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_url(url: str, query: str = "drop") -> str:
    """Canonical form of a link: no fragment, lower-case scheme and host, no default port, dot
    segments resolved, and the query dropped, sorted or kept (``query``; a kept one without
    tracking parameters or signatures, see urls.canonical)."""
    url = urldefrag(url)[0]
    if query != "drop":
        url = canonical(url, asset=False)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    path = parts.path or "/"
    resolved = posixpath.normpath(path)
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    if query == "drop":
        q = ""
    elif query == "sort":
        q = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    else:
        q = parts.query
    return urlunsplit((scheme, netloc, resolved, q, ""))


_TAB_OR_NEWLINE = re.compile("[\t\n\r]")


def clean_link(text: str) -> str | None:
    """A link as a browser reads it (tabs and line breaks inside are dropped, per the URL standard),
    or None if it still holds a control code: such a URL is hostile, never a page."""
    text = _TAB_OR_NEWLINE.sub("", text.strip())
    return None if not text or has_control(text) else text


def page_links(body: bytes, url: str) -> list[str]:
    """The absolute targets of a page's ``<a href>`` links (honouring ``<base href>``)."""
    try:
        doc: Any = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return []
    base = url
    for href in doc.xpath("//base/@href"):
        base = urljoin(url, str(href))
        break
    out = []
    for href in doc.xpath("//a/@href"):
        text = clean_link(str(href)) or ""
        if text and not text.startswith(("mailto:", "javascript:", "tel:", "data:", "#")):
            try:
                out.append(urljoin(base, text))
            except ValueError:
                continue
    return out


Known = dict[str, tuple[str | None, str | None, list[str] | None]]  # url -> (etag, last_modified, links)


@dataclass
class CrawlResult:
    """The pages a crawl found, in discovery order, with what it fetched and the links it saw."""

    urls: list[str] = field(default_factory=list)
    pages: dict[str, FetchedPage] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


class _Crawler:
    """One crawl's frontier and what it found, level by level (each level fetched concurrently)."""

    def __init__(self, settings: Crawl, base_url: str, allowed: Callable[[str], bool], known: Known) -> None:
        self.settings, self.base_url, self.allowed, self.known = settings, base_url, allowed, known
        self.result = CrawlResult()
        self.seen: set[str] = set()
        self.frontier: list[tuple[str, int]] = []

    def admit(self, url: str, depth: int) -> None:
        """Queue ``url`` if it is a page under the base, allowed, new, and within ``max_pages``."""
        url = normalise_url(url, self.settings.query)
        if not url.startswith(self.base_url) or not self.allowed(url):
            return
        if posixpath.splitext(urlsplit(url).path)[1].lower() in ASSET_EXTENSIONS:
            return
        key = page_key(self.base_url, url)
        if key in self.seen or len(self.seen) >= self.settings.max_pages:
            return
        self.seen.add(key)
        self.frontier.append((url, depth))

    def follow(self, links: list[str], depth: int) -> None:
        if depth < self.settings.max_depth:
            for link in links:
                self.admit(link, depth + 1)

    async def visit(self, fetcher: Fetcher, url: str, depth: int) -> None:
        result = self.result
        etag, last_modified, links = self.known.get(url, (None, None, None))
        if links is None:
            etag = last_modified = None  # without last run's links a 304 would leave us blind
        try:
            page = await fetcher.fetch(url, etag=etag, last_modified=last_modified)
        except FetchError as exc:
            result.failed[url] = str(exc)
            result.urls.append(url)
            # a page that fails today still leads where it led last time: without this, one broken
            # start page would make every page behind it look removed
            result.links[url] = links or []
            self.follow(links or [], depth)
            return
        result.pages[url] = page
        result.urls.append(url)
        final = normalise_url(page.final_url, self.settings.query)
        if final != url and not final.startswith(self.base_url):
            return  # redirects off-site: the pipeline reports it
        if page.status_code == 200:
            links = page_links(page.body, page.final_url)
        elif not page.not_modified:
            links = []
        result.links[url] = links or []
        self.follow(links or [], depth)


async def crawl(
    fetcher: Fetcher,
    settings: Crawl,
    base_url: str,
    allowed: Callable[[str], bool],
    known: Known,
) -> CrawlResult:
    """Crawl from ``settings.start`` under ``base_url``; ``allowed`` says which URLs may be visited
    (exclude, robots.txt); ``known`` maps a URL to (etag, last_modified, links) from the last run."""
    crawler = _Crawler(settings, base_url, allowed, known)
    for start in settings.start:
        crawler.admit(urljoin(base_url, start), 0)
    while crawler.frontier:
        batch, crawler.frontier = crawler.frontier, []
        await asyncio.gather(*(crawler.visit(fetcher, url, depth) for url, depth in batch))
    if len(crawler.seen) >= settings.max_pages:
        logger.warning("crawl of %s stopped at max_pages=%d", base_url, settings.max_pages)
    return crawler.result
