"""Plain value types shared by the pipeline stages."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field


class PageStatus(enum.StrEnum):
    """What happened to one page in one run."""

    ADDED = "added"  # first snapshot of this page
    CHANGED = "changed"  # the Markdown differs from the last snapshot
    UNCHANGED = "unchanged"  # fetched (or 304) and identical to the last snapshot
    REMOVED = "removed"  # its file was deleted from the archive (gone, or no longer listed)
    GONE = "gone"  # answered 404/410 (or left the list) but is kept until ``remove_after`` runs in a row
    MOVED = "moved"  # redirects to another URL of the site: its file moved to that URL's path
    SKIPPED = "skipped"  # not a page (a PDF, an image): nothing stored
    FAILED = "failed"  # fetch or conversion failed; the last good snapshot is kept


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """A response to one GET, after redirects. ``body`` is empty for 304/404/410."""

    url: str
    final_url: str
    status_code: int
    content_type: str = ""
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    vary: str = ""  # the Vary header (a server that negotiates Markdown says "Accept")

    @property
    def not_modified(self) -> bool:
        return self.status_code == 304

    @property
    def gone(self) -> bool:
        return self.status_code in (404, 410)


@dataclass(frozen=True, slots=True)
class PageJob:
    """One page to fetch, with what the last run knew about it (for conditional requests)."""

    url: str
    path: str  # relative to the site folder, e.g. "guide/index.md"
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # sha256 of the last body converted with the current rules
    twin: bool = False  # the validators above are those of the page's Markdown twin
    prefetched: FetchedPage | None = None  # the crawl already fetched it: don't ask again
    conditional: bool = True  # send the validators above (False: revalidate, or a host whose validators lie)
    listed: bool = True  # False: discovery no longer finds it; fetched by its URL until it is removed
    twin_url: str | None = None  # ask the page's Markdown twin here first (None: the HTML only)
    twin_accept: bool = False  # the twin is the page's URL asked with Accept: text/markdown
    twin_link: bool = False  # the twin is where the page's HTML links to (rel="alternate"): read it first
    render: str = "never"  # the site's render setting for this fetch (a re-conversion of stored bodies: never)


class OutcomeKind(enum.StrEnum):
    """What a worker learned about a page (before anything is written)."""

    NOT_MODIFIED = "not_modified"  # 304
    SAME_BODY = "same_body"  # 200 with a body byte-identical to the last one: not converted
    CONVERTED = "converted"  # 200, converted to Markdown
    GONE = "gone"  # 404 / 410
    SKIPPED = "skipped"  # not a page
    BINARY = "binary"  # not a page, kept as bytes (store_binary); the bytes travel in ``body``
    FAILED = "failed"
    SHELL = "shell"  # 200, an app shell (or render: always): the main process renders it; body in ``body``


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """The result of fetching and converting one page; produced by workers, consumed by the store."""

    job: PageJob
    kind: OutcomeKind
    markdown: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    final_url: str | None = None
    error: str | None = None
    twin: bool = False  # the Markdown came from the page's Markdown twin
    content_type: str | None = None
    body: bytes | None = None  # the raw body, while it is still in the worker (see without_body)
    blocks: tuple[str, ...] | None = None  # prints of its blocks that could be chrome (convert/chrome.py)
    twin_url: str | None = None  # the twin it came from, or (HTML) where the page links to its Markdown
    spec: bool = False  # the Markdown is an API spec's canonical YAML (convert/apispec.py)
    specs: tuple[str, ...] = ()  # the API specs a Swagger UI / Redoc page loads (absolute URLs)
    rendered: bool = False  # the Markdown is of the DOM headless Chromium built (fetch/browser.py)

    def without_body(self) -> PageOutcome:
        return dataclasses.replace(self, body=None)


@dataclass(frozen=True, slots=True)
class ApiChange:
    """One change between two versions of an API spec: ``what`` (``operation removed``), ``where``
    (``DELETE /pets/{id}``), and whether it breaks clients of the old version."""

    what: str
    where: str
    breaking: bool = False


@dataclass(frozen=True, slots=True)
class PageResult:
    """What one run did to one page, as reported to the user."""

    url: str
    path: str
    status: PageStatus
    error: str | None = None
    fetched: bool = True  # False for a page removed because it is no longer listed
    rendered: bool = False  # rendered in headless Chromium (an app shell, or render: always)


@dataclass(slots=True)
class SiteReport:
    """The outcome of one run of one site."""

    site: str
    results: list[PageResult] = field(default_factory=list)
    commit: str | None = None
    lines_added: int = 0
    lines_removed: int = 0
    error: str | None = None  # the whole site failed (e.g. its sitemap could not be read)
    recovered: str | None = None  # sha of a commit that saved files left by an interrupted run
    rules_commit: str | None = None  # sha of a commit that re-rendered the site under new rules
    notes: list[str] = field(default_factory=list)  # things worth saying once (not failures)
    chrome: list[str] = field(default_factory=list)  # how the site's chrome changed ("+ text", "- text")
    api: dict[str, list[ApiChange]] = field(default_factory=dict)  # spec file -> what changed in its API

    def count(self, status: PageStatus) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def fetched(self) -> int:
        return sum(1 for r in self.results if r.fetched)

    @property
    def failed(self) -> bool:
        return self.error is not None or self.count(PageStatus.FAILED) > 0

    @property
    def rendered(self) -> int:
        """Pages rendered in the browser this run."""
        return sum(1 for r in self.results if r.rendered)

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON (``archiver run --json``): counts, commit, errors, failing pages."""
        return {
            "site": self.site,
            "fetched": self.fetched,
            **{status.value: self.count(status) for status in PageStatus},
            "commit": self.commit,
            "lines_added": self.lines_added,
            "lines_removed": self.lines_removed,
            "recovered": self.recovered,
            "rendered": self.rendered,
            "error": self.error,
            "notes": list(self.notes),
            "failures": [{"url": r.url, "error": r.error} for r in self.results if r.status is PageStatus.FAILED],
        }


