"""An archived page's Markdown as HTML, for the report's "the page as it was" view.

A small renderer for the Markdown archiver writes (markdownify's ATX headings, ``-`` lists, fenced
code, block quotes, pipe tables, links, emphasis), not a CommonMark implementation: what it does not
know shows as text. It is safe by construction: every character of the input is escaped, raw HTML
in the Markdown is text, a link is a link only if its URL is http(s) (:func:`safe_url`), and images
are links, never loaded (an archived page makes the report fetch nothing). Headings start at
``h2`` under the page's own ``h1`` and never skip a level; code keeps its indentation; wide code
and tables scroll inside their box instead of widening the page.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable

from archiver.report.htmlpage import esc, safe_url

_FENCE = re.compile(r"\A( {0,3})(`{3,}|~{3,})[ \t]*([^`\s]*)")
_HEADING = re.compile(r"\A {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*\Z")
_RULE = re.compile(r"\A {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*\Z")
_QUOTE = re.compile(r"\A {0,3}> ?")
_ITEM = re.compile(r"\A( {0,3})([-*+]|\d{1,9}[.)])([ \t]+|\Z)")
_DELIMITER = re.compile(r"\A[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*\Z")
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,40}")

# inline: code spans first, then escapes, images, links, autolinks; emphasis on what is left
_INLINE = re.compile(
    r"(?P<code>`+)"
    r"|\\(?P<escaped>[!-/:-@\[-`{-~])"
    r"|(?P<image>!)?\[(?P<text>(?:[^\[\]\\]|\\.|\[[^\[\]]*\])*)\]\((?P<target><[^>\n]*>|(?:[^()\s]|\([^()\s]*\))*)"
    r"(?:[ \t]+(?:\"[^\"]*\"|'[^']*'))?[ \t]*\)"
    r"|<(?P<auto>https?://[^\s<>]+)>"
)
_STRONG = re.compile(r"(?<![\w*])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![\w*])|(?<![\w_])__(?=\S)(.+?)(?<=\S)__(?![\w_])")
_EM = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])|(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")
_ANCHOR = re.compile(r"</?a\b[^>]*>")
_HOLD = "\ue000"  # placeholders for finished pieces while emphasis is applied (input never has them)
_HELD = re.compile(_HOLD + r"(\d+)" + _HOLD)


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """The ``---`` block archiver writes at the top of a page (``title``, ``source``) and the rest."""
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 3)
    if end < 0:
        return {}, text
    meta: dict[str, str] = {}
    for line in text[4:end].splitlines():
        key, sep, value = line.partition(":")
        value = value.strip()
        if sep and value.startswith('"'):
            with contextlib.suppress(ValueError):
                value = str(json.loads(value))
        if sep:
            meta[key.strip()] = value
    return meta, text[end + 5 :]


def render_markdown(text: str) -> str:
    """HTML for the Markdown ``text`` (without its front matter), everything escaped."""
    lines = text.replace("\r\n", "\n").replace("\t", "    ").replace(_HOLD, "\ufffd").split("\n")
    return _Renderer(_top_level(lines)).blocks(lines)


def _top_level(lines: list[str]) -> int:
    """The level of the page's biggest heading (outside code), which becomes ``h2``."""
    levels, fence = [], ""
    for line in lines:
        if m := _FENCE.match(line):
            fence = "" if fence and m[2].startswith(fence) else fence or m[2]
        elif not fence and (h := _HEADING.match(line)):
            levels.append(len(h[1]))
    return min(levels, default=1)


