"""Is an HTML page an app shell, a page that only a browser fills in? Pure and cheap.

A client-rendered docs site (a React/Vue/Next/Nuxt app, Swagger UI, Redoc) serves a body with
almost no text, an empty mount point for its scripts, and the scripts; archived as it comes, it
is a blank page. :func:`is_app_shell` says so from the bytes alone: a regular expression first
(no mount point or no script: not a shell, nothing parsed, which is every server-rendered page
that does not name one), then, for the few that do, a parse that measures the text.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

MOUNT_IDS = ("root", "app", "__next", "__nuxt", "swagger-ui", "redoc")
_IDS = b"|".join(re.escape(m.encode()) for m in MOUNT_IDS)
# a mount point by id, as markup writes it (each expression starts with a literal, which re finds
# with a fast scan: ~0.15 ms for a 100 kB page, where one expression with the variants inside took
# ~1.5 ms), or Redoc's own element (<redoc spec-url=…>)
_MOUNTS = (
    re.compile(rb'id="(?:' + _IDS + rb')"'),
    re.compile(rb"id='(?:" + _IDS + rb")'"),
    re.compile(rb"id=(?:" + _IDS + rb")[\s/>]"),
    re.compile(rb"<redoc[\s>]", re.IGNORECASE),
)
_SCRIPT = re.compile(rb"<script[\s>]", re.IGNORECASE)
SHELL_TEXT = 200  # characters of body text (scripts and styles dropped) under which a page may be a shell
MOUNT_TEXT = 40  # characters a mount point may hold and still be empty ("Loading…")
_SILENT = ("script", "style", "noscript", "template", "svg")


def is_app_shell(body: bytes) -> bool:
    """Whether ``body`` (an HTML page) is an app shell: scripts, an empty (or nearly) mount point
    (``<div id="root|app|__next|__nuxt|swagger-ui|redoc">`` or ``<redoc>``) and under
    :data:`SHELL_TEXT` characters of text in the whole body once scripts and styles are dropped.

    >>> is_app_shell(b'<html><body><div id="root"></div><script src="/app.js"></script></body></html>')
    True
    >>> is_app_shell(b'<body><div id="root"><h1>Guide</h1><p>' + b'Server-rendered text. ' * 3 + b'</p></div>'
    ...              b'<script src="/a.js"></script></body>')
    False
    """
    if not any(mount.search(body) for mount in _MOUNTS) or not _SCRIPT.search(body):
        return False
    try:
        doc = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return False
    if not doc.xpath("//script"):
        return False
    mounts = [el for el in doc.iter(etree.Element) if el.get("id") in MOUNT_IDS or el.tag == "redoc"]
    if not mounts:
        return False
    etree.strip_elements(doc, *_SILENT, etree.Comment, with_tail=False)
    if any(_text_length(m) > MOUNT_TEXT for m in mounts):
        return False
    body_el = doc.find("body")
    return _text_length(body_el if body_el is not None else doc) < SHELL_TEXT


def _text_length(el: lxml.html.HtmlElement) -> int:
    return len(" ".join(el.text_content().split()))