@dataclass(frozen=True, slots=True)
class RunReport:
    """The outcome of one ``archiver run`` over several sites."""

    sites: list[SiteReport]
    push: PushResult | None = None  # None when no remote is configured (or per site: see pushes)
    site_pushes: dict[str, PushResult] = field(default_factory=dict)  # layout: per-site, one per site

    @property
    def pushes(self) -> list[PushResult]:
        """Every push the run made: the archive's, or each site repository's."""
        return ([self.push] if self.push else []) + list(self.site_pushes.values())

    @property
    def failed(self) -> bool:
        return any(s.failed for s in self.sites)

    @property
    def push_failed(self) -> bool:
        return any(not p.ok for p in self.pushes)

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON: ``ok``, every site's :meth:`SiteReport.to_dict`, and the push (per
        site, ``pushes``: the site's name → its push)."""
        ok = not self.failed and not self.push_failed
        data: dict[str, object] = {"ok": ok, "sites": [s.to_dict() for s in self.sites], "push": _push(self.push)}
        if self.site_pushes:
            data["pushes"] = {name: _push(p) for name, p in self.site_pushes.items()}
        return data


def _push(push: PushResult | None) -> dict[str, object] | None:
    return None if push is None else {f: getattr(push, f) for f in ("remote", "ok", "pushed", "commit", "error")}


@dataclass(frozen=True, slots=True)
class PushResult:
    """The outcome of pushing the archive to its remote after a run."""

    remote: str  # as shown to people: a remote's name, or its URL without credentials
    ok: bool
    pushed: bool = False  # commits were sent (False: the remote was up to date, or the push failed)
    commit: str | None = None  # the local head that was (or should have been) pushed
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FileStat:
    """Lines added and removed in one file of one snapshot."""

    path: str
    added: int
    removed: int
    status: str = "M"  # as git's --raw says: A added, M modified, D deleted
    binary: bool = False  # git counts no lines for a binary file (added = removed = 0)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One commit of the archive, as read back from git."""

    sha: str
    date: str  # ISO 8601 with offset
    subject: str
    files: tuple[FileStat, ...]
    kind: str = "docs"  # its Change-Kind trailer: "docs", or "rules" for a re-render ("" for none)

    @property
    def rules(self) -> bool:
        """A re-render under new rules (or new site chrome): a change of archiver's, not of the docs."""
        return self.kind == "rules"

    @property
    def lines_added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def lines_removed(self) -> int:
        return sum(f.removed for f in self.files)
