"""``sites.yaml`` as frozen, typed objects: :class:`Config`, :class:`Site` and their parts.

Every check on a value lives on its model (pydantic validators); :mod:`.loading` reads the file
and turns a failed check into a message with the file, the line and the field.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import Annotated, Literal
from urllib.parse import urljoin, urlsplit

from cssselect import GenericTranslator, SelectorError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from archiver.errors import ConfigError
from archiver.schedules import check_schedule

DEFAULT_CONTENT = ["[role=main]", "article", "main", "#content", ".content", "body"]
DEFAULT_STRIP = [
    "nav",
    "footer",
    "header nav",
    ".headerlink",
    ".hash-link",
    "a.anchor",
    ".anchor-link",
    ".copybutton",
    "button",
    "[aria-hidden=true]",
    ".visually-hidden",
    ".sr-only",
]
DEFAULT_AUTHOR = "archiver <archiver@localhost>"
SITE_NAME = re.compile(r"\A[a-z0-9][a-z0-9._-]*\Z")
AUTHOR = re.compile(r"\A(?P<name>[^<>\n]+?)\s*<(?P<email>[^<>\s]+)>\Z")

Seconds = Annotated[float, Field(ge=0)]


def _check_http_url(value: str, what: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ValueError(f"{what} is not a valid URL ({exc}): {value!r}") from None
    if parts.username is not None or parts.password is not None:
        # they would reach commit trailers, the state and the logs; git and httpx have better places
        raise ValueError(
            f"{what} must not carry credentials (user:password@{parts.hostname}); "
            "archiver fetches public docs, and a URL's credentials would end up in commits and logs"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http(s) URL with a host, got {value!r}")
    return value


def _selector_error(selectors: list[str]) -> tuple[int, str] | None:
    for i, sel in enumerate(selectors):
        try:
            GenericTranslator().css_to_xpath(sel)
        except SelectorError as exc:
            return i, f"invalid CSS selector {sel!r}: {exc}"
    return None


def _resolved_path(url: str) -> str:
    """The URL's path with dot segments resolved, also percent-encoded ones (as a server might)."""
    path = re.sub("%2e", ".", urlsplit(url).path, flags=re.IGNORECASE)
    resolved = posixpath.normpath("/" + path.lstrip("/"))
    return resolved + "/" if path.endswith("/") and resolved != "/" else resolved


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Crawl(_Frozen):
    """Follow links from start pages, staying under the site's base_url."""

    start: list[str] = Field(default_factory=lambda: [""])  # relative to base_url; default: base_url itself
    max_pages: Annotated[int, Field(ge=1, le=100_000)] = 1000
    max_depth: Annotated[int, Field(ge=0, le=100)] = 20
    query: Literal["drop", "sort", "keep"] = "drop"  # what to do with ?query strings in links


class Ignore(_Frozen):
    """Per-site noise rules applied before a page is written."""

    selectors: list[str] = Field(default_factory=list)  # CSS selectors to remove (like ``strip``)
    lines: list[str] = Field(default_factory=list)  # regexes: Markdown lines that match are dropped
    mask: list[str] = Field(default_factory=list)  # regexes: matching text is replaced by "…"

    @field_validator("lines", "mask")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return v


