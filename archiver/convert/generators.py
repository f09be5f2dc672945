"""Built-in knowledge of the big documentation generators: where the content is, what is chrome.

A page's generator is recognised from ``<meta name="generator">`` or, failing that, from markup
only that generator writes. Its preset puts its main-content selectors first and strips its chrome
(navigation, sidebars, prev/next links, "edit this page", version banners, copy buttons, anchor
links, "last updated" stamps), so most sites need no selectors at all. A site's own ``content``
selectors, when given, replace the preset's; its ``strip`` and ``ignore`` add to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Preset:
    """What one generator's pages look like."""

    name: str
    content: tuple[str, ...]
    strip: tuple[str, ...]


SPHINX = Preset(
    "sphinx",
    content=("article[role=main]", "div.body[role=main]", "[role=main]", "div.document"),
    strip=(
        ".headerlink",
        ".related",
        ".sphinxsidebar",
        ".prev-next-area",
        ".copybtn",
        ".viewcode-link",
        ".edit-this-page",
        ".view-this-page",
        ".toc-drawer",
        ".rst-footer-buttons",
        ".rst-versions",
        "readthedocs-flyout",
        "#furo-readthedocs-versions",
        ".wy-breadcrumbs-aside",
        ".last-updated",
    ),
)
MKDOCS = Preset(
    "mkdocs",
    content=("article.md-content__inner", "div.md-content", "[role=main]", "div.rst-content"),
    strip=(
        ".headerlink",
        ".md-content__button",
        ".md-source-file",
        ".md-clipboard",
        ".md-feedback",
        ".md-tags",
        ".md-sidebar",
        ".md-footer",
        ".md-banner",
        ".md-announce",
        ".git-revision-date-localized-plugin",
    ),
)
DOCUSAURUS = Preset(
    "docusaurus",
    content=(".theme-doc-markdown", "article", "main"),
    strip=(
        ".hash-link",
        ".theme-edit-this-page",
        ".theme-last-updated",
        ".theme-doc-footer",
        ".pagination-nav",
        ".theme-doc-breadcrumbs",
        ".theme-doc-toc-mobile",
        ".theme-doc-toc-desktop",
        ".theme-doc-version-banner",
        ".theme-doc-version-badge",
        ".clean-btn",
    ),
)
GITBOOK = Preset(
    "gitbook",
    content=("main", "[role=main]"),
    strip=("[aria-label=Breadcrumb]", "[data-testid=page-footer]", "[data-testid=edit-link]", "a[href*='edit']"),
)
MINTLIFY = Preset(
    "mintlify",
    content=("#content-area", "#content", "article", "main"),
    strip=("#pagination", "#navbar", "#sidebar", "#table-of-contents", "#feedback-toolbar", ".feedback-toolbar"),
)
PRESETS = (SPHINX, MKDOCS, DOCUSAURUS, GITBOOK, MINTLIFY)

# markup only one generator writes, tried when there is no (or an unknown) <meta name="generator">
_SIGNATURES = (
    (SPHINX, "//script[contains(@src, 'doctools.js')] | //*[contains(@class, 'sphinxsidebar')]"),
    (MKDOCS, "//*[contains(@class, 'md-content')] | //div[contains(@class, 'rst-content')]"),
    (DOCUSAURUS, "//*[@id='__docusaurus'] | //*[contains(@class, 'theme-doc-markdown')]"),
    (MINTLIFY, "//*[@id='content-area']"),
    (GITBOOK, "//*[contains(@class, 'gitbook-root')]"),
)


def detect(doc: Any) -> Preset | None:
    """The generator of an lxml HTML document, or None if it is none we know."""
    for meta in doc.xpath("//meta[@name='generator']/@content"):
        text = str(meta).lower()
        for preset in PRESETS:
            if preset.name in text:
                return preset
    for preset, xpath in _SIGNATURES:
        if doc.xpath(xpath):
            return preset
    return None
