"""Per-page fetch state, kept outside the tracked tree (never committed, never causes a commit).

One JSON file per site under ``<repo>/.git/archiver/state/``, replaced atomically at the end of a
site's run. Losing it costs one full re-download and re-conversion, never a wrong snapshot: the
Markdown written is always compared with the file in the archive.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from archiver.files import write_atomic
from archiver.paths import is_inside

logger = logging.getLogger(__name__)

SCHEDULE_FILE = "schedule.json"  # the running daemon's next run of each site, for ``archiver status``
STATE_VERSION = 1


@dataclass(slots=True)
class PageState:
    """What the last runs learned about one page."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    status: str | None = None  # the last PageStatus value
    failures: int = 0  # consecutive failed runs
    gone: int = 0  # consecutive runs answering 404/410, or missing from the site's page list
    path: str | None = None  # the file it is archived in (differs from the URL's own after a move)
    twin: bool = False  # archived from its Markdown twin (source: markdown, or auto and the site has them)
    twin_url: str | None = None  # the twin it was archived from, or (HTML) the Markdown its page links to
    content_type: str | None = None  # of the last body (to re-render it from the stored copy)
    links: list[str] | None = None  # the page's links when last fetched (a crawl's 304 reuses them)
    error: str | None = None  # the last error, while failing
    alerted: bool = False  # a "failing" notification was sent and no "recovered" one since (notify.py)
    blocks: list[str] | None = None  # prints of its blocks that could be chrome (HTML only; convert/chrome.py)
    verified: float | None = None  # when a full body last came (Unix time): validators are re-checked from it
    specs: list[str] | None = None  # the API specs the page loads (Swagger UI, Redoc): archived as pages too
    # archived from the DOM a browser built (an app shell): fetched in full every run, since its
    # content lives in scripts and data the shell's own validators and hash do not cover
    rendered: bool = False

    @property
    def body_type(self) -> str:
        """The Content-Type its stored raw body is converted with (a Markdown twin's is Markdown)."""
        return "text/markdown" if self.twin else (self.content_type or "text/html")

    def forget_validators(self) -> None:
        """The page is fetched in full next time: no ETag, date or body hash to short-cut it."""
        self.etag = self.last_modified = self.body_hash = None


_PAGE_FIELDS = tuple(f.name for f in fields(PageState))


@dataclass(slots=True)
class SiteState:
    """State of one site: its pages and a summary of its last run."""

    rules: str | None = None  # fingerprint of the conversion rules the body hashes were made with
    pages: dict[str, PageState] = field(default_factory=dict)
    last_run: dict[str, Any] = field(default_factory=dict)
    strays: dict[str, int] = field(default_factory=dict)  # file -> runs in a row no page accounted for it
    # the blocks left out of every page as the site's chrome: print -> the start of its text
    chrome: dict[str, str] = field(default_factory=dict)
    # hosts caught answering 304 for a page that had changed: asked without validators from then on
    untrusted: list[str] = field(default_factory=list)
    # where the site's pages are taken from (run/sources.py): {"mode": "markdown" | "html", "how":
    # "suffix" | "link" | "accept" | "", "checked": when it was last looked at (Unix time)}
    source: dict[str, Any] = field(default_factory=dict)

    def forget_validators(self, paths: set[str]) -> None:
        """The pages archived in ``paths`` are fetched in full next (say, recovery kept what a killed
        run wrote: what the server serves now decides, not the validators of an older version)."""
        for ps in self.pages.values():
            if ps.path in paths:
                ps.forget_validators()


# what each PageState field may hold (bool is not an int here: JSON true is no count)
_FIELDS: dict[str, tuple[type, ...]] = {
    "etag": (str, type(None)),
    "last_modified": (str, type(None)),
    "body_hash": (str, type(None)),
    "status": (str, type(None)),
    "failures": (int,),
    "gone": (int,),
    "path": (str, type(None)),
    "twin": (bool,),
    "twin_url": (str, type(None)),
    "content_type": (str, type(None)),
    "links": (list, type(None)),
    "error": (str, type(None)),
    "alerted": (bool,),
    "blocks": (list, type(None)),
    "verified": (float, int, type(None)),
    "specs": (list, type(None)),
    "rendered": (bool,),
}


