"""The read side: snapshots, pages and patches, all read back from git so the tool and ``git log`` agree.

Every function runs the git binary (through GitPython) with options that make its output
independent of the user's git config (no colour unless asked, no external diff, fixed prefixes,
no renames), so what it returns is what ``git log --numstat`` / ``git show`` print for the same
commits. Functions here take shas; revision names (``-1``, dates, ``A..B``) are resolved in
:mod:`archiver.archive.revisions`, which sits above this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import git

from archiver.archive import gitcmd, scope
from archiver.archive.gitcmd import has_commits, open_git
from archiver.archive.patch import changed_sections, parse_patch, unquote_path
from archiver.errors import HistoryError
from archiver.models import FileStat, Snapshot

_RECORD = "\x1e"
_FIELD = "\x1f"
# plain output whatever the user's config says; core.quotePath=false keeps non-ASCII names readable
_PLAIN = ("-c", "core.quotePath=false", "-c", "color.ui=never")
_DIFF_OPTS = ("--no-renames", "--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/")
FULL_CONTEXT = "--unified=1000000"  # whole files, so every changed line can be placed under its heading


@dataclass(frozen=True, slots=True)
class PageVersion:
    """One commit that changed one page: the page's own line counts and what happened to it."""

    sha: str
    date: str
    subject: str
    status: str  # A added, M changed, D removed
    added: int
    removed: int
    binary: bool = False


def run_git(repo: git.Repo, *args: str) -> str:
    """``git <args>`` with plain output whatever the user's config; a failure is a HistoryError."""
    return gitcmd.run_git(repo, *_PLAIN, *args, error=HistoryError)


def _log(repo: git.Repo, args: list[str], pathspec: str | None) -> list[Snapshot]:
    """``git log --raw --numstat`` parsed: one Snapshot per commit, files with status and line counts."""
    if not has_commits(repo):
        return []
    kind = "%(trailers:key=Change-Kind,valueonly,separator=%x20)"
    cmd = [
        "log",
        f"--format={_RECORD}%H{_FIELD}%aI{_FIELD}{kind}{_FIELD}%s",
        "--raw",
        "--numstat",
        "--no-renames",
        *args,
    ]
    if pathspec:
        cmd += ["--", pathspec]
    out: list[Snapshot] = []
    for record in run_git(repo, *cmd).split(_RECORD)[1:]:
        header, _, body = record.partition("\n")
        sha, date, kind, subject = header.split(_FIELD, 3)
        statuses: dict[str, str] = {}
        files: list[FileStat] = []
        for line in body.splitlines():
            if line.startswith(":"):  # ":100644 100644 abc def M\tpath"
                meta, _, name = line.partition("\t")
                statuses[unquote_path(name)] = meta.split()[-1][:1]
            elif line.strip():
                added, removed, name = line.split("\t", 2)
                name = unquote_path(name)
                binary = added == "-"
                files.append(
                    FileStat(
                        name,
                        0 if binary else int(added),
                        0 if binary else int(removed),
                        statuses.get(name, "M"),
                        binary,
                    )
                )
        out.append(Snapshot(sha, date, subject, tuple(files), kind.strip()))
    return out


def snapshots(
    path: Path,
    site: str | None = None,
    limit: int | None = None,
    *,
    since: str | None = None,
    page: str | None = None,
) -> list[Snapshot]:
    """Commits of the archive (of one site's folder if ``site``), newest first, with per-file stats.

    The same as ``git log --numstat --no-renames [--since=DATE] -- <site>/[<page>]``; ``page`` is a
    path inside the site's folder (or, without ``site``, inside the repository).
    """
    repo = open_git(path)
    args = [f"--max-count={limit}"] if limit else []
    if since:
        args.append(f"--since={since}")
    spec = f"{site}/" if site else None
    if page:
        spec = f"{site}/{page}" if site else page
    return _log(repo, args, spec)


def snapshot(path: Path, site: str, sha: str) -> Snapshot:
    """Commit ``sha`` as a snapshot of ``site``: its files under ``<site>/`` and their line counts."""
    [snap] = _log(open_git(path), ["-1", sha], f"{site}/")
    return snap


def sites_in(path: Path) -> list[str]:
    """Top-level folders tracked in the archive's HEAD (one per site)."""
    repo = open_git(path)
    if not has_commits(repo):
        return []
    return sorted(t.name for t in repo.head.commit.tree.trees)


def root_commit(path: Path) -> str:
    """The sha of the archive's first commit ("" if it has none): identifies this archive."""
    repo = open_git(path)
    if not has_commits(repo):
        return ""
    return run_git(repo, "rev-list", "--max-parents=0", "HEAD").split()[-1]


def page_versions(path: Path, site: str, page: str) -> list[PageVersion]:
    """Every commit that changed ``<site>/<page>``, oldest first (``git log --reverse -- <file>``)."""
    full = f"{site}/{page}"
    out: list[PageVersion] = []
    for snap in reversed(_log(open_git(path), [], full)):
        for f in snap.files:
            if f.path == full:
                out.append(PageVersion(snap.sha, snap.date, snap.subject, f.status, f.added, f.removed, f.binary))
    return out


