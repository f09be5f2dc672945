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
_ADMONITIONS = CSSSelector(".admonition, .theme-admonition, .markdown-alert, div.alert[role=alert]")
_TITLES = CSSSelector(
    ".admonition-title, .markdown-alert-title, [class*=admonitionHeading], .alert > strong:first-child"
)


def _words(el: Any) -> str:
    return " ".join(el.text_content().split()).rstrip("¶#").strip()


def _bold_line(text: str) -> Any:
    p = lxml.html.Element("p")
    strong = lxml.html.Element("strong")
    strong.text = text
    p.append(strong)
    return p


def _signature(dt: Any) -> None:
    text = _words(dt)
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
    title = _words(titles[0]) if titles else ""
    if titles and titles[0].getparent() is not None:
        titles[0].drop_tree()
    if not title:  # Sphinx and MkDocs name the kind in the class when the title is left out
        kinds = [c for c in (box.get("class") or "").split() if c not in ("admonition", "theme-admonition")]
        title = kinds[0].removeprefix("admonition-").capitalize() if kinds else "Note"
    box.tag = "blockquote"
    box.insert(0, _bold_line(title))
    box.text = None


def _details(details: Any) -> None:
    summary = details.find("summary")
    title = _words(summary) if summary is not None else "Details"
    if summary is not None:
        summary.drop_tree()
    details.tag = "blockquote"
    details.insert(0, _bold_line(f"▸ {title}"))
    details.text = None


def readable_blocks(content: Any) -> None:
    """Rewrite signatures, admonitions and ``<details>`` under ``content`` in place."""
    signatures: list[Any] = _SIGNATURES(content)  # type: ignore[assignment]
    for dt in signatures:
        _signature(dt)
    boxes: list[Any] = _ADMONITIONS(content)  # type: ignore[assignment]
    for box in boxes:
        if box is not content:
            _admonition(box)
    for details in list(content.iter("details")):
        _details(details)
