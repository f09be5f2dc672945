"""The read side: snapshots and diffs, all read back from git so the tool and ``git log`` agree."""

from __future__ import annotations

from pathlib import Path

import git

from archiver.errors import HistoryError, StoreError
from archiver.models import FileStat, Snapshot

_RECORD = "\x1e"
_FIELD = "\x1f"


def _repo(path: Path) -> git.Repo:
    try:
        return git.Repo(path)
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise StoreError(f"{path}: no archive repository here (run 'archiver run' first)") from None


def _run(repo: git.Repo, *args: str) -> str:
    try:
        out: str = repo.git.execute(["git", *args], strip_newline_in_stdout=False)
        return out
    except git.GitCommandError as exc:
        detail = (exc.stderr or "").strip().splitlines()
        raise HistoryError(f"git {args[0]}: {detail[-1] if detail else exc}") from exc


def _has_commits(repo: git.Repo) -> bool:
    try:
        repo.head.commit  # noqa: B018 - raises ValueError on an empty repository
    except ValueError:
        return False
    return True


def snapshots(path: Path, site: str | None = None, limit: int | None = None) -> list[Snapshot]:
    """Commits of the archive (of one site's folder if ``site``), newest first, with per-file stats.

    The same as ``git log --numstat --no-renames -- <site>/``.
    """
    repo = _repo(path)
    if not _has_commits(repo):
        return []
    args = ["log", f"--format={_RECORD}%H{_FIELD}%aI{_FIELD}%s", "--numstat", "--no-renames"]
    if limit:
        args.append(f"--max-count={limit}")
    if site:
        args += ["--", f"{site}/"]
    out: list[Snapshot] = []
    for record in _run(repo, *args).split(_RECORD)[1:]:
        header, _, body = record.partition("\n")
        sha, date, subject = header.split(_FIELD, 2)
        files = []
        for line in body.splitlines():
            if not line.strip():
                continue
            added, removed, name = line.split("\t", 2)
            files.append(FileStat(name, int(added) if added.isdigit() else 0, int(removed) if removed.isdigit() else 0))
        out.append(Snapshot(sha, date, subject, tuple(files)))
    return out


def sites_in(path: Path) -> list[str]:
    """Top-level folders tracked in the archive's HEAD (one per site)."""
    repo = _repo(path)
    if not _has_commits(repo):
        return []
    return sorted(t.name for t in repo.head.commit.tree.trees)


def diff(path: Path, site: str, rev: str | None = None, *, color: bool = False) -> str:
    """The patch of one snapshot of ``site`` (its latest if ``rev`` is None), or of a range ``A..B``.

    The same text as ``git show <rev> -- <site>/`` (or ``git diff A B -- <site>/``).
    """
    repo = _repo(path)
    history = snapshots(path, site, limit=1)
    if not history:
        raise HistoryError(f"no snapshots of site {site!r} in {path}")
    color_arg = "--color=always" if color else "--color=never"
    if rev and ".." in rev:
        return _run(repo, "diff", color_arg, "--stat", "--patch", rev, "--", f"{site}/")
    target = rev or history[0].sha
    return _run(repo, "show", color_arg, "--stat", "--patch", "--format=medium", target, "--", f"{site}/")
