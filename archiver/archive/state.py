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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archiver.files import write_atomic

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
    twin: bool = False  # archived from its Markdown twin (prefer_markdown)
    content_type: str | None = None  # of the last body (to re-render it from the stored copy)
    links: list[str] | None = None  # the page's links when last fetched (a crawl's 304 reuses them)
    error: str | None = None  # the last error, while failing
    alerted: bool = False  # a "failing" notification was sent and no "recovered" one since (notify.py)


@dataclass(slots=True)
class SiteState:
    """State of one site: its pages and a summary of its last run."""

    rules: str | None = None  # fingerprint of the conversion rules the body hashes were made with
    pages: dict[str, PageState] = field(default_factory=dict)
    last_run: dict[str, Any] = field(default_factory=dict)


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
        if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
            return SiteState()
        pages = {
            url: PageState(**{k: v for k, v in p.items() if k in PageState.__slots__})
            for url, p in raw.get("pages", {}).items()
        }
        return SiteState(rules=raw.get("rules"), pages=pages, last_run=raw.get("last_run", {}))

    def save(self, site: str, state: SiteState) -> None:
        """Write the site's state atomically (a crash leaves the old file or the new one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {
            "version": STATE_VERSION,
            "rules": state.rules,
            "last_run": state.last_run,
            "pages": {url: asdict(p) for url, p in sorted(state.pages.items())},
        }
        write_atomic(self._file(site), json.dumps(data, indent=1).encode("utf-8"))

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
