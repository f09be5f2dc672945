"""A site's page list: explicit ``pages``, a sitemap, an llms.txt and a crawl, combined, then
filtered by ``include`` / ``exclude`` and the host's robots.txt.

Sitemaps may be sitemap indexes (followed recursively, loops, depth and size bounded) and may be
gzip-compressed. A sitemap or llms.txt that cannot be read fails the site's discovery
(FetchError), so a flaky sitemap never makes pages look removed.

Patterns in ``include`` / ``exclude`` are shell globs (``*`` also matches ``/``) matched against
the URL's path under ``base_url`` (``api/*``, ``*changelog*``), or regular expressions searched in
the whole URL when written ``re:<regex>``. A URL is kept if it matches some include (or there is
none) and no exclude.
"""

from __future__ import annotations

import fnmatch
import gzip
import logging
import re
import urllib.robotparser
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from lxml import etree

from archiver.config import Site
from archiver.errors import FetchError, UnreachableError
from archiver.fetch.client import USER_AGENT, Fetcher
from archiver.fetch.crawl import clean_link, crawl
from archiver.models import FetchedPage

logger = logging.getLogger(__name__)

MAX_SITEMAPS = 50
MAX_SITEMAP_DEPTH = 3
MAX_URLS = 50_000


def _xml(body: bytes, url: str) -> etree._Element:
    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as exc:
            raise FetchError(f"{url}: bad gzip data in sitemap: {exc}") from exc
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        return etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise FetchError(f"{url}: malformed sitemap XML: {exc}") from exc


def _locs(root: etree._Element) -> list[str]:
    found = (clean_link(el.text or "") for el in root.iter("{*}loc"))
    return [loc for loc in found if loc]


async def sitemap_urls(fetcher: Fetcher, sitemap: str, base_url: str) -> list[str]:
    """Every page URL under ``base_url`` listed by ``sitemap`` (and the sitemaps it indexes)."""
    pages: list[str] = []
    seen_maps: set[str] = set()
    queue: list[tuple[str, int]] = [(sitemap, 0)]
    while queue:
        url, depth = queue.pop(0)
        if url in seen_maps:
            continue
        seen_maps.add(url)
        if len(seen_maps) > MAX_SITEMAPS:
            logger.warning("%s: more than %d sitemaps; ignoring the rest", sitemap, MAX_SITEMAPS)
            break
        page = await fetcher.fetch(url)
        if page.status_code != 200:
            raise FetchError(f"{url}: sitemap answered HTTP {page.status_code}")
        root = _xml(page.body, url)
        tag = etree.QName(root).localname
        if tag == "sitemapindex":
            if depth >= MAX_SITEMAP_DEPTH:
                logger.warning("%s: sitemap index nested deeper than %d; not followed", url, MAX_SITEMAP_DEPTH)
                continue
            queue.extend((urljoin(url, loc), depth + 1) for loc in _locs(root))
        elif tag == "urlset":
            for loc in _locs(root):
                full = urldefrag(urljoin(url, loc))[0]
                if full.startswith(base_url):
                    pages.append(full)
                if len(pages) >= MAX_URLS:
                    logger.warning("%s: more than %d URLs; ignoring the rest", sitemap, MAX_URLS)
                    return pages
        else:
            raise FetchError(f"{url}: not a sitemap (root element <{tag}>)")
    return pages


_LLMS_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


async def llms_txt_urls(fetcher: Fetcher, llms_txt: str, base_url: str) -> list[str]:
    """The page URLs under ``base_url`` that an llms.txt links to (its Markdown links)."""
    page = await fetcher.fetch(llms_txt)
    if page.status_code != 200:
        raise FetchError(f"{llms_txt}: llms.txt answered HTTP {page.status_code}")
    text = page.body.decode("utf-8", errors="replace")
    urls = []
    for target in _LLMS_LINK.findall(text):
        link = clean_link(target)
        if link is None:
            continue
        try:
            full = urldefrag(urljoin(llms_txt, link))[0]
        except ValueError:
            continue
        if full.startswith(base_url):
            urls.append(full)
    return urls


