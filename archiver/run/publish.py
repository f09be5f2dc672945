"""The one composition of a run: archive the selected sites, push the archive, tell people.

``archiver run``, ``archiver daemon`` and ``archiver demo`` all call :func:`archive_sites` (through
:func:`archive_into`, which picks the repository of each site by the archive's layout), so what a
run does (and in which order) is written once.

Every run pushes (when ``remote:`` is set), not only runs that committed: a push that failed
last time (network down, remote rejecting) is retried by the next run, and the local commits are
never touched by a failed push. The push happens under the repository lock, like the run.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from archiver.archive import layout
from archiver.archive.push import push, redact_url
from archiver.archive.repo import ArchiveRepo
from archiver.config import Config, Site
from archiver.errors import LockedError
from archiver.models import PushResult, RunReport, SiteReport
from archiver.run import pipeline
from archiver.run.notify import notify_run

logger = logging.getLogger(__name__)


def push_archive(
    config: Config,
    repo: ArchiveRepo,
    *,
    wait: float = 0.0,
    attempts: int = 3,
    backoff: float = 1.0,
    stop: threading.Event | None = None,
) -> PushResult | None:
    """Push ``repo`` to ``config.remote`` (None when there is no remote); LockedError if busy after ``wait`` s."""
    if not config.remote:
        return None
    with repo.lock(wait=wait, stop=stop):
        result = push(repo, config.remote, attempts=attempts, backoff=backoff)
    if result.ok:
        logger.debug("pushed to %s (%s)", result.remote, "sent commits" if result.pushed else "up to date")
    else:
        logger.warning("%s; the commits are kept and the next run pushes them", result.error)
    return result


def archive_sites(
    config: Config,
    repo: ArchiveRepo,
    sites: Sequence[Site] | None = None,
    *,
    workers: int | None = None,
    progress: pipeline.Progress | None = None,
    wait: float = 0.0,
    stop: threading.Event | None = None,
    push_attempts: int = 3,
    push_backoff: float = 1.0,
) -> RunReport:
    """Archive ``sites`` (default: all), then push to ``remote:``, then send digests and alerts.

    ``wait`` is how long each step waits for another run's lock, ``stop`` (an event) cuts that wait
    short and, once set, makes the push one quick try and skips the notifications. The push's
    outcome is the report's ``push``; notifications never fail the run.
    """
    report = pipeline.run(config, repo, sites, workers=workers, progress=progress, wait=wait, stop=stop)
    stopping = stop is not None and stop.is_set()
    try:
        attempts = 1 if stopping else push_attempts
        push = push_archive(config, repo, wait=wait, attempts=attempts, backoff=push_backoff, stop=stop)
    except LockedError:
        # another run took the lock between our run and our push; it pushes when it is done
        assert config.remote is not None
        push = PushResult(
            redact_url(config.remote), ok=False, error=f"not pushed: {repo.path} is busy with another run"
        )
    report = dataclasses.replace(report, push=push)
    if not (stop is not None and stop.is_set()):  # digests and failure alerts
        notify_run(config, repo, report)
    return report


def archive_into(
    config: Config,
    root: Path,
    sites: Sequence[Site] | None = None,
    *,
    workers: int | None = None,
    progress: pipeline.Progress | None = None,
    wait: float = 0.0,
    stop: threading.Event | None = None,
    push_attempts: int = 3,
    push_backoff: float = 1.0,
) -> RunReport:
    """:func:`archive_sites` into the archive at ``root`` in the config's layout: the one repository
    (``layout: single``), or each site into its own repository ``root/<site>``, pushed to its own
    remote (``layout: per-site``); a StoreError if the folder is of the other layout."""
    chosen = list(config.sites if sites is None else sites)

    def one(cfg: Config, repo: ArchiveRepo, some: list[Site]) -> RunReport:
        return archive_sites(
            cfg,
            repo,
            some,
            workers=workers,
            progress=progress,
            wait=wait,
            stop=stop,
            push_attempts=push_attempts,
            push_backoff=push_backoff,
        )

    layout.prepare(root, config.per_site)
    if not config.per_site:
        return one(config, ArchiveRepo.open_or_init(root, config.identity), chosen)
    reports: list[SiteReport] = []
    pushes: dict[str, PushResult] = {}
    for site in chosen:
        if stop is not None and stop.is_set():
            break
        repo = ArchiveRepo.open_or_init(root / site.name, config.identity)
        run = one(config.for_site(site), repo, [site])
        reports += run.sites
        if run.push is not None:
            pushes[site.name] = run.push
    return RunReport(reports, site_pushes=pushes)