def _page_state(data: object) -> PageState | None:
    """A PageState from its JSON, or None if anything in it has the wrong shape."""
    if not isinstance(data, dict):
        return None
    values = {k: v for k, v in data.items() if k in _FIELDS}
    for key, value in values.items():
        if type(value) not in _FIELDS[key]:
            return None
    if any(values.get(k, 0) < 0 for k in ("failures", "gone")):
        return None
    for listed in ("links", "blocks", "specs"):
        if values.get(listed) is not None and not all(isinstance(item, str) for item in values[listed]):
            return None
    if values.get("path") is not None and not is_inside(values["path"]):
        return None
    return PageState(**values)


def _kept(value: object, keep: Callable[[str, Any], bool]) -> tuple[dict[str, Any], int]:
    """The entries of a JSON object that pass ``keep``, and how many did not (1 if it is no object)."""
    if not isinstance(value, dict):
        return {}, 1
    kept = {k: v for k, v in value.items() if keep(k, v)}
    return kept, len(value) - len(kept)


def _site_state(raw: dict[str, Any]) -> tuple[SiteState, int]:
    """A SiteState from its JSON: entries of the wrong shape are dropped (and counted), never fatal."""
    dropped = 0
    pages: dict[str, PageState] = {}
    raw_pages = raw.get("pages", {})
    if not isinstance(raw_pages, dict):
        raw_pages, dropped = {}, 1
    for url, data in raw_pages.items():
        page = _page_state(data)
        if page is None:
            dropped += 1
        else:
            pages[url] = page
    rules = raw.get("rules")
    if rules is not None and not isinstance(rules, str):
        rules, dropped = None, dropped + 1
    last_run = raw.get("last_run", {})
    if not isinstance(last_run, dict):
        last_run, dropped = {}, dropped + 1
    strays, bad = _kept(raw.get("strays", {}), lambda k, v: type(v) is int and v > 0 and is_inside(k))
    chrome, worse = _kept(raw.get("chrome", {}), lambda k, v: isinstance(v, str))
    dropped += bad + worse
    raw_untrusted = raw.get("untrusted", [])
    untrusted = [h for h in raw_untrusted if isinstance(h, str)] if isinstance(raw_untrusted, list) else []
    dropped += (len(raw_untrusted) if isinstance(raw_untrusted, list) else 1) - len(untrusted)
    source = raw.get("source", {})
    if not (
        isinstance(source, dict)
        and source.get("mode", "html") in ("html", "markdown")
        and source.get("how", "") in ("", "suffix", "link", "accept")
        and type(source.get("checked", 0.0)) in (int, float)
    ):
        source, dropped = {}, dropped + 1  # looked at again on this run
    site = SiteState(
        rules=rules,
        pages=pages,
        last_run=last_run,
        strays=strays,
        chrome=chrome,
        untrusted=untrusted,
        source=source,
    )
    return site, dropped


class StateStore:
    """Reads and writes :class:`SiteState` files in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file(self, site: str) -> Path:
        return self.folder / f"{site}.json"

    def load(self, site: str) -> SiteState:
        """The site's state, or an empty one if there is none or it cannot be read."""
        path = self._file(site)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return SiteState()
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable state %s (%s); pages will be fetched in full", path, exc)
            return SiteState()
        if not isinstance(raw, dict):
            logger.warning("ignoring state %s: not a JSON object; pages will be fetched in full", path)
            return SiteState()
        if raw.get("version") != STATE_VERSION:
            logger.warning(
                "ignoring state %s: version %r, not %d; pages will be fetched in full",
                path,
                raw.get("version"),
                STATE_VERSION,
            )
            return SiteState()
        state, dropped = _site_state(raw)
        if dropped:
            logger.warning(
                "state %s: %d entries of the wrong shape dropped (their pages are fetched in full)", path, dropped
            )
        return state

    def save(self, site: str, state: SiteState) -> None:
        """Write the site's state atomically (a crash leaves the old file or the new one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        head = {
            "version": STATE_VERSION,
            "rules": state.rules,
            "last_run": state.last_run,
            "strays": dict(sorted(state.strays.items())),
            "chrome": dict(sorted(state.chrome.items())),
            "untrusted": sorted(state.untrusted),
            "source": state.source,
        }
        # one line per page, by json's C encoder (indent= would take its pure-Python one: 20,000
        # pages cost seconds), so the file stays readable and diffable line by line
        compact = (",", ":")
        pages = ",\n".join(
            f"{json.dumps(url)}:{json.dumps({f: getattr(p, f) for f in _PAGE_FIELDS}, separators=compact)}"
            for url, p in sorted(state.pages.items())
        )
        text = json.dumps(head, separators=compact)[:-1] + ',"pages":{\n' + pages + "\n}}\n"
        write_atomic(self._file(site), text.encode("utf-8"))

    def sites(self) -> list[str]:
        """Names of the sites that have state."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json"))