def page_paths(path: Path, site: str) -> list[str]:
    """Every page (path inside the site folder) that ever existed in the site's history, sorted."""
    repo = open_git(path)
    if not has_commits(repo):
        return []
    out = run_git(repo, "log", "--format=", "--name-only", "--no-renames", "--", f"{site}/")
    prefix = f"{site}/"
    return sorted({unquote_path(n)[len(prefix) :] for n in out.splitlines() if n.strip()})


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page a commit message lists: ``- guide/auth.md  https://x.org/guide/auth.html (reason)``."""

    kind: str  # the list it is in: "added", "changed", "moved" or "removed"
    path: str  # inside the site folder
    url: str
    reason: str  # the words in brackets ("gone: HTTP 404", "no longer listed …"), or ""


_LISTS = {"Added:": "added", "Changed:": "changed", "Moved:": "moved", "Removed:": "removed"}


def message_pages(message: str) -> list[MessagePage]:
    """The pages an archiver commit message lists under Added/Changed/Moved/Removed (the shape
    ``run.commits.commit_message`` writes); other messages list none. The CLI and the report both
    read removals, moves and old URLs from here."""
    out: list[MessagePage] = []
    kind = ""
    for line in message.splitlines():
        if line in _LISTS:
            kind = _LISTS[line]
        elif kind and line.startswith("- "):
            name, sep, rest = line[2:].partition("  ")
            url, _, why = rest.partition(" (")
            if sep and url:
                out.append(MessagePage(kind, name, url, why[:-1] if why.endswith(")") else why))
        else:
            kind = ""
    return out


def trailer(message: str, key: str) -> str | None:
    """The value of trailer ``key`` (``Source``, ``Change-Kind``) in a commit message, if any."""
    for line in reversed(message.splitlines()):
        name, sep, value = line.partition(": ")
        if sep and name == key:
            return value.strip()
    return None


@dataclass(frozen=True, slots=True)
class SiteUrls:
    """What a site's history says of its URLs: its base URL (the newest ``Source:`` trailer) and, for
    every URL a commit listed or a file in HEAD names, its path in the site folder (newest wins)."""

    base_url: str | None
    paths: dict[str, str]  # url -> path inside the site folder


def site_urls(path: Path, site: str) -> SiteUrls:
    """Every URL a page of ``site`` had, removed pages included, read from commit messages and the
    ``source:`` lines in HEAD."""
    repo = open_git(path)
    if not has_commits(repo):
        return SiteUrls(None, {})
    base: str | None = None
    paths: dict[str, str] = {}
    try:  # -z: "HEAD:<path>\0<line number>\0<line>" per match, whatever the path holds
        hits = run_git(repo, "grep", "-z", "-n", "-E", "-e", "^source: ", "HEAD", "--", f"{site}/")
    except HistoryError:  # git grep exits 1 when nothing matches
        hits = ""
    for hit in hits.splitlines():
        name, _, rest = hit.partition("\0")
        number, _, line = rest.partition("\0")
        if number.isdigit() and int(number) <= 5:  # the front matter's line, not a page's own text
            paths.setdefault(line.removeprefix("source: ").strip(), name.removeprefix(f"HEAD:{site}/"))
    for message in messages(path, site).values():  # newest first
        base = base or trailer(message, "Source")
        for listed in message_pages(message):
            paths.setdefault(listed.url, listed.path)
    return SiteUrls(base, paths)


def removal_reason(path: Path, sha: str, site: str, page: str) -> str:
    """Why commit ``sha`` removed ``<site>/<page>`` as its message says (``gone: HTTP 404``), or ""."""
    for listed in message_pages(commit_message(path, sha)):
        if listed.path == page and listed.kind == "removed":
            return listed.reason
    return ""


def commit_message(path: Path, sha: str) -> str:
    """The full message of commit ``sha`` (subject, body, trailers)."""
    return run_git(open_git(path), "log", "-1", "--format=%B", sha)


def commit_date(path: Path, sha: str) -> str:
    """The author date of commit ``sha`` (ISO 8601 with offset), as ``git log --format=%aI`` says."""
    return run_git(open_git(path), "log", "-1", "--format=%aI", sha).strip()


def patch(
    path: Path,
    site: str,
    new: str,
    old: str | None = None,
    *,
    page: str | None = None,
    full_context: bool = False,
) -> str:
    """The bare patch (no header, no stat) of commit ``new`` or of ``old``..``new`` under ``<site>/``.

    What ``git show --format= <new> -- <site>/`` (or ``git diff <old> <new> -- <site>/``) prints;
    ``full_context`` shows whole files instead of three lines around each change.
    """
    repo = open_git(path)
    spec = f"{site}/{page}" if page else f"{site}/"
    extra = [FULL_CONTEXT] if full_context else []
    if old is None:
        return run_git(repo, "show", "--format=", "--patch", *_DIFF_OPTS, *extra, new, "--", spec)
    return run_git(repo, "diff", "--patch", *_DIFF_OPTS, *extra, old, new, "--", spec)


