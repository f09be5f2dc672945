"""The git archive: writing and committing pages (``repo``), the state kept beside it (``state``),
and reading history back (``history``, ``revisions``, ``patch``). GitPython lives here only."""

from __future__ import annotations

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import BodyStore, StateStore

__all__ = ["ArchiveRepo", "BodyStore", "StateStore"]
