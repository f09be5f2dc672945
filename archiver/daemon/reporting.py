"""The report ``archiver daemon`` keeps current: ``archiver report`` rebuilt after each committed run.

The build runs on a thread of its own, so it never holds up the next run: the scheduler's one
worker goes on to the next site while the report is written. It takes no lock (it only reads
commits, which never change). Requests made while a build is under way become one more build
after it. A build that fails is logged as one line and the daemon carries on: the run it follows
is committed already, and the next committed run (or the next start) builds the report again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from archiver.config import Config, Site, field_location
from archiver.errors import ArchiverError, ConfigError
from archiver.report.build import build_report
from archiver.text import one_line

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportTarget:
    """Where the report goes and the links it makes."""

    folder: Path
    base_url: str | None = None
    web_url: str | None = None
    sites: tuple[Site, ...] = ()  # the config's sites (their watches get feeds)


def report_target(config: Config, config_path: Path, repo_path: Path, given: Path | None) -> ReportTarget | None:
    """The report to keep: ``given`` (``--report``) or the config's ``report:`` (relative to its file's folder).

    A folder inside the archive repository is a ConfigError: a run would see its files as strays.
    """
    if given is None and config.report is None:
        return None
    folder = given if given is not None else config_path.parent / Path(config.report or "").expanduser()
    if folder.absolute().resolve().is_relative_to(repo_path.absolute().resolve()):
        where = f"{field_location(config_path, ('report',))}: " if given is None else "--report: "
        raise ConfigError(
            f"{where}the report folder {folder} is inside the archive repository {repo_path}; put it outside"
        )
    return ReportTarget(folder, config.report_base_url, config.web_url, tuple(config.sites))


class ReportKeeper:
    """Rebuilds the report of the archive at ``repo_path`` on request, one build at a time, on its thread."""

    def __init__(self, repo_path: Path) -> None:
        self.repo_path = repo_path
        self._target: ReportTarget | None = None
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()  # requests come from the scheduler's worker and the main thread

    def configure(self, target: ReportTarget | None) -> None:
        """Keep the report at ``target`` from now on (None: keep none); a new target is built at once."""
        changed, self._target = target != self._target, target
        if changed:
            self.request()

    def request(self) -> None:
        """Ask for a build (after a run that committed); returns at once."""
        if self._target is None:
            return
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="archiver-report", daemon=True)
                self._thread.start()
        self._wanted.set()

    def stop(self) -> None:
        """Let a build under way finish; one only requested is left to the next start."""
        self._stopping = True
        self._wanted.set()
        with self._starting:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _serve(self) -> None:
        while True:
            self._wanted.wait()
            if self._stopping:
                return
            self._wanted.clear()
            if (target := self._target) is not None:
                self.build(target)

    def build(self, target: ReportTarget) -> None:
        """Build the report into ``target`` now; a failure is logged, never raised."""
        try:
            done = build_report(
                self.repo_path,
                target.folder,
                web_url=target.web_url,
                base_url=target.base_url,
                site_configs=target.sites,
            )
        except (ArchiverError, OSError) as exc:
            logger.error("report not updated in %s: %s", target.folder, one_line(str(exc)))
        except Exception as exc:  # a bug in the report must not cost the daemon
            problem = one_line(f"{type(exc).__name__}: {exc}")
            logger.error("report not updated in %s: %s (a bug: -v shows where)", target.folder, problem)
            logger.debug("the report's traceback", exc_info=True)
        else:
            logger.info("report updated in %s: %d new snapshot page(s)", target.folder, done.rendered)