def diff(
    path: Path,
    site: str,
    new: str,
    old: str | None = None,
    *,
    color: bool = False,
    page: str | None = None,
    word_diff: bool = False,
    stat_only: bool = False,
) -> str:
    """The stat and patch of commit ``new`` under ``<site>/`` (or of ``old``..``new``), for people.

    The same text as ``git show --stat --patch <new> -- <site>/`` (or ``git diff --stat --patch
    <old> <new> -- <site>/``); ``page`` (a path in the site folder) limits it to one file, and a
    single commit's header to its sha, date and subject. Names
    like ``-1`` or dates are resolved first, by :func:`archiver.archive.revisions.diff`.
    """
    spec = f"{site}/{page}" if page else f"{site}/"
    options = ["--color=always" if color else "--color=never", "--stat"]
    if not stat_only:
        options.append("--patch")
        if word_diff:
            options.append("--word-diff=color" if color else "--word-diff=plain")
    repo = open_git(path)
    if old is not None:
        return run_git(repo, "diff", *options, old, new, "--", spec)
    if page:  # one page's diff: which snapshot it is, in a line or two, then the page, not the whole message
        yellow, reset = ("%C(yellow)", "%C(reset)") if color else ("", "")
        return run_git(
            repo, "show", *options, f"--format={yellow}commit %H{reset}%nDate:   %ad%n%n    %s%n", new, "--", spec
        )
    return run_git(repo, "show", *options, "--format=medium", new, "--", spec)


def changes_page(path: Path, sha: str, site: str, page: str) -> bool:
    """True if commit ``sha`` changes ``<site>/<page>``."""
    return bool(run_git(open_git(path), "show", "--format=", "--name-only", sha, "--", f"{site}/{page}").strip())


def sections(
    path: Path, site: str, new: str, old: str | None = None, *, page: str | None = None
) -> dict[str, list[str]]:
    """For each file of a snapshot (or range), the Markdown headings above its changed lines.

    Keys are paths inside the site folder; binary files have no sections.
    """
    text = patch(path, site, new, old, page=page, full_context=True)
    return {fd.path.removeprefix(f"{site}/"): changed_sections(fd) for fd in parse_patch(text) if not fd.binary}


def messages(path: Path, site: str) -> dict[str, str]:
    """The full message (subject, body, trailers) of every commit of ``<site>/``, by sha.

    One ``git log --format=%H%n%B -- <site>/``, newest first; :func:`message_pages` and
    :func:`trailer` read them (each removed page's reason, old URLs, the site's ``Source:``).
    """
    repo = open_git(path)
    if not has_commits(repo):
        return {}
    out: dict[str, str] = {}
    for record in run_git(repo, "log", f"--format={_RECORD}%H{_FIELD}%B", "--", f"{site}/").split(_RECORD)[1:]:
        sha, _, message = record.partition(_FIELD)
        out[sha] = message
    return out


def file_blobs(path: Path, site: str) -> dict[str, dict[str, tuple[str, str]]]:
    """For every commit of ``<site>/``, by sha: each file it touched → (blob before, blob after).

    What ``git log --raw --no-abbrev`` says; a file added has no blob before and a file removed none
    after (``""``). A blob names one version of a file's content, whichever commit made it.
    """
    repo = open_git(path)
    if not has_commits(repo):
        return {}
    text = run_git(repo, "log", f"--format={_RECORD}%H", "--raw", "--no-abbrev", "--no-renames", "--", f"{site}/")
    none = "0" * 40
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for record in text.split(_RECORD)[1:]:
        sha, _, body = record.partition("\n")
        files = out.setdefault(sha.strip(), {})
        for line in body.splitlines():
            if line.startswith(":"):  # ":100644 100644 <old> <new> M\tpath"
                meta, _, name = line.partition("\t")
                old, new = meta.split()[2:4]
                files[unquote_path(name)] = ("" if old == none else old, "" if new == none else new)
    return out


def read_blobs(path: Path, blobs: list[str]) -> Iterator[tuple[str, bytes]]:
    """The content of each blob in ``blobs`` (``git cat-file blob``), through one git process."""
    repo = open_git(path)
    try:
        for blob in blobs:
            try:
                data = repo.odb.stream(bytes.fromhex(blob)).read()
            except (ValueError, git.BadObject, git.GitCommandError) as exc:
                raise HistoryError(f"{path}: no blob {blob} in the archive") from exc
            yield blob, data
    finally:
        repo.close()  # (ends git's cat-file process)


def watched(
    path: Path, site: str, watch: scope.Watch, base_url: str | None, snaps: Iterable[Snapshot]
) -> Iterator[tuple[Snapshot, list[scope.ScopedPage]]]:
    """The snapshots of ``snaps`` that touch ``watch`` (:mod:`archiver.archive.scope`), in their
    order, each with what the watch sees of it; lazily, one ``git show`` per snapshot looked at."""
    for snap in snaps:
        if not scope.counts(snap.kind):
            continue
        pages = scope.scoped(watch, site, parse_patch(patch(path, site, snap.sha, full_context=True)), base_url)
        if pages:
            yield snap, pages
