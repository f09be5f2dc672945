"""Which part of a snapshot a watch sees: the one place that decides, so that the scoped digests
(``run/notify.py``), the watch feeds (``report/build.py``) and ``archiver log --watch`` agree.

A watch (``watch:`` in ``sites.yaml``) names pages by glob and sections by heading:

* ``pages``: shell globs (``*`` also matches ``/``, case-sensitive, a leading ``/`` ignored), each
  matched against the page's file in the site folder (``api/limits.md``) and against its URL's path
  under ``base_url`` (``api/limits.html``, the URL from the file's ``source:`` line); a page is in
  scope if either matches. No globs: every page.
* ``sections``: headings of any level, compared as a reader says them (:func:`section_words`:
  markup and ``#`` left out, case-insensitive, spaces collapsed). A changed line is in scope if one
  of the headings it is under matches, its nearest one or any above it, so a watch of
  ``Rate limits`` sees a change under ``### Per endpoint`` inside ``## Rate limits``. No sections:
  the whole page (every changed line, front matter included).

A snapshot touches a watch if it has at least one changed line in scope (a binary file counts
when its page is in scope and the watch names no sections). Re-renders under new rules
(``Change-Kind: rules``) are archiver's change, not the docs': they never touch a watch. Pure
functions over parsed patches (:mod:`.patch`); the callers read git.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Protocol
from urllib.parse import urlsplit

from archiver.archive.patch import WHOLE_PAGE, FileDiff, Line, headings, placed_lines, section_words, source_url
from archiver.text import one_line

_WORDS = re.compile(r"[^\W_]+")
_STATUS = {"A": "Added", "M": "Changed", "D": "Removed"}
MINUS = "\u2212"


class Watch(Protocol):
    """What a scope needs of a watch (``archiver.config.Watch`` is one; the config sits beside this layer)."""

    @property
    def name(self) -> str: ...

    @property
    def pages(self) -> Sequence[str]: ...

    @property
    def sections(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class ScopedPage:
    """One page of a snapshot as a watch sees it: only its changed lines in scope."""

    path: str  # inside the site folder
    url: str | None
    status: str  # A added, M changed, D removed
    sections: tuple[str, ...]  # the nearest headings of those lines, as words ("new page" for a whole page)
    lines: tuple[Line, ...]
    binary: bool = False

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.kind == "+")

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.kind == "-")


def counts(kind: str) -> bool:
    """True if a snapshot of this ``Change-Kind`` can touch a watch (not a re-render under new rules)."""
    return kind != "rules"


def url_path(url: str | None, base_url: str | None) -> str | None:
    """The path of ``url`` under ``base_url`` (``api/limits.html``), or None if it is not under it."""
    if not url or not base_url or not url.startswith(base_url):
        return None
    return urlsplit(url).path.removeprefix(urlsplit(base_url).path)


def page_in_scope(watch: Watch, path: str, url: str | None, base_url: str | None) -> bool:
    """True if the page (file ``path`` in the site folder, at ``url``) is one the watch's globs name."""
    if not watch.pages:
        return True
    names = [path] + [n for n in [url_path(url, base_url)] if n is not None]
    return any(fnmatchcase(name, glob.lstrip("/")) for glob in watch.pages for name in names)


def _wanted(watch: Watch) -> set[str]:
    return {section_words(s).casefold() for s in watch.sections}


@lru_cache(maxsize=4096)
def _words(heading: str) -> str:
    return section_words(heading)


def _said(heading: str) -> str:
    """A heading as a watch compares it (the special places, top of page and front matter, are none)."""
    return _words(heading).casefold() if heading.startswith("#") else ""


