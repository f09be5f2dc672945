"""Tabbed blocks (install commands per package manager, examples per language) keep every tab,
each headed by its label, in the tabs' order.

A browser shows one tab at a time; the page holds them all, with the labels in a tab bar apart
from the panels (Docusaurus and sphinx-tabs: ``[role=tab]`` and ``[role=tabpanel]``; MkDocs
Material: ``.tabbed-labels > label`` and ``.tabbed-block``). Run before the chrome is stripped
(sphinx-tabs' labels are buttons): each label is put above its panel as a bold line and the tab bar
is dropped. Where labels and panels do not pair up one to one, nothing is changed.
"""

from __future__ import annotations

from typing import Any

from lxml.cssselect import CSSSelector

from archiver.convert.blocks import bold_line, words

_SETS = CSSSelector(".tabs-container, .sphinx-tabs, .tabbed-set, [data-tabs]")
_LABEL_KINDS = (
    (CSSSelector("[role=tab]"), CSSSelector("[role=tabpanel]"), CSSSelector("[role=tablist]")),
    (CSSSelector(".tabbed-labels > label"), CSSSelector(".tabbed-block"), CSSSelector(".tabbed-labels")),
)


def labelled_tabs(content: Any) -> None:
    """Put each tab's label above its panel, for every tab set under ``content`` (in place)."""
    sets: list[Any] = _SETS(content)  # type: ignore[assignment]
    for tabset in sets:
        for find_labels, find_panels, find_bars in _LABEL_KINDS:
            labels: list[Any] = find_labels(tabset)  # type: ignore[assignment]
            panels: list[Any] = find_panels(tabset)  # type: ignore[assignment]
            if not labels or len(labels) != len(panels):
                continue
            names = [words(label) for label in labels]
            for name, panel in zip(names, panels, strict=True):
                panel.attrib.pop("hidden", None)
                panel.insert(0, bold_line(name))
            bars: list[Any] = find_bars(tabset)  # type: ignore[assignment]
            for bar in bars:
                if bar.getparent() is not None:
                    bar.drop_tree()
            for radio in tabset.xpath(".//input[@type='radio']"):
                radio.drop_tree()
            break
