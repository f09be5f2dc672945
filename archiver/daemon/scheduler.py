"""``archiver daemon``: archive every site on its own schedule, unattended, for months.

One APScheduler job per site (``max_instances=1``, ``coalesce=True``) on a single worker thread,
so the daemon runs one site at a time and a run that outlasts its interval is never doubled.
Each run takes the repository lock like ``archiver run`` does, so a one-shot run from cron and
the daemon never write at once (a busy lock is waited for, checking for shutdown every second).

* stop (SIGTERM, SIGINT, :meth:`Daemon.request_stop`): the run in progress finishes, commit and
  push included, queued runs are dropped, and :meth:`Daemon.run_forever` returns;
* reload (SIGHUP, :meth:`Daemon.request_reload`, or a changed ``sites.yaml`` noticed before a
  run): jobs are rescheduled; a config that does not load is logged and the old jobs kept;
* every run logs one line per site (the heartbeat), and the next run of each site is kept in
  ``.git/archiver/schedule.json`` for ``archiver status``;
* with ``report:`` (or ``--report``), the report is rebuilt at start and after each run that
  committed, on a thread of its own (:mod:`.reporting`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from archiver.archive import layout
from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import StateStore, clear_schedule, write_schedule
from archiver.config import Config, load_config
from archiver.daemon.reporting import ReportKeeper, ReportTarget, report_target
from archiver.errors import ArchiverError, ConfigError, StoreError
from archiver.models import PageStatus, PushResult, SiteReport
from archiver.run.notify import send_digest
from archiver.run.publish import archive_sites
from archiver.schedules import first_run, make_trigger
from archiver.shards import Shard
from archiver.text import one_line

logger = logging.getLogger(__name__)

# misfire_grace_time=None: a run that is late (the machine slept) still happens, and coalesce
# makes the runs missed meanwhile one run
DIGEST_JOB = "(digest)"  # no site can be named so (SITE_NAME)
JOB_DEFAULTS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


@dataclass(frozen=True, slots=True)
class SiteRun:
    """One scheduled run of one site, as the heartbeat reports it."""

    site: str
    started: datetime
    finished: datetime
    report: SiteReport | None  # None when the run could not happen at all (see ``error``)
    push: PushResult | None = None
    error: str | None = None


class Daemon:
    """Runs each site of ``config_path`` on its schedule into the archive at ``repo_path``.

    >>> Daemon(Path("sites.yaml"), Path("archive-repo")).run_forever()   # doctest: +SKIP

    Tests drive it from a thread: ``start()``, then ``request_stop()`` / ``stop()``; ``on_run``
    sees every :class:`SiteRun`; an ``every 1s`` schedule makes runs come quickly.
    """

    def __init__(
        self,
        config_path: Path,
        repo_path: Path,
        *,
        workers: int | None = None,
        lock_wait: float = 3600.0,
        on_run: Callable[[SiteRun], None] | None = None,
        push_attempts: int = 3,
        push_backoff: float = 1.0,
        report: Path | None = None,
        shard: Shard | None = None,
    ) -> None:
        self.config_path = config_path
        self.shard = shard  # only this shard's sites (archiver.shards)
        self.repo_path = repo_path
        self.workers = workers
        self.lock_wait = lock_wait
        self.on_run = on_run
        self.push_attempts = push_attempts
        self.push_backoff = push_backoff
        self.report = report  # overrides the config's report:
        self._reports = ReportKeeper(repo_path)
        self.config: Config | None = None
        self._meta = layout.site_meta(repo_path)
        self._mtime: int | None = None
        self._schedules: dict[str, tuple[str, float]] = {}
        self._digest_schedule: str | None = None
        self._config_lock = threading.RLock()
        self._stop = threading.Event()  # set from signal handlers: the main thread never waits on it
        self._reload_wanted = False
        self._busy = threading.Lock()  # held by the run in progress
        self._scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(1)}, job_defaults=JOB_DEFAULTS)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Load the config (ConfigError), open or create the archive (StoreError), schedule the sites."""
        config, mtime, report = self._load()
        layout.prepare(self.repo_path, config.per_site)
        if config.per_site:  # a folder of site repositories: the daemon's own files beside them
            self._meta = self.repo_path / layout.META
        else:
            self._meta = ArchiveRepo.open_or_init(self.repo_path).meta
        with self._config_lock:
            self._apply(config, mtime)
        self._scheduler.start()
        self._write_schedule()
        self._reports.configure(report)  # a first build now, so the report exists
        shard = f" (shard {self.shard})" if self.shard else ""
        logger.info(
            "archiver daemon started: %d sites%s from %s into %s",
            len(config.sites),
            shard,
            self.config_path,
            self.repo_path,
        )

    def request_stop(self) -> None:
        """Ask the daemon to stop after the run in progress (safe to call from a signal handler)."""
        self._stop.set()

    def request_reload(self) -> None:
        """Ask the daemon to reload ``sites.yaml`` (safe to call from a signal handler)."""
        self._reload_wanted = True

    def stop(self) -> None:
        """Let the run in progress finish (its commit and push included), then shut the scheduler down."""
        self._stop.set()
        if self._scheduler.running:
            # shutdown() holds the scheduler's locks while it waits for the executor, so a run that
            # still calls into the scheduler (to record the next run) would deadlock: wait for it here
            self._scheduler.pause()
            with self._busy:
                pass
            self._scheduler.shutdown(wait=True)  # runs queued meanwhile see the stop and return
        self._reports.stop()
        clear_schedule(self._meta)
        logger.info("archiver daemon stopped")

    def run_forever(self, *, handle_signals: bool = True) -> None:
        """:meth:`start`, then serve until stopped; SIGTERM/SIGINT stop, SIGHUP reloads."""
        self.start()
        previous = {}
        if handle_signals:

            def on_stop(signum: int, frame: FrameType | None) -> None:
                logger.info("%s received: stopping after the run in progress", signal.Signals(signum).name)
                self.request_stop()

            def on_hup(signum: int, frame: FrameType | None) -> None:
                self.request_reload()

            for sig, handler in ((signal.SIGTERM, on_stop), (signal.SIGINT, on_stop), (signal.SIGHUP, on_hup)):
                previous[sig] = signal.signal(sig, handler)
        try:
            while not self._stop.is_set():
                time.sleep(0.2)  # a plain sleep: signal handlers run at once, and never meet a held lock
                if self._reload_wanted:
                    self._reload_wanted = False
                    self.reload()
        finally:
            self.stop()
            for sig, old in previous.items():
                signal.signal(sig, old)

    # --- config -------------------------------------------------------------------------------

    def _load(self) -> tuple[Config, int | None, ReportTarget | None]:
        try:
            mtime: int | None = self.config_path.stat().st_mtime_ns
        except OSError:
            mtime = None
        config = load_config(self.config_path).for_shard(self.shard)
        if self.shard is not None:  # the sites of the other shards are not this daemon's to schedule
            config = config.model_copy(update={"sites": config.select([], self.shard)})
        return config, mtime, report_target(config, self.config_path, self.repo_path, self.report)

    def reload(self) -> bool:
        """Read ``sites.yaml`` again and reschedule; a config that does not load keeps the old jobs."""
        with self._config_lock:
            try:
                config, mtime, report = self._load()
            except ConfigError as exc:
                with contextlib.suppress(OSError):  # report a bad file once, not before every run
                    self._mtime = self.config_path.stat().st_mtime_ns
                logger.error("config not reloaded, the current schedule stays: %s", exc)
                return False
            self._apply(config, mtime)
            self._reports.configure(report)
        self._write_schedule()
        logger.info("config reloaded from %s: %d sites", self.config_path, len(config.sites))
        return True

    def _reload_if_changed(self) -> None:
        try:
            mtime = self.config_path.stat().st_mtime_ns
        except OSError:
            return
        if mtime != self._mtime:
            self.reload()

    def _apply(self, config: Config, mtime: int | None) -> None:
        """Make the jobs match ``config``: new sites added, gone ones removed, changed ones rescheduled."""
        wanted = {s.name: (s.schedule or config.schedule, s.jitter) for s in config.sites}
        for name in set(self._schedules) - set(wanted):
            self._scheduler.remove_job(name)
        now = datetime.now(UTC)
        for name, (schedule, jitter) in wanted.items():
            if self._schedules.get(name) == (schedule, jitter):
                continue
            meta = layout.site_meta(self.repo_path / name) if config.per_site else self._meta
            finished = StateStore(meta / "state").load(name).last_run.get("finished")
            last = datetime.fromisoformat(finished) if isinstance(finished, str) else None
            self._scheduler.add_job(
                self._job,
                make_trigger(schedule, jitter),
                args=[name],
                id=name,
                name=f"archive {name}",
                next_run_time=first_run(schedule, last, now),
                replace_existing=True,
            )
        self._schedules = wanted
        self._apply_digest(config)
        self.config = config
        self._mtime = mtime

    def _apply_digest(self, config: Config) -> None:
        """The digest job (``digest:``): added, rescheduled or removed as the config says."""
        schedule = config.digest.schedule if config.digest else None
        if schedule == self._digest_schedule:
            return
        if self._digest_schedule is not None:
            self._scheduler.remove_job(DIGEST_JOB)
        if schedule is not None:
            self._scheduler.add_job(
                self._digest_job, make_trigger(schedule), id=DIGEST_JOB, name="digest", replace_existing=True
            )
        self._digest_schedule = schedule

    def _digest_job(self) -> None:
        """Send the digest (on the one worker thread, so never while a site runs); never raises."""
        with self._busy:
            if self._stop.is_set():
                return
            with self._config_lock:
                config = self.config
            if config is None:
                return
            try:
                delivery = send_digest(config, self.repo_path, datetime.now(UTC))
            except Exception:  # a bug must cost one digest, never the daemon
                logger.exception("digest: crashed")
                return
            if delivery is not None:
                logger.log(
                    logging.INFO if delivery.ok else logging.WARNING,
                    "digest: %s",
                    "sent" if delivery.ok else f"not sent: {delivery.error}",
                )

    # --- one run ------------------------------------------------------------------------------

    def _job(self, name: str) -> None:
        with self._busy:
            if not self._stop.is_set():  # else queued before the stop: dropped
                self._run_site(name)

    def _run_site(self, name: str) -> None:
        self._reload_if_changed()
        with self._config_lock:
            config = self.config
        site = next((s for s in config.sites if s.name == name), None) if config else None
        if config is None or site is None:
            return
        started = datetime.now(UTC)
        report: SiteReport | None = None
        push: PushResult | None = None
        error: str | None = None
        try:
            if config.per_site:  # the site's own repository (made by its first run), in a folder that must exist
                if not self.repo_path.is_dir():
                    raise StoreError(f"{self.repo_path}: the archive folder is gone")
                repo = ArchiveRepo.open_or_init(self.repo_path / name, config.identity)
                config = config.for_site(site)
            else:  # not open_or_init: a deleted archive is an error
                repo = ArchiveRepo.open(self.repo_path, config.identity)
            # as `archiver run` does; a stop cuts the lock wait short and the push to one quick try
            run = archive_sites(
                config,
                repo,
                [site],
                workers=self.workers,
                wait=self.lock_wait,
                stop=self._stop,
                push_attempts=self.push_attempts,
                push_backoff=self.push_backoff,
            )
            report, push = run.sites[0], run.push
        except ArchiverError as exc:
            error = str(exc)
        except Exception as exc:  # a bug must cost one run, never the daemon
            logger.exception("%s: the run crashed", name)
            error = f"{type(exc).__name__}: {exc}"
        record = SiteRun(name, started, datetime.now(UTC), report, push, error)
        log_heartbeat(record)
        self._write_schedule()
        if report is not None and (report.commit or report.rules_commit):
            self._reports.request()
        if self.on_run:
            self.on_run(record)

    # --- schedule.json ------------------------------------------------------------------------

    def _write_schedule(self) -> None:
        """Record each site's next run for ``archiver status`` (atomically; a failure is only logged)."""
        sites = {}
        for job in self._scheduler.get_jobs():
            if job.id not in self._schedules:  # (the digest job: not a site)
                continue
            when = getattr(job, "next_run_time", None)
            schedule = self._schedules.get(job.id, ("?", 0.0))[0]
            sites[job.id] = {"schedule": schedule, "next_run": when.astimezone(UTC).isoformat() if when else None}
        data = {"pid": os.getpid(), "config": str(self.config_path.resolve()), "sites": sites}
        write_schedule(self._meta, data)


def log_heartbeat(run: SiteRun) -> None:
    """One line per site per run: INFO when all went well, WARNING when something needs a look."""
    seconds = (run.finished - run.started).total_seconds()
    r = run.report
    if r is None:
        logger.error("%s: run failed after %.1f s: %s", run.site, seconds, run.error)
        return
    counts = " ".join(f"{s.value}={r.count(s)}" for s in (PageStatus.CHANGED, PageStatus.ADDED, PageStatus.REMOVED))
    push = ""
    if run.push is not None:
        push = " push=" + ("ok" if run.push.ok else f"failed ({run.push.error})")
    problem = f" error: {r.error}" if r.error else ""
    level = logging.WARNING if r.failed or (run.push and not run.push.ok) else logging.INFO
    logger.log(
        level,
        "%s: fetched=%d %s failed=%d commit=%s%s in %.1f s%s",
        run.site,
        r.fetched,
        counts,
        r.count(PageStatus.FAILED),
        r.commit[:10] if r.commit else "-",
        push,
        seconds,
        problem,
    )
    for note in r.notes:  # (what archiver run says on stderr: a watch that sees nothing, content selectors…)
        logger.info("%s: note: %s", run.site, one_line(note))
