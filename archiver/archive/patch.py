"""A git patch as data: files, hunks and numbered lines; which Markdown sections changed; word changes.

Pure functions over the text ``git show`` / ``git diff`` print (no I/O), used by the CLI's section
summaries, the HTML report and the notifications. Line numbers are git's own (from the hunk
headers), so the report's gutters match ``git diff`` and any editor.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass

_HUNK = re.compile(r"\A@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_HEADING = re.compile(r"\A {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*\Z")
_FENCE = re.compile(r"\A {0,3}(`{3,}|~{3,})")
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
TOP = "(top of page)"
FRONT_MATTER = "(front matter)"
WHOLE_PAGE = {"A": "(new page)", "D": "(page removed)"}
_SPECIAL = {TOP: "top of page", FRONT_MATTER: "front matter", **{v: v.strip("()") for v in WHOLE_PAGE.values()}}


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a hunk: ``kind`` is ``" "`` (context), ``"+"`` or ``"-"``; numbers are 1-based."""

    kind: str
    old: int | None
    new: int | None
    text: str


@dataclass(frozen=True, slots=True)
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class FileDiff:
    """The patch of one file. ``status``: A added, M changed, D removed."""

    path: str
    status: str
    binary: bool
    hunks: tuple[Hunk, ...]

    @property
    def lines(self) -> list[Line]:
        return [line for hunk in self.hunks for line in hunk.lines]

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.kind == "+")

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.kind == "-")


def unquote_path(name: str) -> str:
    """A path as git prints it: C-quoted (``"a\\tb"``, octal bytes) only when it has odd characters."""
    if not name.startswith('"'):
        return name
    raw: bytes = ast.literal_eval("b" + name)  # git quotes like C; a bytes literal reads it back exactly
    return raw.decode("utf-8", "surrogateescape")


