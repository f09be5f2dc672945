"""One run: the per-site pipeline and its workers, then push, then notify (Apprise lives here only).
:func:`archive_sites` is the one composition the CLI, the daemon and the demo call."""

from __future__ import annotations

from archiver.run.pipeline import NullProgress, Progress
from archiver.run.publish import archive_sites

__all__ = ["NullProgress", "Progress", "archive_sites"]
