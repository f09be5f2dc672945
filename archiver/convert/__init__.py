"""Bytes + content type to Markdown: pure, no I/O. lxml prunes the page; markdownify and bs4
(``markdown.py``) are loaded on first use, so a no-change run never pays for them."""

from __future__ import annotations

from archiver.convert.page import CONVERTER_VERSION, Rules, kind_of, page_markdown

__all__ = ["CONVERTER_VERSION", "Rules", "kind_of", "page_markdown"]
