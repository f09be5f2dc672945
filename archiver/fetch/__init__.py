"""Getting pages off the network: the HTTP client, and discovery (listed pages, sitemaps,
llms.txt, crawls). httpx lives here only."""

from __future__ import annotations

from archiver.fetch.client import Fetcher, tls_context
from archiver.fetch.discover import Discovery, discover_pages, listed_pages, url_filter

__all__ = ["Discovery", "Fetcher", "discover_pages", "listed_pages", "tls_context", "url_filter"]
