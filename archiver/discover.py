"""A site's page list: the explicit ``pages`` plus every ``<loc>`` of its sitemap under ``base_url``.

Sitemaps may be sitemap indexes (followed recursively, loops and depth bounded) and may be
gzip-compressed. A sitemap that cannot be read fails the site's discovery (FetchError), so a
flaky sitemap never makes pages look removed.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from urllib.parse import urldefrag, urljoin

from lxml import etree

from archiver.config import Site
from archiver.errors import FetchError
from archiver.fetch import Fetcher

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
    return [(el.text or "").strip() for el in root.iter("{*}loc") if (el.text or "").strip()]


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


async def discover_pages(site: Site, fetcher: Fetcher) -> list[str]:
    """The site's page URLs, explicit pages first, without duplicates."""
    urls = site.page_urls()
    if site.sitemap:
        urls += await sitemap_urls(fetcher, site.sitemap, site.base_url)
    return list(dict.fromkeys(urls))
