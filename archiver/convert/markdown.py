"""markdownify, configured for archiver: the only module that imports markdownify and bs4.

They are imported on first use, so a run where nothing changed (every page a 304, or a
byte-identical body) never pays for loading them.
"""

from __future__ import annotations

import functools
import re
from typing import Any

_LANG_CLASS = re.compile(r"^(?:language|lang|highlight|sourceCode|brush:?)-?([A-Za-z0-9_+#.-]+)$")
_NO_LANGUAGE = {"default", "none", "text", "plaintext", "nohighlight", "notranslate", "highlight", "source"}


def _code_language(el: Any) -> str:
    """The language of a ``<pre>`` block, from classes on it, its ``<code>``, or its ancestors."""
    candidates = [el]
    code = el.find("code")
    if code is not None:
        candidates.append(code)
    parent = el.parent
    for _ in range(3):
        if parent is None:
            break
        candidates.append(parent)
        parent = parent.parent
    for node in candidates:
        for cls in node.get("class") or []:
            m = _LANG_CLASS.match(cls)
            if m and m.group(1).lower() not in _NO_LANGUAGE:
                return m.group(1).lower()
        lang = node.get("data-lang") or node.get("data-language")
        if lang:
            return str(lang).lower()
    return ""


@functools.cache
def _converter() -> Any:
    from markdownify import MarkdownConverter

    class _Converter(MarkdownConverter):
        """markdownify with our options fixed."""

        def __init__(self) -> None:
            super().__init__(
                heading_style="ATX",
                bullets="-",
                code_language_callback=_code_language,
                escape_underscores=False,
                escape_asterisks=True,
                strong_em_symbol="*",
                newline_style="backslash",
                table_infer_header=True,
            )

        def convert_br(self, el: Any, text: str, parent_tags: set[str]) -> str:
            # Docusaurus ends each code line with <br> inside <pre>: that is a newline, not a hard break
            if "pre" in parent_tags:
                return "\n" + text
            return str(super().convert_br(el, text, parent_tags))  # type: ignore[misc]

        def convert_pre(self, el: Any, text: str, parent_tags: set[str]) -> str:
            out = str(super().convert_pre(el, text, parent_tags))  # type: ignore[misc]
            longest = max((len(run) for run in re.findall("`+", text)), default=0)
            if longest < 3 or not out.startswith("\n\n```") or not out.endswith("```\n\n"):
                return out
            fence = "`" * (longest + 1)  # longer than any run of backticks inside, so it cannot end early
            return "\n\n" + fence + out[5:-5] + fence + "\n\n"

        def convert_td(self, el: Any, text: str, parent_tags: set[str]) -> str:
            return str(super().convert_td(el, text.replace("|", "\\|"), parent_tags))  # type: ignore[misc]

        def convert_th(self, el: Any, text: str, parent_tags: set[str]) -> str:
            return str(super().convert_th(el, text.replace("|", "\\|"), parent_tags))  # type: ignore[misc]

    return _Converter()


@functools.cache
def _tag_class() -> Any:
    from bs4 import Tag

    class _Tag(Tag):
        """A Tag whose plain ``find_parent("name")`` walks up directly.

        markdownify asks ``find_parent("pre")`` of every element; bs4 ≥ 4.13 builds a filter object
        for each such call, a quarter of all conversion time on a big docs page.
        """

        def find_parent(self, name: Any = None, attrs: Any = None, **kwargs: Any) -> Any:
            if isinstance(name, str) and not attrs and not kwargs:
                node = self.parent
                while node is not None and node.name != name:
                    node = node.parent
                return node
            return super().find_parent(name, attrs, **kwargs)

    return _Tag


def fragment_to_markdown(fragment: str) -> str:
    """Convert an HTML fragment (the page's content element, already pruned) to Markdown."""
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(fragment, "lxml", element_classes={Tag: _tag_class()})
    return str(_converter().convert_soup(soup))
