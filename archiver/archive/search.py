"""When a phrase came into a page, or went: git's pickaxe over the archive (``archiver when``).

``git log -S<phrase>`` lists the commits that change how many times a file holds the phrase, so a
line that only moved (or was edited around the phrase) is no appearance; ``--regex`` keeps that
meaning with ``--pickaxe-regex`` (a POSIX extended regular expression, as git reads it) rather than
``-G``, which would also list every edit of a line that matches. The patch git shows with it holds
only the files whose count changed; their changed lines say which way it went (more occurrences on
the new side: ``added``) and the line it is on. One git process per repository: every site at once
in the single layout, each site's own in ``layout: per-site`` (:mod:`archiver.archive.layout`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archiver.archive import layout
from archiver.archive.gitcmd import cat_blobs, has_commits, open_git
from archiver.archive.history import run_git
from archiver.archive.patch import unquote_path
from archiver.errors import HistoryError

_RECORD = "\x1e"
_FIELD = "\x1f"
_DIFF_OPTS = ("--no-renames", "--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/")
MAX_LINE = 200  # characters of the line shown around the phrase
MAX_LINES = 1000  # lines holding the phrase kept per version of a page (to tell the new one from the old)


@dataclass(frozen=True, slots=True)
class Appearance:
    """One snapshot in which a page came to hold the phrase more (``added``) or fewer times (``removed``)."""

    sha: str
    date: str  # ISO 8601, the commit's author date
    site: str
    page: str  # inside the site folder
    change: str  # "added" or "removed"
    line: str  # the line it is (or was) on, cut around it to MAX_LINE characters
    page_status: str  # what the snapshot did to the page: A added, M changed, D removed


@dataclass(frozen=True, slots=True)
class Searched:
    """What a search looked through: the sites and the dates of their first and last snapshots."""

    sites: tuple[str, ...]
    first: str | None
    last: str | None


class _Matcher:
    """Counts the phrase in one line as git's pickaxe does (non-overlapping, never empty)."""

    def __init__(self, phrase: str, regex: bool) -> None:
        self.phrase = phrase
        self.pattern: re.Pattern[str] | None = None
        if regex:
            try:  # git's ERE and Python's re agree on common patterns; if not, git decides alone
                self.pattern = re.compile(phrase, re.MULTILINE)  # (git: REG_NEWLINE)
            except re.error:
                self.pattern = None
        self.regex = regex

    def count(self, text: str) -> int:
        if not self.regex:
            return text.count(self.phrase)
        if self.pattern is None:
            return 0
        return sum(1 for m in self.pattern.finditer(text) if m.end() > m.start())

    def spans(self, text: str, limit: int) -> Iterator[tuple[int, int]]:
        """Where the phrase is in ``text``, at most ``limit`` times."""
        if self.regex:
            found = (m.span() for m in self.pattern.finditer(text) if m.end() > m.start()) if self.pattern else iter(())
            for n, span in enumerate(found):
                if n >= limit:
                    return
                yield span
            return
        at = text.find(self.phrase)
        for _ in range(limit):
            if at < 0:
                return
            yield at, at + len(self.phrase)
            at = text.find(self.phrase, at + len(self.phrase))

    def span(self, text: str) -> tuple[int, int] | None:
        if not self.regex:
            at = text.find(self.phrase)
            return (at, at + len(self.phrase)) if at >= 0 else None
        m = self.pattern.search(text) if self.pattern else None
        return m.span() if m else None


def _cut(text: str, span: tuple[int, int] | None) -> str:
    """The line, stripped, and cut to about MAX_LINE characters around the match with ``…``."""
    if len(text) <= MAX_LINE:
        return text.strip()
    start, end = span or (0, 0)
    room = max(0, MAX_LINE - (end - start)) // 2
    lo, hi = max(0, start - room), min(len(text), end + room)
    return ("…" if lo else "") + text[lo:hi].strip() + ("…" if hi < len(text) else "")


@dataclass(frozen=True, slots=True)
class _Change:
    """One file the pickaxe listed in one commit: its blobs before and after (``""``: none)."""

    sha: str
    date: str
    path: str
    status: str
    old: str
    new: str


class _Blob:
    """What a search needs of one version of a page: how often it holds the phrase, and the lines it is on."""

    __slots__ = ("count", "lines")

    def __init__(self, text: str, matcher: _Matcher, limit: int) -> None:
        self.count = matcher.count(text)
        self.lines: list[str] = []
        for start, _ in matcher.spans(text, limit):
            lo = text.rfind("\n", 0, start) + 1
            hi = text.find("\n", start)
            line = text[lo : hi if hi >= 0 else len(text)]
            if not self.lines or self.lines[-1] != line:
                self.lines.append(line)


def _line(ours: _Blob, theirs: _Blob | None) -> str:
    """The first line holding the phrase on our side that the other side lacks (else our first one)."""
    left = list(theirs.lines) if theirs else []
    for line in ours.lines:
        if line in left:
            left.remove(line)
        else:
            return line
    return ours.lines[0] if ours.lines else ""


def _appearance(change: _Change, blobs: dict[str, _Blob], matcher: _Matcher) -> Appearance | None:
    old, new = blobs.get(change.old), blobs.get(change.new)
    if (change.old and old is None) or (change.new and new is None):  # binary
        return None
    delta = (new.count if new else 0) - (old.count if old else 0)
    if delta == 0:  # (a regex Python reads otherwise than git): the page's own fate says which way
        delta = {"A": 1, "D": -1}.get(change.status, 0)
    kind = "added" if delta > 0 else "removed" if delta < 0 else "changed"
    ours, theirs = (old, new) if delta < 0 else (new, old)
    line = _line(ours, theirs) if ours else ""
    site, _, page = change.path.partition("/")
    return Appearance(change.sha, change.date, site, page, kind, _cut(line, matcher.span(line)), change.status)


