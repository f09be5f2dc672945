"""The archive repository: write changed pages, remove gone ones, one commit per site, the lock
(pushing it is in :mod:`.push`).

Everything here goes through GitPython (``repo.git`` runs the git binary, which is fast and
exactly what a user's own ``git`` would do). Files are written atomically (a temporary file under
``.git/archiver/tmp`` renamed into place), so a crash leaves each file either old or new; a crash
between the writes and the commit leaves a dirty site folder that :meth:`ArchiveRepo.recover`
commits on the next run, so nothing fetched is lost.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import git

from archiver.archive.gitcmd import has_commits, open_git, run_git
from archiver.errors import LockedError, StoreError
from archiver.files import write_atomic
from archiver.models import FileStat, PageStatus
from archiver.paths import is_inside

logger = logging.getLogger(__name__)

STALE_GIT_LOCK_SECONDS = 2.0
_HELD_LOCKS: set[int] = set()  # descriptors of the run locks this process holds


def _drop_inherited_locks() -> None:
    """In a forked child (a worker): close the parent's lock descriptors. A flock belongs to every
    process that has the descriptor, so a worker keeping it would hold the archive locked after a
    killed parent, for every later run."""
    for fd in list(_HELD_LOCKS):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()


os.register_at_fork(after_in_child=_drop_inherited_locks)
DEFAULT_IDENTITY = ("archiver", "archiver@localhost")  # the name and email of config.DEFAULT_AUTHOR


class ArchiveRepo:
    """A git repository holding one folder of Markdown files per site.

    >>> repo = ArchiveRepo.open_or_init(Path("archive-repo"))   # doctest: +SKIP
    >>> with repo.lock():                                        # doctest: +SKIP
    ...     repo.write_page("mydocs", "index.md", "# Hello\\n")
    """

    def __init__(self, path: Path, repo: git.Repo, identity: tuple[str, str] = DEFAULT_IDENTITY) -> None:
        self.path = path
        self.repo = repo
        self.identity = identity  # (name, email): the author and committer of every commit made here
        self.meta = Path(repo.git_dir) / "archiver"

    @classmethod
    def open(cls, path: Path, identity: tuple[str, str] = DEFAULT_IDENTITY) -> ArchiveRepo:
        """Open an existing archive; StoreError if ``path`` is not a git repository.

        ``identity`` is who its commits are by (``Config.identity``, from ``author:``).
        """
        return cls(path, open_git(path), identity)

    @classmethod
    def open_or_init(cls, path: Path, identity: tuple[str, str] = DEFAULT_IDENTITY) -> ArchiveRepo:
        """Open the archive at ``path``, creating the folder and the repository if missing."""
        if (path / ".git").exists():
            return cls.open(path, identity)
        if path.exists() and not path.is_dir():
            raise StoreError(f"{path} is a file, not a folder: pass --repo a folder for the archive")
        if path.is_dir() and any(path.iterdir()):
            # never turn a folder full of something else (say the home folder) into an archive
            raise StoreError(
                f"{path} is a folder with files in it but no git repository: pass --repo an empty or new "
                "folder, or an existing archive"
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
            repo = git.Repo.init(path, initial_branch="main")
        except (OSError, git.GitCommandError) as exc:
            raise StoreError(f"{path}: cannot create the archive repository: {exc}") from exc
        logger.info("created archive repository %s", path)
        return cls(path, repo, identity)

    @property
    def state_dir(self) -> Path:
        return self.meta / "state"

    def bodies_dir(self, site: str) -> Path:
        """Where the site's last raw bodies are kept (outside the tracked tree)."""
        return self.meta / "bodies" / site

    # --- locking ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, wait: float = 0.0, stop: threading.Event | None = None) -> Iterator[None]:
        """Hold the repository's run lock; LockedError if another run holds it after ``wait`` s
        (or as soon as ``stop`` is set while waiting)."""
        try:
            self.meta.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.meta / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot write to the archive {self.path}: {exc.strerror or exc}") from exc
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise StoreError(f"{self.path}: cannot lock: {exc}") from exc
                    if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                        raise LockedError(
                            f"{self.path} is in use by another archiver run (pid {holder}); "
                            "try again when it has finished, or pass --wait SECONDS"
                        ) from None
                    time.sleep(0.2)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            _HELD_LOCKS.add(fd)
            self._clear_stale_git_locks()
            self._clear_leftovers()
            yield
        finally:
            _HELD_LOCKS.discard(fd)
            os.close(fd)  # closing releases the flock

    # what a killed run leaves: a commit message, files half written (files.write_atomic's names),
    # raw bodies never accepted (state.BodyStore's ".new"); under the lock nobody else writes them
    LEFTOVERS = ("*.msg", "tmp/.tmp-*", "state/.tmp-*")

    def _clear_leftovers(self) -> None:
        doomed = [path for pattern in self.LEFTOVERS for path in self.meta.glob(pattern)]
        bodies = self.meta / "bodies"
        for folder in (f for f in bodies.iterdir() if f.is_dir()) if bodies.is_dir() else ():
            with os.scandir(folder) as entries:  # one pass over a site's (many) bodies for both kinds
                doomed += [Path(e.path) for e in entries if e.name.startswith(".tmp-") or e.name.endswith(".new")]
        for path in doomed:
            with contextlib.suppress(OSError):
                path.unlink()

    def _clear_stale_git_locks(self) -> None:
        """Remove an ``index.lock`` left by a git process killed mid-run (we hold the run lock)."""
        index_lock = Path(self.repo.git_dir) / "index.lock"
        deadline = time.monotonic() + STALE_GIT_LOCK_SECONDS
        while index_lock.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if index_lock.exists():
            logger.warning("removing stale %s left by an interrupted run", index_lock)
            index_lock.unlink(missing_ok=True)

    # --- files --------------------------------------------------------------------------------

    def site_dir(self, site: str) -> Path:
        return self.path / site

    def _file(self, site: str, rel: str) -> Path:
        if not is_inside(rel):
            raise StoreError(f"refusing to write {rel!r}: not a path inside the site folder")
        return self.site_dir(site) / rel

    def read_page(self, site: str, rel: str) -> bytes | None:
        try:
            return self._file(site, rel).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def has_page(self, site: str, rel: str) -> bool:
        return self._file(site, rel).is_file()

    def write_page(self, site: str, rel: str, text: str) -> PageStatus:
        """Write one page if its bytes differ; ADDED, CHANGED or UNCHANGED."""
        return self.write_bytes(site, rel, text.encode("utf-8"))

    def write_bytes(self, site: str, rel: str, data: bytes) -> PageStatus:
        """Write one file if its bytes differ (atomically); ADDED, CHANGED or UNCHANGED."""
        old = self.read_page(site, rel)
        if old == data:
            return PageStatus.UNCHANGED
        target = self._file(site, rel)
        tmp_dir = self.meta / "tmp"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(target, data, tmp_dir=tmp_dir)
        except OSError as exc:
            raise StoreError(f"cannot write {target}: {exc}") from exc
        return PageStatus.ADDED if old is None else PageStatus.CHANGED

    def remove_page(self, site: str, rel: str) -> bool:
        """Delete one page's file (and folders left empty); False if it was not there."""
        target = self._file(site, rel)
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError(f"cannot remove {target}: {exc}") from exc
        parent = target.parent
        root = self.site_dir(site)
        while parent != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
        return True

    def page_files(self, site: str) -> set[str]:
        """Every file under the site's folder, as paths relative to it."""
        root = self.site_dir(site)
        if not root.is_dir():
            return set()
        out: set[str] = set()
        for dirpath, _dirs, files in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root)
            for name in files:
                out.add(name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/"))
        return out

    # --- git ----------------------------------------------------------------------------------

    def _git(self, *args: str, env: dict[str, str] | None = None) -> str:
        return run_git(self.repo, *args, env=env)

    def has_history(self, site: str) -> bool:
        """Whether some commit touched the site's folder already."""
        if not has_commits(self.repo):
            return False
        return bool(self._git("log", "-1", "--format=%H", "--", f"{site}/").strip())

    def dirty(self, site: str) -> list[str]:
        """Uncommitted changes under the site's folder (``git status --porcelain -z`` entries: ``XY path``)."""
        out = self._git("status", "--porcelain", "-z", "--untracked-files=all", "--no-renames", "--", f"{site}/")
        return [entry for entry in out.split("\0") if entry.strip()]

    def stage_site(self, site: str) -> list[FileStat]:
        """Stage everything under the site's folder; the per-file line counts staged (none when the
        folder was never written: a first run whose every page failed)."""
        if not self.site_dir(site).exists() and not self._git("ls-files", "--", f"{site}/").strip():
            return []
        self._git("add", "--all", "--", f"{site}/")
        out = self._git("diff", "--cached", "--no-renames", "--numstat", "--", f"{site}/")
        stats: list[FileStat] = []
        for line in out.splitlines():
            added, removed, path = line.split("\t", 2)
            stats.append(FileStat(path, int(added) if added != "-" else 0, int(removed) if removed != "-" else 0))
        return stats

    def commit(self, message: str) -> str:
        """Commit what is staged as :attr:`identity`; the new commit's sha."""
        author_name, author_email = self.identity
        env = {
            "GIT_AUTHOR_NAME": author_name,
            "GIT_AUTHOR_EMAIL": author_email,
            "GIT_COMMITTER_NAME": author_name,
            "GIT_COMMITTER_EMAIL": author_email,
        }
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.meta, suffix=".msg", delete=False) as fh:
            fh.write(message)
        try:
            # no automatic maintenance after each commit: git would start it detached, packing
            # behind the run's back while it fetches and converts (a no-change run right after a
            # first run took twice as long); the run packs once, at its end (:meth:`maintain`)
            self._git(
                *("-c", "commit.gpgsign=false", "-c", "maintenance.auto=false", "-c", "gc.auto=0"),
                *("commit", "--quiet", "--no-verify", "-F", fh.name),
                env=env,
            )
        finally:
            Path(fh.name).unlink(missing_ok=True)
        return self._git("rev-parse", "HEAD").strip()

    def maintain(self) -> None:
        """Pack the repository if git thinks it is time (``gc --auto``: loose objects past
        ``gc.auto``, 6,700 by default, or too many packs), in the foreground, so that it is done
        when the run ends and never runs beside the next one."""
        self._git("-c", "gc.autoDetach=false", "gc", "--auto", "--quiet")

    def recover(self, site: str) -> tuple[str | None, set[str]]:
        """Make the site's folder match a commit again after an interrupted run.

        Files written but not committed hold fetched content: they are committed (nothing fetched
        is lost). Files deleted but not committed are restored from HEAD; this run decides again
        whether they go. Returns the sha of the recovery commit (if one was needed) and the paths
        inside the site folder it touched: their pages must be fetched in full again, since what
        was recovered may no longer be what the server serves.
        """
        lines = self.dirty(site)
        if not lines:
            return None, set()
        deleted = [line[3:] for line in lines if "D" in line[:2]]
        if deleted:
            self._git("reset", "--quiet", "--", *deleted)
            self._git("checkout", "HEAD", "--", *deleted)
        stats = self.stage_site(site)
        touched = {p.removeprefix(f"{site}/") for p in deleted} | {s.path.removeprefix(f"{site}/") for s in stats}
        if not stats:
            return None, touched
        logger.warning("%s: committing %d files left by an interrupted run", site, len(stats))
        listing = "\n".join(f"- {s.path}" for s in stats)
        message = (
            f"{site}: recover {len(stats)} files left by an interrupted run\n\n"
            f"These changes were written by a run that stopped before its commit.\n\n{listing}\n"
        )
        return self.commit(message), touched