def _header_path(line: str) -> str:
    """The path of ``diff --git a/P b/P`` (both sides are the same path: renames are off)."""
    rest = line[len("diff --git ") :]
    half = rest[: (len(rest) - 1) // 2]  # "a/P" of "a/P b/P", quoted or not
    if half.startswith('"'):
        return unquote_path('"' + half[3:])
    return half[2:]


def parse_patch(text: str) -> list[FileDiff]:
    """Split a ``--no-renames`` patch into files with numbered lines."""
    files: list[FileDiff] = []
    path, status, binary = "", "M", False
    hunks: list[Hunk] = []
    lines: list[Line] = []
    header: tuple[int, int, int, int] | None = None
    old_no = new_no = 0

    def close_hunk() -> None:
        nonlocal header, lines
        if header is not None:
            hunks.append(Hunk(*header, tuple(lines)))
        header, lines = None, []

    def close_file() -> None:
        nonlocal hunks
        close_hunk()
        if path:
            files.append(FileDiff(path, status, binary, tuple(hunks)))
        hunks = []

    for raw in text.split("\n"):
        if raw.startswith("diff --git "):
            close_file()
            path, status, binary = _header_path(raw), "M", False
        elif header is None and raw.startswith("new file mode"):
            status = "A"
        elif header is None and raw.startswith("deleted file mode"):
            status = "D"
        elif header is None and (raw.startswith("Binary files ") or raw == "GIT binary patch"):
            binary = True
        elif raw.startswith("@@ "):
            close_hunk()
            m = _HUNK.match(raw)
            if m:
                o, ol, n, nl = m.groups()
                header = (int(o), int(ol or 1), int(n), int(nl or 1))
                old_no, new_no = header[0], header[2]
        elif header is not None and raw[:1] in (" ", "+", "-"):
            kind = raw[0]
            lines.append(Line(kind, old_no if kind != "+" else None, new_no if kind != "-" else None, raw[1:]))
            old_no += kind != "+"
            new_no += kind != "-"
    close_file()
    return files


class _Side:
    """Tracks, line by line, which headings one version of a Markdown file is under (code fences skipped)."""

    def __init__(self) -> None:
        self.trail: list[tuple[int, str]] = []  # the headings above, outermost first, with their levels
        self.headings: tuple[str, ...] = (TOP,)  # their text; else where the line is: top of page, front matter
        self.fence: str | None = None
        self.front = False

    def feed(self, number: int | None, text: str) -> str | None:
        """Take the next line; the heading it is (``## Rate limits``), if it is one."""
        if number == 1 and text == "---":
            self.front = True
            self.trail, self.headings = [], (FRONT_MATTER,)
            return None
        if self.front:
            if text == "---":
                self.front = False
                self.headings = (TOP,)
            return None
        fence = _FENCE.match(text)
        if fence:
            mark = fence.group(1)
            if self.fence is None:
                self.fence = mark
            elif mark[0] == self.fence[0] and len(mark) >= len(self.fence) and not text.strip()[len(mark) :]:
                self.fence = None
            return None
        if self.fence is None:
            heading = _HEADING.match(text)
            if heading:
                level = len(heading.group(1))
                said = f"{heading.group(1)} {(heading.group(2) or '').strip()}".rstrip()
                self.trail = [(n, h) for n, h in self.trail if n < level] + [(level, said)]
                self.headings = tuple(h for _, h in self.trail)
                return said
        return None


def placed_lines(fd: FileDiff) -> list[tuple[Line, tuple[str, ...]]]:
    """Each changed line of a full-context patch (blank ones left out: they are no one's section)
    with the headings it is under on its side, outermost first (``("# API", "## Rate limits")``);
    ``(TOP,)`` above a page's first heading, ``(FRONT_MATTER,)`` in its front matter. A changed
    heading is under itself. Needs whole-file context, as :func:`changed_sections` does."""
    old, new = _Side(), _Side()
    out: list[tuple[Line, tuple[str, ...]]] = []
    for line in fd.lines:
        if line.kind != "+":
            old.feed(line.old, line.text)
        if line.kind != "-":
            new.feed(line.new, line.text)
        if line.kind != " " and line.text.strip():
            out.append((line, (new if line.kind == "+" else old).headings))
    return out


def changed_sections(fd: FileDiff) -> list[str]:
    """The headings (``## Rate limits``) above the changed lines of a full-context patch, in order.

    Needs a patch made with whole-file context (``history.patch(..., full_context=True)``): a
    heading far above a hunk is only known if the lines above the hunk are there.
    """
    if fd.status in WHOLE_PAGE:
        return [WHOLE_PAGE[fd.status]]
    return list(dict.fromkeys(headings[-1] for _, headings in placed_lines(fd)))


def headings(text: str) -> list[str]:
    """Every heading of a Markdown page (``## Rate limits``), in order; code fences and front matter skipped."""
    side = _Side()
    found = (side.feed(number, line) for number, line in enumerate(text.splitlines(), 1))
    return [h for h in found if h is not None]


def source_url(fd: FileDiff) -> str | None:
    """The page URL from the file's ``source:`` front-matter line (new side, else old); http(s) only."""
    lines = fd.lines
    for side in ("new", "old"):
        numbered = [(getattr(line, side), line.text) for line in lines if getattr(line, side) is not None]
        if not numbered or numbered[0] != (1, "---"):
            continue
        for _, text in numbered[1:40]:
            if text == "---":
                break
            if text.startswith("source: "):
                url = text[len("source: ") :].strip()
                if url.startswith(("http://", "https://")):
                    return url
    return None


Segment = tuple[str, bool]  # text, changed?


def _merge(parts: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for text, changed in parts:
        if out and out[-1][1] == changed:
            out[-1] = (out[-1][0] + text, changed)
        elif text:
            out.append((text, changed))
    return out


def word_changes(old: str, new: str) -> tuple[list[Segment], list[Segment]] | None:
    """The words that differ between a removed and an added line, or None if the lines are unrelated."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < 0.4:
        return None
    left: list[Segment] = []
    right: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        left.append(("".join(a[i1:i2]), op != "equal"))
        right.append(("".join(b[j1:j2]), op != "equal"))
    return _merge(left), _merge(right)


def pair_changes(lines: list[Line]) -> dict[int, list[Segment]]:
    """Word-level segments for lines (by index in ``lines``) that pair a removal with an addition.

    In each run of removed lines followed by added lines, the i-th removed line is compared with
    the i-th added one (the way most diff viewers pair them).
    """
    out: dict[int, list[Segment]] = {}
    i = 0
    while i < len(lines):
        if lines[i].kind != "-":
            i += 1
            continue
        start = i
        while i < len(lines) and lines[i].kind == "-":
            i += 1
        plus = i
        while i < len(lines) and lines[i].kind == "+":
            i += 1
        for k in range(min(plus - start, i - plus)):
            pair = word_changes(lines[start + k].text, lines[plus + k].text)
            if pair:
                out[start + k], out[plus + k] = pair
    return out


def section_words(section: str) -> str:
    """A section as a reader says it, on the command line and in the report: a Markdown heading
    without its markup (``## `Client.get` *options*`` → ``Client.get options``), or the words of a
    special place (``top of page``, ``new page``)."""
    if section in _SPECIAL:
        return _SPECIAL[section]
    text = re.sub(r"\A#+[ \t]*", "", section.strip())
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images: their text
    text = re.sub(r"\\([!-/:-@\[-`{-~])", "\x00\\1", text)  # escaped punctuation stays
    text = re.sub(r"`+|(?<![\w\x00])[*_]{1,3}(?=\S)|(?<=\S)(?<!\x00)[*_]{1,3}(?!\w)", "", text)
    return re.sub(r"\s+", " ", text.replace("\x00", "")).strip() or section.strip()