class BodyStore:
    """The last raw body of every page, gzip-compressed, one file per URL (for ``archiver rerender``).

    Lives next to the state, outside the tracked tree; written by whichever process fetched the body.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, url: str) -> Path:
        return self.folder / (hashlib.sha256(url.encode()).hexdigest()[:24] + ".gz")

    def _pending(self, url: str) -> Path:
        return self.path(url).with_suffix(".new")

    def put(self, url: str, body: bytes) -> None:
        """Keep ``body`` as the last one of ``url`` (atomically; a failure only loses the copy)."""
        self._write(self.path(url), url, body)

    def put_pending(self, url: str, body: bytes) -> None:
        """Keep ``body`` aside until the run accepts what it rendered (:meth:`accept`) or refuses it
        (:meth:`discard`): a body the run refused must never be re-rendered later."""
        self._write(self._pending(url), url, body)

    def accept(self, url: str) -> None:
        """The pending body of ``url`` becomes its last one (nothing happens if there is none)."""
        try:
            os.replace(self._pending(url), self.path(url))
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.warning("cannot keep the raw body of %s: %s", url, exc)

    def discard(self, url: str) -> None:
        """Forget the pending body of ``url``; its last accepted one stays."""
        self._pending(url).unlink(missing_ok=True)

    def _write(self, target: Path, url: str, body: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomic(target, gzip.compress(body, compresslevel=6, mtime=0))
        except OSError as exc:
            logger.warning("cannot keep the raw body of %s: %s", url, exc)

    def get(self, url: str) -> bytes | None:
        try:
            return gzip.decompress(self.path(url).read_bytes())
        except (OSError, EOFError):
            return None

    def keep_only(self, urls: Iterable[str]) -> int:
        """Remove the bodies of every URL not in ``urls`` (the site's pages, after a run): what is
        kept is bounded by the pages archived now, not by every page the site ever had. Returns how
        many files went."""
        keep = {self.path(url).stem for url in urls}
        gone = 0
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return 0
        for entry in entries:
            stem, _, suffix = entry.name.partition(".")
            if suffix in ("gz", "new") and stem not in keep:
                try:
                    os.unlink(entry.path)
                    gone += 1
                except OSError as exc:
                    logger.warning("cannot remove the raw body %s: %s", entry.path, exc)
        return gone

    def has(self, url: str) -> bool:
        return self.path(url).is_file()

    def drop(self, url: str) -> None:
        self.path(url).unlink(missing_ok=True)


def write_schedule(meta: Path, data: dict[str, Any]) -> None:
    """Record the daemon's schedule (``{"pid", "config", "sites": {name: {"next_run"…}}}``) in
    ``meta`` (``.git/archiver``); a failure is only logged. ``meta`` is created, its parents never:
    a deleted archive must stay deleted."""
    target = meta / SCHEDULE_FILE
    try:
        meta.mkdir(exist_ok=True)
        write_atomic(target, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    except OSError as exc:
        logger.warning("cannot record the schedule in %s: %s", target, exc)


def clear_schedule(meta: Path) -> None:
    """Forget the schedule (the daemon stopped)."""
    (meta / SCHEDULE_FILE).unlink(missing_ok=True)


def read_next_runs(meta: Path) -> dict[str, str] | None:
    """Each site's next scheduled run (ISO, UTC) from a running daemon; None if no daemon is running."""
    try:
        data = json.loads((meta / SCHEDULE_FILE).read_text(encoding="utf-8"))
        pid = int(data["pid"])
        sites = data["sites"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # left by a daemon that was killed: its times mean nothing
    except PermissionError:
        pass  # alive, under another user
    return {name: str(info.get("next_run") or "-") for name, info in sites.items() if isinstance(info, dict)}
