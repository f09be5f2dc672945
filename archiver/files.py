"""Writing a file so that a crash leaves the old one or the new one, never a part of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# the process's umask, read once at import (reading it means setting it; no thread runs yet)
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # what open() would give a new file: a report on a static host stays readable


def write_atomic(target: Path, data: bytes, *, tmp_dir: Path | None = None) -> None:
    """Replace ``target`` with ``data`` through a temporary file renamed into place.

    The temporary file is made in ``tmp_dir`` (default: ``target``'s folder), which must be on
    the same file system; both folders must exist (nothing is created here, so a deleted archive
    is never brought back by a late write). The file gets the mode the umask gives new files.
    OSError if it cannot be written.
    """
    fd, tmp = tempfile.mkstemp(dir=tmp_dir or target.parent, prefix=".tmp-", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp makes it 0600, whatever the umask
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
