"""Push the archive to its remote after a run, so people read it where they read code.

Every run pushes (when ``remote:`` is set), not only runs that committed: a push that failed
last time (network down, remote rejecting) is retried by the next run, and the local commits are
never touched by a failed push. The push happens under the repository lock, like the run.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from archiver import pipeline
from archiver.config import Config, Site
from archiver.errors import LockedError
from archiver.models import PushResult, RunReport
from archiver.store import ArchiveRepo, redact_url

logger = logging.getLogger(__name__)


def push_archive(
    config: Config, repo: ArchiveRepo, *, wait: float = 0.0, attempts: int = 3, backoff: float = 1.0
) -> PushResult | None:
    """Push ``repo`` to ``config.remote`` (None when there is no remote); LockedError if busy after ``wait`` s."""
    if not config.remote:
        return None
    with repo.lock(wait=wait):
        result = repo.push(config.remote, attempts=attempts, backoff=backoff)
    if result.ok:
        logger.debug("pushed to %s (%s)", result.remote, "sent commits" if result.pushed else "up to date")
    else:
        logger.warning("%s; the commits are kept and the next run pushes them", result.error)
    return result


def run_and_push(
    config: Config,
    repo: ArchiveRepo,
    sites: Sequence[Site] | None = None,
    *,
    workers: int | None = None,
    progress: pipeline.Progress | None = None,
    wait: float = 0.0,
) -> RunReport:
    """``pipeline.run``, then :func:`push_archive`; the push's outcome is the report's ``push``."""
    report = pipeline.run(config, repo, sites, workers=workers, progress=progress, wait=wait)
    try:
        push = push_archive(config, repo, wait=wait)
    except LockedError:
        # another run took the lock between our run and our push; it pushes when it is done
        assert config.remote is not None
        busy = f"not pushed: {repo.path} is busy with another run"
        push = PushResult(redact_url(config.remote), ok=False, error=busy)
    return dataclasses.replace(report, push=push)