def scoped(watch: Watch, site: str, files: Iterable[FileDiff], base_url: str | None) -> list[ScopedPage]:
    """The pages of a snapshot's full-context patch (``history.patch(..., full_context=True)``) that
    the watch sees, each with only its lines in scope; empty if the snapshot does not touch it."""
    wanted = _wanted(watch)
    decided: dict[tuple[str, ...], bool] = {}  # (a page's lines share a few heading trails: decide each once)

    def inside(under: tuple[str, ...]) -> bool:
        hit = decided.get(under)
        if hit is None:
            hit = decided[under] = any(_said(h) in wanted for h in under)
        return hit

    out: list[ScopedPage] = []
    for fd in files:
        path = fd.path.removeprefix(f"{site}/")
        url = source_url(fd)
        if not page_in_scope(watch, path, url, base_url):
            continue
        if fd.binary:
            if not wanted:
                out.append(ScopedPage(path, url, fd.status, (), (), binary=True))
            continue
        placed = [(line, under) for line, under in placed_lines(fd) if not wanted or inside(under)]
        if not placed:
            continue
        if not wanted and fd.status in WHOLE_PAGE:
            sections: tuple[str, ...] = (section_words(WHOLE_PAGE[fd.status]),)
        else:
            sections = tuple(dict.fromkeys(_words(h) for h in dict.fromkeys(under[-1] for _, under in placed)))
        out.append(ScopedPage(path, url, fd.status, sections, tuple(line for line, _ in placed)))
    return out


def headline(site: str, watch: Watch, pages: Sequence[ScopedPage]) -> str:
    """A scoped snapshot in one line, as a commit subject says it: ``docs · rate-limits: 1 changed (+1 −1)``."""
    added, removed = sum(p.added for p in pages), sum(p.removed for p in pages)
    kinds = [
        (sum(1 for p in pages if p.status == s), word)
        for s, word in (("M", "changed"), ("A", "added"), ("D", "removed"))
    ]
    said = ", ".join(f"{n} {word}" for n, word in kinds if n)
    return f"{site} · {watch.name}: {said} (+{added} {MINUS}{removed})"


def describe(pages: Sequence[ScopedPage], max_lines: int = 200) -> list[str]:
    """The scoped pages as text: each page (what happened, path, URL), its sections, its lines in
    scope (``+ …``/``- …``), at most ``max_lines`` lines in all (the rest counted)."""
    out: list[str] = []
    shown = total = 0
    for page in pages:
        out.append(one_line(f"{_STATUS.get(page.status, page.status)}: {page.path}  {page.url or ''}").rstrip())
        if page.binary:
            out.append("  (binary file)")
        if page.sections:
            out.append("  sections: " + one_line(", ".join(page.sections)))
        for line in page.lines:
            total += 1
            if shown < max_lines:
                out.append(f"  {line.kind} {one_line(line.text)}")
                shown += 1
    if total > shown:
        out.append(f"  … and {total - shown} more line{'s' if total - shown != 1 else ''} in scope")
    return out


def describe_watch(watch: Watch) -> str:
    """What a watch looks at, in words: ``pages api/*; sections Rate limits``."""
    pages = ", ".join(watch.pages) or "every page"
    sections = ", ".join(watch.sections) or "whole pages"
    return one_line(f"pages {pages}; sections {sections}")


def notes(
    watch: Watch, pages: Mapping[str, str | None], base_url: str | None, read: Callable[[str], str | None]
) -> list[str]:
    """What is wrong with a watch given the site's pages now (file path → URL; ``read`` gives a
    page's Markdown, or None): globs that match no page, sections no page in scope has. Each said
    once, as a note: a watch of a part the site does not have (yet) is no error."""
    if not pages:
        return []
    matched = [path for path, url in pages.items() if page_in_scope(watch, path, url, base_url)]
    if not matched:
        return [f"watch {watch.name}: its pages {', '.join(watch.pages)} match none of the site's {len(pages)} pages"]
    missing = {section_words(s).casefold(): s for s in watch.sections}
    for path in matched:
        if not missing:
            break
        text = read(path)
        if text is None:
            continue
        folded = text.casefold()
        # cheap first: only a page holding every word of a section can have it as a heading
        maybe = [key for key in missing if all(word in folded for word in _WORDS.findall(key))]
        if maybe:
            found = {_said(h) for h in headings(text)}
            for key in maybe:
                if key in found:
                    del missing[key]
    if not missing:
        return []
    names = ", ".join(repr(s) for s in missing.values())
    return [
        f"watch {watch.name}: no page in its scope has a section {names} "
        f"({len(matched)} page{'s' if len(matched) != 1 else ''} looked at)"
    ]