def url_filter(site: Site, *, excludes_only: bool = False) -> Callable[[str], bool]:
    """A predicate for the site's include / exclude patterns (see the module docstring); or for
    the excludes alone (a crawl follows links through pages it won't keep, never into excluded ones)."""

    def compile_one(pattern: str) -> re.Pattern[str]:
        if pattern.startswith("re:"):
            return re.compile(pattern[3:])
        return re.compile(fnmatch.translate(pattern))

    includes = [] if excludes_only else [(p.startswith("re:"), compile_one(p)) for p in site.include]
    excludes = [(p.startswith("re:"), compile_one(p)) for p in site.exclude]

    def hit(rules: list[tuple[bool, re.Pattern[str]]], url: str, rel: str) -> bool:
        return any(rx.search(url) if is_re else rx.match(rel) for is_re, rx in rules)

    def allowed(url: str) -> bool:
        rel = unquote(url[len(site.base_url) :]) if url.startswith(site.base_url) else url
        return (not includes or hit(includes, url, rel)) and not hit(excludes, url, rel)

    return allowed


async def robots_filter(fetcher: Fetcher, site: Site) -> Callable[[str], bool]:
    """A predicate saying what the host's robots.txt lets archiver fetch (everything if none).

    As RFC 9309 asks, a robots.txt that answers 4xx allows everything, and one that cannot be
    read (5xx, network error) disallows everything for this run.
    """
    if not site.robots:
        return lambda url: True
    parts = urlsplit(site.base_url)
    robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
    try:
        page = await fetcher.fetch(robots_url)
    except UnreachableError:
        raise  # the host is down or mistyped: no answer from robots.txt says nothing about robots
    except FetchError as exc:
        raise FetchError(f"{robots_url} could not be read, so nothing may be fetched ({exc})") from exc
    if page.status_code != 200:
        return lambda url: True
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(page.body.decode("utf-8", errors="replace").splitlines())
    agent = site.user_agent or USER_AGENT
    return lambda url: parser.can_fetch(agent, url)


@dataclass
class Discovery:
    """What discovery found: the page URLs, and the pages a crawl already fetched."""

    urls: list[str]
    prefetched: dict[str, FetchedPage]
    links: dict[str, list[str]]
    excluded: int = 0  # URLs dropped by include/exclude or robots.txt


def listed_pages(site: Site) -> Discovery:
    """The pages listed by hand, after include / exclude; no request is made."""
    keep = url_filter(site)
    urls = site.page_urls()
    kept = [u for u in urls if keep(u)]
    return Discovery(kept, {}, {}, excluded=len(urls) - len(kept))


async def discover_pages(
    site: Site,
    fetcher: Fetcher,
    known: dict[str, tuple[str | None, str | None, list[str] | None]] | None = None,
) -> Discovery:
    """The site's page URLs, explicit pages first, then sitemap, llms.txt and crawl, deduplicated."""
    listed = listed_pages(site)
    if not site.discovers:
        return listed
    # robots.txt speaks to crawlers: it governs what sitemaps, llms.txt and crawls turn up, not the
    # pages a user listed by hand (a fetcher like urlwatch, asked for one URL, doesn't read it either)
    robots = await robots_filter(fetcher, site)
    patterns = url_filter(site)
    found: list[str] = []
    if site.sitemap:
        found += await sitemap_urls(fetcher, site.sitemap, site.base_url)
    if site.llms_txt:
        found += await llms_txt_urls(fetcher, site.llms_txt, site.base_url)
    prefetched: dict[str, FetchedPage] = {}
    links: dict[str, list[str]] = {}
    if site.crawl:
        # the crawl goes through pages outside `include` (to reach the included ones) but never
        # into excluded ones: exclude is how a user fences off an endless or heavy part of a site
        not_excluded = url_filter(site, excludes_only=True)

        def follow(url: str) -> bool:
            return not_excluded(url) and robots(url)

        result = await crawl(fetcher, site.crawl, site.base_url, follow, known or {})
        found += result.urls
        prefetched, links = result.pages, result.links
    by_hand = set(site.page_urls())  # already judged by listed_pages
    discovered = [u for u in dict.fromkeys(found) if u not in by_hand]
    kept = [u for u in discovered if patterns(u) and robots(u)]
    excluded = listed.excluded + len(discovered) - len(kept)
    return Discovery(list(dict.fromkeys(listed.urls + kept)), prefetched, links, excluded=excluded)
