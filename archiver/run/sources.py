"""Where a site's pages are taken from: the Markdown the site publishes for them, or their HTML.

Many docs hosts publish each page's source: a ``<link rel="alternate" type="text/markdown">`` in
the page's head, a ``<url>.md`` twin beside it, or the page's own URL answering
``Accept: text/markdown``. That Markdown is the author's text, line for line, so a diff of it is
the author's edit; converted HTML is a reconstruction. ``source: auto`` (the default) looks at up
to :data:`SAMPLES` of a site's pages on its first run, and again each ``revalidate_after`` while
the site is archived from HTML, and takes the Markdown when most of them have it; the decision is
kept in the state (``SiteState.source``). ``source: markdown`` asks every page's twin first,
``source: html`` never does.

Per page, the twin is asked first only when it can pay: a page archived from its twin, a new page,
a page whose HTML links to its Markdown, one whose revalidation turn has come, and every page in
the run that switches the site. A page known to have no twin is fetched as HTML alone, so a site
with twins for only some pages makes no extra request per page and run. A page whose source
changes is committed apart, as a ``Change-Kind: rules`` commit (see ``pipeline``): a change of
source is never a change of the docs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from archiver.archive.state import PageState, SiteState
from archiver.config import Site
from archiver.convert.page import kind_of
from archiver.errors import FetchError
from archiver.fetch.client import Fetcher
from archiver.models import FetchedPage
from archiver.run.worker import fetcher_for, markdown_twin

logger = logging.getLogger(__name__)

SAMPLES = 3  # pages looked at to tell whether a site publishes Markdown
MARKDOWN = "text/markdown"


@dataclass(frozen=True)
class Source:
    """Where this run takes the site's pages from."""

    mode: str  # "markdown" or "html"
    how: str = ""  # for markdown: "link", "suffix" (<url>.md) or "accept" (Accept: text/markdown)
    switched: bool = False  # the site was archived from the other source until this run

    def twin_of(self, url: str, ps: PageState | None, conditional: bool) -> str | None:
        """Where to ask the page's Markdown first (its own URL for ``accept``), or None: the HTML."""
        if self.mode != "markdown":
            return None
        known = ps is not None and ps.path is not None
        if known and ps is not None and not ps.twin and not ps.twin_url and conditional and not self.switched:
            return None  # known to have no twin: its HTML alone until its revalidation turn
        if ps is not None and ps.twin_url:
            return ps.twin_url
        if self.how == "link":
            return None  # the page's HTML says where (PageJob.twin_link)
        return url if self.how == "accept" else markdown_twin(url)

    def links_to_twin(self, ps: PageState | None) -> bool:
        """Whether the page's twin is to be found from its HTML's link, this run."""
        return self.mode == "markdown" and self.how == "link" and (ps is None or not ps.twin_url)


def is_markdown(page: FetchedPage, url: str, negotiated: bool) -> bool:
    """A 200 that is Markdown (or plain text), not an HTML page served for every path."""
    if page.status_code != 200 or not page.body.strip():
        return False
    kind = kind_of(page.content_type, "" if negotiated else url)
    ok = kind == "markdown" if negotiated else kind in ("markdown", "text")
    return ok and page.body.lstrip()[:1] != b"<"


def decide(site: Site, state: SiteState, urls: list[str], now: float) -> Source:
    """This run's source for the site, looked for again when its time has come (``state.source`` is
    updated). A site archived from HTML whose pages turn out to link to their Markdown switches at
    once, without waiting for its next look."""
    had = state.source.get("mode") or ("markdown" if any(p.twin for p in state.pages.values()) else "html")
    wanted, known = site.source_mode, state.source
    looked = False
    if wanted == "html":
        mode, how = "html", ""
    elif wanted == "markdown" or known and had == "markdown":
        # (auto and archived from Markdown: the pages themselves tell when a twin goes away)
        mode, how = "markdown", known.get("how") or "suffix"
    elif known and now - float(known.get("checked", 0.0)) < site.revalidate_after and not _linked(state, urls):
        mode, how = "html", ""
    else:
        how, looked = _look(site, state, urls), True
        mode = "markdown" if how else "html"
        logger.info("%s: pages taken from %s", site.name, f"their Markdown ({how})" if how else "their HTML")
    if looked or mode != known.get("mode") or how != known.get("how", ""):
        checked = now if looked else float(known.get("checked", 0.0))  # (0: never looked)
        state.source = {"mode": mode, "how": how, "checked": checked}
    return Source(mode, how, switched=bool(state.pages) and mode != had)


def _samples(state: SiteState, urls: list[str]) -> list[str]:
    """Up to SAMPLES of the site's pages, the same ones each run (by a hash of the URL)."""
    return sorted(urls, key=lambda url: hashlib.blake2b(url.encode(), digest_size=8).digest())[:SAMPLES]


def _linked(state: SiteState, urls: list[str]) -> bool:
    """Whether most of the site's HTML pages link to their Markdown (``rel="alternate"``, read when
    they were converted and kept as ``PageState.twin_url``): no request needed to know it."""
    html = [state.pages[u] for u in urls if u in state.pages and not state.pages[u].twin and state.pages[u].path]
    return bool(html) and 2 * sum(1 for p in html if p.twin_url) > len(html)


def _look(site: Site, state: SiteState, urls: list[str]) -> str:
    """How the site publishes its pages' Markdown ("link", "suffix", "accept"), or "" if most of the
    sample pages have none. Links are read from what the runs kept; the rest costs two small
    requests per sample page (``<url>.md``, and a HEAD asking for text/markdown), made together."""
    if _linked(state, urls):
        return "link"
    samples = _samples(state, urls)
    if not samples:
        return ""

    async def look() -> list[str]:
        async with fetcher_for(site) as fetcher:
            return list(await asyncio.gather(*(_look_at(fetcher, url) for url in samples)))

    hows = [h for h in asyncio.run(look()) if h]
    if 2 * len(hows) <= len(samples):
        return ""
    return max(sorted(set(hows)), key=hows.count)


async def _look_at(fetcher: Fetcher, url: str) -> str:
    """How this page's Markdown is published, or ""."""
    twin = markdown_twin(url)
    suffix, negotiated = await asyncio.gather(_fetch_or_none(fetcher, twin), fetcher.content_type(url, MARKDOWN))
    if suffix is not None and is_markdown(suffix, twin, False):
        return "suffix"
    if negotiated is not None and kind_of(negotiated, "") == "markdown":
        return "accept"
    return ""


async def _fetch_or_none(fetcher: Fetcher, url: str) -> FetchedPage | None:
    try:
        return await fetcher.fetch(url)
    except FetchError:
        return None