def inline(text: str) -> str:
    """One line (or paragraph) of Markdown as HTML: code spans, links, emphasis; all else escaped."""
    text = text.replace(_HOLD, "\ufffd")
    held: list[str] = []

    def hold(html: str) -> str:
        held.append(html)
        return f"{_HOLD}{len(held) - 1}{_HOLD}"

    out: list[str] = []
    pos = 0
    while (m := _INLINE.search(text, pos)) is not None:
        out.append(esc(text[pos : m.start()]))
        pos = m.end()
        if m["code"]:
            close = re.compile(r"(?<!`)" + m["code"] + r"(?!`)").search(text, pos)
            if close is None:  # an unmatched run of backticks is text
                out.append(esc(m["code"]))
                continue
            code = text[pos : close.start()].replace("\n", " ")
            if code.startswith(" ") and code.endswith(" ") and code.strip():
                code = code[1:-1]
            out.append(hold(f"<code>{esc(code)}</code>"))
            pos = close.end()
        elif m["escaped"]:
            out.append(hold(esc(m["escaped"])))
        elif m["auto"]:
            url = safe_url(m["auto"])
            out.append(hold(f'<a href="{url}">{url}</a>' if url else esc(m["auto"])))
        else:
            out.append(hold(_link(m["text"], m["target"].strip("<>"), bool(m["image"]))))
    out.append(esc(text[pos:]))
    html = "".join(out)
    html = _STRONG.sub(lambda m: f"<strong>{m[1] or m[2]}</strong>", html)
    html = _EM.sub(lambda m: f"<em>{m[1] or m[2]}</em>", html)
    html = html.replace("  \n", "<br>\n").replace("\\\n", "<br>\n")
    return _HELD.sub(lambda m: held[int(m[1])], html)


def _link(text: str, target: str, image: bool) -> str:
    url = safe_url(target)
    label = esc(f"image: {text}" if text else "image") if image else inline(text)
    if image:  # a link to the image, never the image: the report loads nothing from archived sites
        return f'<a class="img" href="{url}">[{label}]</a>' if url else f"[{label}]"
    if not url:
        return label
    label = _ANCHOR.sub("", label)  # (an image inside a link: no link inside a link)
    return f'<a href="{url}">{label or url}</a>'


Block = Callable[[list[str], int], tuple[str, int]]


