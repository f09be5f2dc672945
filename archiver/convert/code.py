"""Code blocks kept verbatim: every line of every ``<pre>`` with its indentation, nothing else.

Highlighters mark code up line by line (Docusaurus' ``token-line``, Shiki's ``span.line``,
highlight.js, Pygments), add line-number gutters (Pygments' ``linenos`` cells and spans,
``.line-numbers-rows``) and sometimes put each line in a block element of its own. Before
markdownify sees a ``<pre>``, its text is rebuilt here as a browser would show it, one line per
line, and the gutters are left out; what stays is one ``<code>`` holding plain text (with the
language class it had), which markdownify fences without touching it.
"""

from __future__ import annotations

from typing import Any

import lxml.html
from lxml.cssselect import CSSSelector

# line-number gutters: numbers, not code
_GUTTERS = CSSSelector(
    ".linenos, .lineno, .linenodiv, .line-numbers-rows, .hljs-ln-numbers, .gutter, .line-number, "
    "[data-line-number]:empty, td.blob-num"
)
# elements that hold one line of code each
_LINE_CLASSES = frozenset({"token-line", "line", "code-line", "hljs-ln-line", "highlight-line"})
_BLOCKS = frozenset({"div", "p", "li", "tr", "table", "tbody"})


def _is_line(el: Any) -> bool:
    if not isinstance(el.tag, str):
        return False
    if el.tag in _BLOCKS:
        return True
    return bool(_LINE_CLASSES & set((el.get("class") or "").split()))


def _text(pre: Any) -> str:
    """The text of ``pre`` as shown: ``<br>`` and each line element end a line."""
    parts: list[str] = []
    synthetic = [False]  # the last part is a newline we added at a line element's end

    def add(text: str, *, ours: bool = False) -> None:
        if synthetic[0] and not ours and text.startswith("\n"):
            text = text[1:]  # the markup's own newline after a line element: the same line end
        if text:
            parts.append(text)
            synthetic[0] = ours

    def ends_line() -> bool:
        return not parts or parts[-1].endswith("\n")

    def walk(node: Any) -> None:
        if node.tag == "br":
            add("\n")
            return
        line = _is_line(node) and node is not pre
        if line and not ends_line():
            add("\n")
        start = len(parts)
        if node.text:
            add(node.text)
        for child in node:
            if isinstance(child.tag, str):
                walk(child)
            if child.tail:
                add(child.tail)
        if line and (len(parts) == start or not ends_line()):
            add("\n", ours=True)  # a line element ends its line (an empty one is an empty line)

    walk(pre)
    text = "".join(parts)
    return text[:-1] if text.endswith("\n") else text


def _language_class(pre: Any, default_language: str | None) -> str | None:
    code = pre.find(".//code")
    for el in (code, pre):
        if el is not None and el.get("class"):
            return str(el.get("class"))
    if default_language:  # Sphinx's highlight-default: the project's highlight_language, left as is
        for ancestor in pre.iterancestors():
            if "highlight-default" in (ancestor.get("class") or "").split():
                return f"language-{default_language}"
    return None


def verbatim_code(content: Any, default_language: str | None = None) -> None:
    """Rewrite every ``<pre>`` under ``content`` (in place) to one ``<code>`` of plain text;
    ``default_language`` is what a generator's "default" highlighting means (Sphinx: Python)."""
    tables: list[Any] = content.xpath(".//table[.//pre]")
    for table in tables:
        cells: list[Any] = table.xpath(".//td[contains(concat(' ', normalize-space(@class), ' '), ' code ')]")
        if cells and table.getparent() is not None:  # a Pygments/GitHub line-number table: keep the code cell
            holder = lxml.html.Element("div")
            holder.extend(list(cells[0]))
            holder.tail = table.tail
            table.getparent().replace(table, holder)
    for pre in list(content.iter("pre")):
        gutters: list[Any] = _GUTTERS(pre)  # type: ignore[assignment]
        for gutter in gutters:
            if gutter is not pre and isinstance(gutter, lxml.html.HtmlElement):
                gutter.drop_tree()  # keeps its tail: inline numbers are followed by the code
        text = _text(pre)
        language = _language_class(pre, default_language)
        for child in list(pre):
            pre.remove(child)
        pre.text = None
        code = lxml.html.Element("code")
        if language:
            code.set("class", language)
        code.text = text
        pre.append(code)