class Site(_Frozen):
    """One documentation site to watch. Everything but ``name`` and ``base_url`` has a default."""

    name: str
    base_url: str
    # discovery (combinable): explicit pages, a sitemap, an llms.txt, a crawl; then include/exclude
    pages: list[str] = Field(default_factory=list)
    sitemap: str | None = None
    llms_txt: str | None = None
    crawl: Crawl | None = None
    include: list[str] = Field(default_factory=list)  # globs on the path under base_url, or "re:<regex>"
    exclude: list[str] = Field(default_factory=list)
    robots: bool = True  # obey the host's robots.txt
    # content
    content: list[str] = Field(default_factory=list)  # empty: the generator's defaults, then DEFAULT_CONTENT
    strip: list[str] = Field(default_factory=list)
    ignore: Ignore = Field(default_factory=Ignore)
    generator_defaults: bool = True  # detect Sphinx, MkDocs, Docusaurus… and strip their chrome
    prefer_markdown: bool = False  # try the page's Markdown twin (<url>.md, <dir>/index.md) first
    store_binary: bool = False  # keep the bytes of what is not a page (PDF, images) instead of skipping it
    # politeness and limits
    concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    delay: Seconds = 0.0
    user_agent: str | None = None
    timeout: Annotated[float, Field(gt=0)] = 30.0
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    max_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    max_redirects: Annotated[int, Field(ge=0, le=50)] = 10
    remove_after: Annotated[int, Field(ge=1)] = 2  # runs in a row a page must be gone before it is removed
    # scheduling (archiver daemon) and notifications
    schedule: str | None = None  # cron ("0 */6 * * *") or "every 6h"; default: the config's schedule
    jitter: Seconds = 0.0  # up to this many seconds of random delay per scheduled run
    notify: list[str] = Field(default_factory=list)  # Apprise URLs, in addition to the config's

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        return None if v is None else check_schedule(v)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not SITE_NAME.match(v):
            raise ValueError(f"site name {v!r} must match [a-z0-9][a-z0-9._-]* (it is a folder name)")
        return v

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        _check_http_url(v, "base_url")
        if urlsplit(v).query or urlsplit(v).fragment or "#" in v:
            raise ValueError(f"base_url must not have a query or fragment, got {v!r}")
        # a base without a trailing slash would make urljoin drop its last segment
        return v if v.endswith("/") else v + "/"

    @field_validator("sitemap", "llms_txt")
    @classmethod
    def _sitemap(cls, v: str | None) -> str | None:
        return None if v is None else _check_http_url(v, "URL")

    @field_validator("include", "exclude")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        for pattern in v:
            if pattern.startswith("re:"):
                try:
                    re.compile(pattern[3:])
                except re.error as exc:
                    raise ValueError(f"invalid regular expression {pattern[3:]!r}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _selectors(self) -> Site:
        for loc, selectors in (
            (("content",), self.content),
            (("strip",), self.strip),
            (
                ("ignore", "selectors"),
                self.ignore.selectors,
            ),
        ):
            problem = _selector_error(selectors)
            if problem:
                raise FieldError((*loc, problem[0]), problem[1])
        return self

    @model_validator(mode="after")
    def _pages_under_base(self) -> Site:
        base_path = urlsplit(self.base_url).path
        for i, page in enumerate(self.pages):
            url = urljoin(self.base_url, page)
            try:
                _check_http_url(url, "page")  # first: a URL with credentials must not be shown
            except ValueError as exc:
                raise FieldError(("pages", i), str(exc)) from None
            if not url.startswith(self.base_url) or not _resolved_path(url).startswith(base_path):
                raise FieldError(("pages", i), f"page {page!r} resolves to {url}, outside base_url")
        return self

    def page_urls(self) -> list[str]:
        """The explicitly listed pages as absolute URLs, in order, without duplicates."""
        return list(dict.fromkeys(urljoin(self.base_url, p) for p in self.pages))

    @property
    def discovers(self) -> bool:
        """True if pages come from somewhere else than the explicit list (needs requests to find)."""
        return bool(self.sitemap or self.llms_txt or self.crawl)

    @property
    def strip_selectors(self) -> list[str]:
        """Built-in noise selectors plus the site's own."""
        return DEFAULT_STRIP + [s for s in self.strip if s not in DEFAULT_STRIP]


class Config(_Frozen):
    """The whole ``sites.yaml``."""

    sites: list[Site]
    author: str = DEFAULT_AUTHOR
    schedule: str = "0 */6 * * *"  # the default for sites without their own (archiver daemon)
    remote: str | None = None  # push the archive here after each commit (a URL or a remote's name)
    notify: list[str] = Field(default_factory=list)  # Apprise URLs told about every site's changes
    notify_failures_after: Annotated[int, Field(ge=1)] = 3  # failing runs in a row before a page alert
    web_url: str | None = None  # commit link template for feeds/reports, e.g. https://git.example/c/{sha}

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        return check_schedule(v)

    @field_validator("remote")
    @classmethod
    def _remote(cls, v: str | None) -> str | None:
        # a password here would end up in .git/config and in logs; git has better places for it
        if v is not None and re.match(r"\A[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]*:[^/@\s]*@", v.strip()):
            raise ValueError(
                "remote must not contain a password: keep credentials in a git credential helper "
                "or the environment (e.g. GIT_ASKPASS), and give the URL without them"
            )
        if v is not None and not v.strip():
            raise ValueError("remote must be a URL, a path or a git remote's name, not empty")
        return None if v is None else v.strip()

    @field_validator("author")
    @classmethod
    def _author(cls, v: str) -> str:
        if not AUTHOR.match(v):
            raise ValueError(f"author must look like 'Name <email>', got {v!r}")
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[str] = set()
        for i, site in enumerate(self.sites):
            if site.name in seen:
                raise FieldError(
                    ("sites", i, "name"),
                    f"duplicate site name {site.name!r}; each site needs its own name (it is its folder)",
                )
            seen.add(site.name)
        return self

    @property
    def identity(self) -> tuple[str, str]:
        """``author`` as (name, email): who the archive's commits are by."""
        return self.author_name, self.author_email

    @property
    def author_name(self) -> str:
        m = AUTHOR.match(self.author)
        assert m is not None
        return m.group("name")

    @property
    def author_email(self) -> str:
        m = AUTHOR.match(self.author)
        assert m is not None
        return m.group("email")

    def select(self, names: Iterable[str]) -> list[Site]:
        """The sites called ``names`` (all sites if empty), or a ConfigError naming the unknown one."""
        wanted = list(names)
        if not wanted:
            return list(self.sites)
        by_name = {s.name: s for s in self.sites}
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            known = ", ".join(sorted(by_name)) or "none"
            raise ConfigError(f"unknown site {unknown[0]!r} (sites in the config: {known})")
        return [by_name[n] for n in wanted]


class FieldError(ValueError):
    """A validation error that knows which nested field it is about (for the line number)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