def _specs(sites: list[str] | None, page: str | None) -> list[str]:
    """Pathspecs: each site's folder (or every file), narrowed to ``page``, a glob (``*`` crosses ``/``)."""
    if not sites:
        return [f"*/{page}"] if page else []
    return [f"{name}/{page or ''}" for name in sites]


def _pickaxe(path: Path, phrase: str, regex: bool, specs: list[str], sites: list[str] | None) -> list[Appearance]:
    """``git log -S`` (the commits and files whose count of the phrase changed), then each of those
    versions read once to say which way it went and on which line."""
    repo = open_git(path)
    if not has_commits(repo):
        return []
    cmd = ["log", f"-S{phrase}", *(["--pickaxe-regex"] if regex else []), "--reverse", "--raw", "--no-abbrev"]
    cmd += [*_DIFF_OPTS, f"--format={_RECORD}%H{_FIELD}%aI"]
    if specs:
        cmd += ["--", *specs]
    try:
        text = run_git(repo, *cmd)
    except HistoryError as exc:
        if "invalid regex" in str(exc):
            detail = str(exc).rsplit("invalid regex:", 1)[-1].strip()
            raise HistoryError(f"--regex {phrase!r} is not a valid regular expression: {detail}") from None
        raise
    changes = [c for c in _changes(text) if "/" in c.path and (not sites or c.path.split("/", 1)[0] in sites)]
    matcher = _Matcher(phrase, regex)
    wanted = list(dict.fromkeys(b for c in changes for b in (c.old, c.new) if b))
    compared = {b for c in changes if c.status == "M" for b in (c.old, c.new)}  # (the others need one line)
    blobs: dict[str, _Blob] = {}
    for blob, data in cat_blobs(repo, wanted, HistoryError):
        if b"\0" not in data[:8000]:  # (as git tells a binary file)
            text = data.decode("utf-8", "surrogateescape")
            blobs[blob] = _Blob(text, matcher, MAX_LINES if blob in compared else 1)
    return [a for c in changes if (a := _appearance(c, blobs, matcher))]


def _changes(text: str) -> Iterator[_Change]:
    """The files of ``git log --raw --no-abbrev``, per commit: ``:100644 100644 <old> <new> M\tpath``."""
    none = "0" * 40
    for record in text.split(_RECORD)[1:]:
        header, _, body = record.partition("\n")
        sha, _, date = header.partition(_FIELD)
        for line in body.splitlines():
            if line.startswith(":"):
                meta, _, name = line.partition("\t")
                old, new, status = meta.split()[2:5]
                old, new = ("" if old == none else old), ("" if new == none else new)
                yield _Change(sha, date.strip(), unquote_path(name), status[:1], old, new)


def _span(path: Path, specs: list[str]) -> tuple[str | None, str | None]:
    """The dates of the first and last commit touching ``specs``."""
    repo = open_git(path)
    if not has_commits(repo):
        return None, None
    dates = run_git(repo, "log", "--format=%aI", *(["--", *specs] if specs else [])).split()
    return (dates[-1], dates[0]) if dates else (None, None)


def _where(root: Path, sites: list[str]) -> dict[Path, list[str] | None]:
    """Each repository to search and the sites in it to search (None: every site it holds)."""
    known = layout.site_repos(root)
    if not known and not (root / ".git").exists() and not layout.is_per_site(root):
        open_git(root)  # the one "no archive repository here" message
    missing = [s for s in sites if s not in known]
    if missing:
        names = ", ".join(known) or "none"
        raise HistoryError(f"no snapshots of site {missing[0]!r} in {root} (sites: {names})")
    wanted = sites or list(known)
    if layout.is_per_site(root):
        return {known[s]: [s] for s in wanted}
    return {root: sites or None}


def when(
    root: Path, phrase: str, sites: list[str] | None = None, *, regex: bool = False, page: str | None = None
) -> tuple[list[Appearance], Searched]:
    """Every snapshot in which ``phrase`` came into or went from a page of ``sites`` (all if none),
    oldest first, and what was searched. ``page``: a glob on the path in the site folder."""
    if not phrase:
        raise HistoryError("the phrase is empty: give the words to look for, e.g. archiver when 'rate limit'")
    wanted = list(dict.fromkeys(sites or []))
    found: list[Appearance] = []
    firsts: list[str] = []
    lasts: list[str] = []
    names: list[str] = []
    for path, in_it in _where(root, wanted).items():
        specs = _specs(in_it, page)
        found += _pickaxe(path, phrase, regex, specs, in_it)
        first, last = _span(path, _specs(in_it, None))
        firsts += [first] if first else []
        lasts += [last] if last else []
        names += in_it or list(layout.site_repos(path))
    found.sort(key=lambda a: datetime.fromisoformat(a.date))  # (stable: git's own order within a second)
    first = min(firsts, key=datetime.fromisoformat, default=None)
    last = max(lasts, key=datetime.fromisoformat, default=None)
    return found, Searched(tuple(sorted(names)), first, last)


def first_appearance(found: list[Appearance]) -> Appearance | None:
    """The oldest ``added`` of ``found`` (as :func:`when` returns them, oldest first)."""
    return next((a for a in found if a.change == "added"), None)
