"""Pushing the archive to its remote: never forced, retried on connection trouble, credentials
never shown (``redact_url``)."""

from __future__ import annotations

import logging
import re
import time

import git

from archiver.archive.gitcmd import run_git
from archiver.archive.repo import ArchiveRepo
from archiver.errors import StoreError
from archiver.models import PushResult

logger = logging.getLogger(__name__)

ARCHIVE_REMOTE = "archive"  # the git remote archiver manages when ``remote:`` is a URL or a path
REMOTE_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]*\Z")
PUSH_TIMEOUT = 600.0
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def redact_url(text: str) -> str:
    """``text`` with the ``user:password@`` part of every URL in it removed (for messages and logs)."""
    return _USERINFO.sub(r"\g<scheme>", text)


def _push_remote(repo: ArchiveRepo, remote: str) -> str:
    """The git remote to push to: ``remote`` itself if it is a name, else ``archive`` set to that URL."""
    names = run_git(repo.repo, "remote").split()
    if REMOTE_NAME.match(remote):
        if remote not in names:
            raise StoreError(
                f"{repo.path} has no git remote named {remote!r}: add it with "
                f"'git -C {repo.path} remote add {remote} URL', or set remote: to a URL"
            )
        return remote
    if ARCHIVE_REMOTE not in names:
        run_git(repo.repo, "remote", "add", ARCHIVE_REMOTE, remote)
    elif run_git(repo.repo, "remote", "get-url", ARCHIVE_REMOTE).strip() != remote:
        run_git(repo.repo, "remote", "set-url", ARCHIVE_REMOTE, remote)
    return ARCHIVE_REMOTE


def push(
    repo: ArchiveRepo, remote: str, *, attempts: int = 3, backoff: float = 1.0, timeout: float = PUSH_TIMEOUT
) -> PushResult:
    """Push the current branch to ``remote`` (a remote's name, a URL or a path); never forced.

    Failures are returned, not raised, and never touch the local commits: the next push sends
    them. Connection problems are retried ``attempts`` times (waiting ``backoff`` s, then twice
    as long each time); a rejection by the remote is not. git never prompts for credentials
    (``GIT_TERMINAL_PROMPT=0``): they come from the environment or git's credential helpers.
    """
    shown = redact_url(remote)
    try:
        name = _push_remote(repo, remote)
        if not repo.repo.head.is_valid():
            return PushResult(shown, ok=True)  # nothing committed yet: nothing to push
        branch = run_git(repo.repo, "symbolic-ref", "--short", "HEAD").strip()
        head = repo.repo.head.commit.hexsha
    except (StoreError, ValueError, git.GitCommandError) as exc:
        return PushResult(shown, ok=False, error=redact_url(f"cannot push to {shown}: {exc}"))
    error = ""
    for attempt in range(1, attempts + 1):
        status, out, err = repo.repo.git.execute(
            ["git", "push", "--porcelain", name, f"refs/heads/{branch}:refs/heads/{branch}"],
            with_extended_output=True,
            with_exceptions=False,
            kill_after_timeout=timeout,
            env={"GIT_TERMINAL_PROMPT": "0"},
        )
        lines = str(out).splitlines()
        if status == 0:
            sent = any(line[:2] in (" \t", "*\t", "+\t") for line in lines)
            return PushResult(shown, ok=True, pushed=sent, commit=head)
        error, final = _failure(shown, status, lines, err)
        if final:
            break
        if attempt < attempts:
            delay = backoff * 2 ** (attempt - 1)
            logger.warning("%s; retrying in %.0f s (attempt %d of %d)", redact_url(error), delay, attempt, attempts)
            time.sleep(delay)
    return PushResult(shown, ok=False, commit=head, error=redact_url(error))


def _failure(shown: str, status: int, lines: list[str], err: str) -> tuple[str, bool]:
    """What a failed ``git push --porcelain`` said, and whether it is final (the remote refused)."""
    said = [s for line in err.splitlines() if line.startswith("remote:") and (s := line[7:].strip())]
    rejected = [line.split("\t")[-1] for line in lines if line.startswith("!\t")]
    if rejected:  # the remote answered no (hook, non-fast-forward): asking again will not help
        detail = f" (the remote said: {'; '.join(said)[:300]})" if said else ""
        error = f"push to {shown} rejected: {rejected[0]}{detail}"
        if "fetch first" in rejected[0] or "non-fast-forward" in rejected[0]:
            error += "; the remote has commits the archive lacks, and archiver never forces: merge by hand"
        return error, True
    fatal = [line[6:].strip() for line in err.splitlines() if line.startswith("fatal:")]
    return f"push to {shown} failed: {fatal[0] if fatal else (err.strip() or f'git exited with {status}')}", False
