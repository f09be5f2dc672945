"""Prose blocks of API references made readable before markdownify sees them.

* **Signatures** (Sphinx's ``dt.sig``, and ``dt`` with an id in a ``dl`` of an API domain) become
  one inline code span of their text, ``initial: Mapping[str, Any] | None = None`` and all, instead
  of emphasis soup.
* **Admonitions** (Sphinx and MkDocs ``.admonition``, Docusaurus ``.theme-admonition``, GitHub-
  style ``.markdown-alert``) become block quotes whose first line is their title in bold
  (``> **Warning**``), so a warning never reads as ordinary text.
* **``<details>``** becomes a block quote headed by its ``<summary>`` (``> **▸ More options**``).
"""

from __future__ import annotations

from typing import Any

import lxml.html
from lxml.cssselect import CSSSelector

_SIGNATURES = CSSSelector("dt.sig, dl.function > dt[id], dl.class > dt[id], dl.method > dt[id], dl.attribute > dt[id]")
_ADMONITIONS = CSSSelector(".admonition, .admonitionblock, .theme-admonition, .markdown-alert, div.alert[role=alert]")
_TITLES = CSSSelector(
    ".admonition-title, .markdown-alert-title, [class*=admonitionHeading], .alert > strong:first-child, "
    ".admonitionblock .icon"
)
_CELLS = "./tr/td | ./tr/th | ./*/tr/td | ./*/tr/th"


def words(el: Any) -> str:
    """An element's text on one line, without a trailing anchor mark (¶, #)."""
    return " ".join(el.text_content().split()).rstrip("¶#").strip()


def bold_line(text: str) -> Any:
    """A paragraph holding ``text`` in bold: the title line of a quoted block or a tab."""
    p = lxml.html.Element("p")
    strong = lxml.html.Element("strong")
    strong.text = text
    p.append(strong)
    return p


def _signature(dt: Any) -> None:
    text = words(dt)
    if not text:
        return
    for child in list(dt):
        dt.remove(child)
    dt.text = None
    code = lxml.html.Element("code")
    code.text = text
    dt.append(code)


def _admonition(box: Any) -> None:
    found: list[Any] = _TITLES(box)  # type: ignore[assignment]
    titles = [t for t in found if t is not box]
    title = words(titles[0]) if titles else ""
    if titles and titles[0].getparent() is not None:
        titles[0].drop_tree()
    if not title:  # Sphinx and MkDocs name the kind in the class when the title is left out
        generic = ("admonition", "admonitionblock", "theme-admonition")
        kinds = [c for c in (box.get("class") or "").split() if c not in generic]
        title = kinds[0].removeprefix("admonition-").capitalize() if kinds else "Note"
    box.tag = "blockquote"
    box.insert(0, bold_line(title))
    box.text = None


def _details(details: Any) -> None:
    summary = details.find("summary")
    title = words(summary) if summary is not None else "Details"
    if summary is not None:
        summary.drop_tree()
    details.tag = "blockquote"
    details.insert(0, bold_line(f"▸ {title}"))
    details.text = None


def _unwrap_layout_tables(content: Any) -> None:
    """A table that holds code, or frames an admonition (AsciiDoc), is layout, not data: its cells
    become blocks one after another, since a Markdown table cell cannot hold a code block."""
    for table in list(content.iter("table")):
        parent = table.getparent()
        if parent is None or not (
            table.xpath(".//pre") or table.xpath("ancestor::*[contains(@class, 'admonitionblock')]")
        ):
            continue
        holder = lxml.html.Element("div")
        for cell in table.xpath(_CELLS):
            block = lxml.html.Element("div")
            if cell.get("class"):
                block.set("class", cell.get("class"))
            block.text = cell.text
            block.extend(list(cell))
            holder.append(block)
        holder.tail = table.tail
        parent.replace(table, holder)


def readable_blocks(content: Any) -> None:
    """Rewrite layout tables, signatures, admonitions and ``<details>`` under ``content`` in place."""
    _unwrap_layout_tables(content)
    signatures: list[Any] = _SIGNATURES(content)  # type: ignore[assignment]
    for dt in signatures:
        _signature(dt)
    boxes: list[Any] = _ADMONITIONS(content)  # type: ignore[assignment]
    for box in boxes:
        if box is not content:
            _admonition(box)
    for details in list(content.iter("details")):
        _details(details)
