"""The one way archiver opens a git repository and runs git in it.

Both the write side (:mod:`archiver.archive.repo`) and the read side (:mod:`archiver.archive.history`,
:mod:`archiver.archive.revisions`) run the git binary through GitPython with these two functions, so a
missing repository and a failing git command read the same wherever they happen.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import git

from archiver.errors import ArchiverError, StoreError


def open_git(path: Path) -> git.Repo:
    """The git repository at ``path``; StoreError if there is none."""
    try:
        return git.Repo(path)
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise StoreError(f"{path}: no archive repository here (run 'archiver run' or 'archiver init')") from None


def run_git(
    repo: git.Repo, *args: str, error: type[ArchiverError] = StoreError, env: dict[str, str] | None = None
) -> str:
    """``git <args>`` in ``repo``, its output unstripped; git's last stderr line becomes ``error``."""
    try:
        with repo.git.custom_environment(**(env or {})):
            out: str = repo.git.execute(["git", *args], strip_newline_in_stdout=False)
        return out
    except git.GitCommandError as exc:
        raise _failure(repo, args, exc, error) from exc


def _failure(
    repo: git.Repo, args: tuple[str, ...], exc: git.GitCommandError, error: type[ArchiverError]
) -> ArchiverError:
    stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
    detail = stderr.strip().removeprefix("stderr: ").strip("'").strip().splitlines()
    command = next((a for a in args if not a.startswith("-") and "=" not in a), args[0])
    return error(f"git {command} failed in {repo.working_dir}: {detail[-1] if detail else exc}")


def cat_blobs(repo: git.Repo, blobs: list[str], error: type[ArchiverError] = StoreError) -> Iterator[tuple[str, bytes]]:
    """The content of each blob in ``blobs``, in order, from one ``git cat-file --batch`` that is
    fed every name at once (from a thread), so reading thousands costs no round trip each."""
    proc = repo.git.execute(["git", "cat-file", "--batch"], as_process=True, istream=subprocess.PIPE)

    def ask() -> None:
        try:
            proc.stdin.write("".join(f"{blob}\n" for blob in blobs).encode())
        except BrokenPipeError:  # (git stopped: the reader says why)
            pass
        finally:
            proc.stdin.close()

    writer = threading.Thread(target=ask, name="cat-blobs", daemon=True)
    writer.start()
    try:
        for blob in blobs:
            head = proc.stdout.readline().split()
            if len(head) != 3:
                raise error(f"{repo.working_dir}: no blob {blob} in the archive")
            yield blob, proc.stdout.read(int(head[2]) + 1)[:-1]
    finally:
        proc.stdout.close()
        writer.join()
        proc.wait()


def has_commits(repo: git.Repo) -> bool:
    """False for a repository with no commit yet."""
    try:
        repo.head.commit  # noqa: B018 - raises ValueError on an empty repository
    except ValueError:
        return False
    return True
