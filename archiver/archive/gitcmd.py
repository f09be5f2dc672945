"""The one way archiver opens a git repository and runs git in it.

Both the write side (:mod:`archiver.archive.repo`) and the read side (:mod:`archiver.archive.history`,
:mod:`archiver.archive.revisions`) run the git binary through GitPython with these two functions, so a
missing repository and a failing git command read the same wherever they happen.
"""

from __future__ import annotations

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
        detail = (exc.stderr or "").strip().splitlines()
        command = next((a for a in args if not a.startswith("-") and "=" not in a), args[0])
        raise error(f"git {command} failed in {repo.working_dir}: {detail[-1] if detail else exc}") from exc


def has_commits(repo: git.Repo) -> bool:
    """False for a repository with no commit yet."""
    try:
        repo.head.commit  # noqa: B018 - raises ValueError on an empty repository
    except ValueError:
        return False
    return True