class _Renderer:
    """Block structure, line by line; ``level`` is the last heading's level, so none is skipped."""

    def __init__(self, top: int = 1) -> None:
        self.shift = 2 - top  # the page's biggest heading is an h2, under the report page's h1
        self.level = 1

    def blocks(self, lines: list[str], tight: bool = False) -> str:
        out: list[str] = []
        i = 0
        while i < len(lines):
            if not lines[i].strip():
                i += 1
                continue
            block = self._block_at(lines, i)
            if block is None:
                html, i = self._paragraph(lines, i)
                out.append(html[3:-4] if tight else html)  # a tight list item's text is no paragraph
            else:
                html, i = block(lines, i)
                out.append(html)
        return "\n".join(out)

    def _block_at(self, lines: list[str], i: int, in_paragraph: bool = False) -> Block | None:
        """The block that starts at line ``i``; None for a paragraph's line."""
        line = lines[i]
        found: Block | None = None
        if _FENCE.match(line):
            found = self._fence
        elif line.startswith("    "):
            found = None if in_paragraph else self._indented_code
        elif _HEADING.match(line):
            found = self._heading
        elif _RULE.match(line):
            found = self._rule
        elif _QUOTE.match(line):
            found = self._quote
        elif "|" in line and i + 1 < len(lines) and "-" in lines[i + 1] and _DELIMITER.match(lines[i + 1]):
            found = self._table
        elif (m := _ITEM.match(line)) and line[m.end() :].strip():
            found = self._list
        return found

    def _heading(self, lines: list[str], i: int) -> tuple[str, int]:
        m = _HEADING.match(lines[i])
        assert m is not None
        level = max(2, min(len(m[1]) + self.shift, self.level + 1, 6))
        self.level = level
        return f"<h{level}>{inline(m[2] or '')}</h{level}>", i + 1

    def _fence(self, lines: list[str], i: int) -> tuple[str, int]:
        m = _FENCE.match(lines[i])
        assert m is not None
        indent, fence, info = len(m[1]), m[2], m[3]
        closing = re.compile(r"\A {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*\Z")
        body: list[str] = []
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            line = lines[i]
            cut = len(line) - len(line.lstrip(" "))
            body.append(line[min(indent, cut) :])
            i += 1
        lang = f' class="language-{esc(info)}"' if info and _LANGUAGE.fullmatch(info) else ""
        return f"<pre><code{lang}>{esc(chr(10).join(body))}</code></pre>", i + 1

    def _indented_code(self, lines: list[str], i: int) -> tuple[str, int]:
        body: list[str] = []
        while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
            body.append(lines[i][4:])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        return f"<pre><code>{esc(chr(10).join(body))}</code></pre>", i

    def _rule(self, lines: list[str], i: int) -> tuple[str, int]:
        return "<hr>", i + 1

    def _quote(self, lines: list[str], i: int) -> tuple[str, int]:
        inner: list[str] = []
        while i < len(lines) and (m := _QUOTE.match(lines[i])):
            inner.append(lines[i][m.end() :])
            i += 1
        return f"<blockquote>\n{self.blocks(inner)}\n</blockquote>", i

    def _table(self, lines: list[str], i: int) -> tuple[str, int]:
        aligns = [_align(c) for c in _cells(lines[i + 1])]
        head = "".join(f"<th{a}>{inline(c)}</th>" for c, a in zip(_cells(lines[i]), _padded(aligns), strict=False))
        rows: list[str] = []
        i += 2
        while i < len(lines) and "|" in lines[i] and lines[i].strip():
            cells = zip(_cells(lines[i]), _padded(aligns), strict=False)
            rows.append("<tr>" + "".join(f"<td{a}>{inline(c)}</td>" for c, a in cells) + "</tr>")
            i += 1
        body = f"<tbody>{''.join(rows)}</tbody>" if rows else ""
        return f'<div class="scroll"><table><thead><tr>{head}</tr></thead>{body}</table></div>', i

    def _list(self, lines: list[str], i: int) -> tuple[str, int]:
        first = _ITEM.match(lines[i])
        assert first is not None
        ordered = first[2][0].isdigit()
        start = int(first[2][:-1]) if ordered else 1
        items: list[list[str]] = []
        loose = False
        while i < len(lines):
            m = _ITEM.match(lines[i])
            if not m or m[2][0].isdigit() != ordered or len(m[1]) > len(first[1]) + 1:
                break
            item, i, gap = self._item(lines, i, len(m[0]) if m[3] else len(m[0]) + 1)
            items.append(item)
            loose = loose or gap
            j = i
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j > i:  # blank lines: the list goes on (loose) only if an item of it follows
                nxt = _ITEM.match(lines[j]) if j < len(lines) else None
                if not nxt or nxt[2][0].isdigit() != ordered or len(nxt[1]) > len(first[1]) + 1:
                    break
                loose, i = True, j
        tag = "ol" if ordered else "ul"
        attr = f' start="{start}"' if ordered and start != 1 else ""
        body = "".join(f"<li>{self.blocks(item, tight=not loose)}</li>" for item in items)
        return f"<{tag}{attr}>{body}</{tag}>", i

    def _item(self, lines: list[str], i: int, width: int) -> tuple[list[str], int, bool]:
        """One list item's lines (dedented), where what follows starts, and whether a blank line
        separates its blocks (a loose list)."""
        item = [lines[i][width:]]
        gap = False
        i += 1
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                nxt = next((x for x in lines[i + 1 :] if x.strip()), "")
                if not nxt.startswith(" " * width):
                    break
                gap = True
                item.append("")
            elif line.startswith(" " * width):
                item.append(line[width:])
            elif item[-1].strip() and self._block_at(lines, i, in_paragraph=True) is None:
                item.append(line.strip())  # a lazy continuation of the item's paragraph
            else:
                break
            i += 1
        while item and not item[-1].strip():
            item.pop()
        return item, i, gap

    def _paragraph(self, lines: list[str], i: int) -> tuple[str, int]:
        para = [lines[i]]
        i += 1
        while i < len(lines) and lines[i].strip() and self._block_at(lines, i, in_paragraph=True) is None:
            para.append(lines[i])
            i += 1
        # a line ending in two spaces (or a backslash) breaks the line there
        text = "\n".join(p.strip() + ("  " if p.endswith("  ") else "") for p in para[:-1])
        text = (text + "\n" if text else "") + para[-1].strip()
        return f"<p>{inline(text)}</p>", i


def _cells(line: str) -> list[str]:
    """A table row's cells: split at ``|`` not escaped and not inside a code span."""
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    cells, cell, in_code = [], "", False
    for k, ch in enumerate(line):
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code and (k == 0 or line[k - 1] != "\\"):
            cells.append(cell.strip())
            cell = ""
        else:
            cell += ch
    cells.append(cell.strip())
    return [c.replace("\\|", "|") for c in cells]


def _align(cell: str) -> str:
    left, right = cell.startswith(":"), cell.endswith(":")
    side = "center" if left and right else "right" if right else ""
    return f' class="{side}"' if side else ""


def _padded(aligns: list[str]) -> list[str]:
    return aligns + [""] * 100
