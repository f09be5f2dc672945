"""Name snapshots the way people think of them: ``-1``, ``2026-06-10``, a sha, ``A..B``, ``site@rev``.

Every spec is resolved against the site's own commits (``git log -- <site>/``), so ``-2`` means
"this site's second-latest snapshot" even when other sites committed in between. Anything that does
not resolve is a :class:`HistoryError` with a message that says what exists instead (exit 2).
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urljoin

from archiver.archive import history
from archiver.archive.gitcmd import has_commits, open_git
from archiver.archive.history import page_paths, run_git
from archiver.errors import HistoryError
from archiver.paths import page_key, relative_path

_NTH = re.compile(r"\A-(\d+)\Z")
_DAY = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")
_DATETIME = re.compile(r"\A\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?([+-]\d{2}:?\d{2}|Z)?\Z")
_HINT = "use a commit, a date like 2026-06-10, or -1 for the site's latest snapshot (-2 the one before)"


def site_commits(path: Path, site: str) -> list[tuple[str, str]]:
    """(sha, ISO date) of every commit that changed ``<site>/``, newest first; HistoryError if none."""
    repo = open_git(path)
    lines = run_git(repo, "log", "--format=%H %aI", "--", f"{site}/").split() if has_commits(repo) else []
    commits = list(zip(lines[0::2], lines[1::2], strict=True))
    if not commits:
        known = ", ".join(sorted(t.name for t in repo.head.commit.tree.trees)) if has_commits(repo) else ""
        raise HistoryError(f"no snapshots of site {site!r} in {path}" + (f" (sites: {known})" if known else ""))
    return commits


def _on_or_before(commits: list[tuple[str, str]], site: str, ref: str) -> str:
    """The newest commit dated at or before ``ref`` (a day means the whole day, in the commit's own zone)."""
    if _DAY.match(ref):
        try:
            day = date.fromisoformat(ref)
        except ValueError:
            raise HistoryError(f"{ref!r} is not a valid date") from None
        hits = [sha for sha, when in commits if datetime.fromisoformat(when).date() <= day]
    else:
        try:
            moment = datetime.fromisoformat(ref.replace("Z", "+00:00"))
        except ValueError:
            raise HistoryError(f"{ref!r} is not a valid date and time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        hits = [sha for sha, when in commits if datetime.fromisoformat(when) <= moment]
    if not hits:
        first = commits[-1][1]
        raise HistoryError(f"no snapshot of site {site!r} at or before {ref} (the first one is from {first})")
    return hits[0]


def resolve_rev(path: Path, site: str, ref: str) -> str:
    """The full sha that ``ref`` names for ``site``: ``-N``, a date, or any git revision."""
    ref = ref.strip()
    commits = site_commits(path, site)
    nth = _NTH.match(ref)
    if nth:
        n = int(nth.group(1))
        if not 1 <= n <= len(commits):
            count = f"{len(commits)} snapshot{'s' if len(commits) != 1 else ''}"
            raise HistoryError(f"site {site!r} has {count}, so {ref} names none (-1 is the latest)")
        return commits[n - 1][0]
    if _DAY.match(ref) or _DATETIME.match(ref):
        return _on_or_before(commits, site, ref)
    if not ref or ref.startswith("-"):
        raise HistoryError(f"unknown revision {ref!r}: {_HINT}")
    try:
        return run_git(open_git(path), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except HistoryError:
        raise HistoryError(f"unknown revision {ref!r}: {_HINT}") from None


def split_range(spec: str) -> tuple[str, str] | None:
    """``A..B`` → (A, B); ``A..`` → (A, -1); None if ``spec`` is not a range."""
    if ".." not in spec:
        return None
    old, _, new = spec.partition("..")
    if not old or new.startswith("."):
        raise HistoryError(f"bad range {spec!r}: write FROM..TO, e.g. -2..-1 or 2026-06-01..2026-06-10")
    return old, new or "-1"


def resolve_range(path: Path, site: str, old: str, new: str, *, page: str | None = None) -> tuple[str, str]:
    """Both ends of a range as shas; HistoryError if no snapshot of the site (or page) lies between them."""
    a, b = resolve_rev(path, site, old), resolve_rev(path, site, new)
    repo = open_git(path)
    spec = f"{site}/{page}" if page else f"{site}/"
    if int(run_git(repo, "rev-list", "--count", f"{a}..{b}", "--", spec).strip() or 0):
        return a, b
    what = f"page {page!r} of site {site!r}" if page else f"site {site!r}"
    hint = ""
    if a != b and int(run_git(repo, "rev-list", "--count", f"{b}..{a}", "--", spec).strip() or 0):
        hint = f"; {new} is older than {old}: did you mean {new}..{old}?"
    raise HistoryError(f"no snapshots of {what} in {old}..{new} ({a[:10]}..{b[:10]}){hint}")


def split_site_rev(spec: str) -> tuple[str, str]:
    """``site@rev`` → (site, rev); plain ``site`` → (site, -1)."""
    site, _, rev = spec.partition("@")
    return site, rev or "-1"


def resolve_snapshot(path: Path, site: str, ref: str) -> str:
    """The sha ``ref`` names, which must be a commit that changed ``<site>/``."""
    sha = resolve_rev(path, site, ref)
    changed = run_git(open_git(path), "show", "--format=", "--name-only", "--no-renames", sha, "--", f"{site}/")
    if not changed.strip():
        raise HistoryError(
            f"commit {sha[:10]} ({ref}) is not a snapshot of site {site!r}: it changes none of its pages"
        )
    return sha


def _url_forms(base: str | None, page: str) -> list[str]:
    """The absolute URLs ``page`` may mean: itself if absolute; else relative to the site's base URL
    (``guide/auth.html``, the form ``pages:`` takes) and, for ``/…``, also to its host (``/``)."""
    if page.startswith(("http://", "https://")):
        return [page]
    if not base:
        return []
    forms = [urljoin(base, page.lstrip("/"))]
    if page.startswith("/"):
        forms.append(urljoin(base, page))
    return forms


def resolve_page(path: Path, site: str, page: str, urls: history.SiteUrls | None = None) -> str:
    """The path in the site folder of a page named any way it was known: its path there
    (``guide/auth.md``, also ``<site>/guide/auth.md``) or any URL form it had, absolute or relative to
    the site (``/``, ``/index.html``, ``guide/auth.html`` as in ``pages:``), removed pages too.
    ``urls``: the site's :func:`~archiver.archive.history.site_urls`, if the caller has read them."""
    site_commits(path, site)  # the site itself must exist first
    known = page_paths(path, site)
    wanted = page.removeprefix(f"{site}/").lstrip("/")
    if wanted in known:
        return wanted
    urls = urls or history.site_urls(path, site)
    base = urls.base_url
    if page in urls.paths:
        return urls.paths[page]
    forms = _url_forms(base, page)
    if forms:
        keyed: dict[str, str] = {}
        for url, rel in urls.paths.items():
            keyed.setdefault(page_key(base or url, url), rel)
        for form in forms:
            key = page_key(base or form, form)
            if key in keyed:
                return keyed[key]
            if base and relative_path(base, form) in known:
                return relative_path(base, form)
    close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f" ({len(known)} pages: see 'archiver log {site}')"
    raise HistoryError(f"no page {page!r} in the history of site {site!r}{hint}")


def check_since(value: str | None) -> str | None:
    """A ``--since`` value: an ISO date (checked here) or anything git's date parser takes (``2 weeks ago``)."""
    if value and (_DAY.match(value) or _DATETIME.match(value)):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise HistoryError(f"--since {value!r} is not a valid date (write 2026-06-10)") from None
    return value


def diff(
    path: Path,
    site: str,
    rev: str | None = None,
    *,
    color: bool = False,
    page: str | None = None,
    word_diff: bool = False,
    stat_only: bool = False,
) -> str:
    """The patch of one snapshot of ``site`` (its latest if ``rev`` is None), or of a range ``A..B``.

    ``rev`` may use any form :func:`resolve_rev` accepts (``-1``, ``2026-06-10``, a sha, and
    ranges of those); ``page`` (a path or URL) limits it to one file of the site. The text is
    :func:`archiver.archive.history.diff`'s: what ``git show`` / ``git diff`` print.
    """
    rel = resolve_page(path, site, page) if page else None
    rng = split_range(rev) if rev else None
    if rng:
        old, target = resolve_range(path, site, *rng, page=rel)
        return history.diff(path, site, target, old, color=color, page=rel, word_diff=word_diff, stat_only=stat_only)
    target = resolve_rev(path, site, rev or "-1")
    if rel and not history.changes_page(path, target, site, rel):
        raise HistoryError(
            f"snapshot {target[:10]} ({rev or '-1'}) does not change page {rel!r} of site {site!r}; "
            f"its versions: archiver history {site} {rel}"
        )
    return history.diff(path, site, target, color=color, page=rel, word_diff=word_diff, stat_only=stat_only)
