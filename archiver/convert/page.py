"""Bytes + content type ─► Markdown. Pure: no I/O, no clock, no randomness.

HTML goes through lxml (fast parse, content selection, pruning, absolute links) and then
markdownify on the small content fragment; Markdown and plain text pass through; API specs
(OpenAPI, Swagger, JSON Schema, as JSON or YAML) become canonical YAML (``apispec.py``); other JSON
is pretty-printed with sorted keys. Every output is normalised (NFC, no trailing spaces, at most one
blank line in a row outside code blocks, one final newline), so the same content always gives the
same bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from archiver.config import DEFAULT_CONTENT
from archiver.convert import apispec, chrome, generators
from archiver.convert.blocks import readable_blocks, words
from archiver.convert.code import verbatim_code
from archiver.convert.markdown import fragment_to_markdown
from archiver.convert.tabs import labelled_tabs
from archiver.errors import ConvertError, InvalidJSONError, NotAPageError
from archiver.urls import EMAIL_PROTECTION, canonical, decode_cfemail

# Bump when a change here changes the Markdown produced for the same input: the state's body-hash
# shortcut is only trusted for bodies converted by the same rules (see pipeline.rules_fingerprint).
CONVERTER_VERSION = "8"

ALWAYS_STRIP = ("script", "style", "noscript", "template", "svg", "iframe", "object", "embed", "link", "meta")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


@dataclass(frozen=True, slots=True)
class Rules:
    """How to turn one site's pages into Markdown.

    ``content`` empty means: the detected generator's content selectors, then the defaults.
    """

    content: tuple[str, ...]
    strip: tuple[str, ...]
    drop_lines: tuple[str, ...] = ()  # regexes; a Markdown line that matches one is dropped
    mask: tuple[str, ...] = ()  # regexes; matching text becomes "…"
    presets: bool = True  # use the generator presets (generators.py)
    chrome: frozenset[str] = frozenset()  # prints of the blocks this site repeats on most pages (chrome.py)


@dataclass(frozen=True, slots=True)
class Converted:
    """A page's Markdown, a note for the run report, and (for HTML) the prints of its blocks that
    could be chrome, which the run keeps to decide the site's chrome (chrome.py)."""

    markdown: str
    note: str | None = None
    blocks: tuple[str, ...] | None = None
    spec: bool = False  # an API spec, as canonical YAML (stored under paths.spec_path)
    specs: tuple[str, ...] = ()  # the specs an HTML page (Swagger UI, Redoc) loads


_CHALLENGE_TITLE = re.compile(
    r"^\s*(just a moment|attention required|checking your browser|verify you are human|access denied|"
    r"please wait while we verify|ddos-guard)",
    re.IGNORECASE,
)
_CHALLENGE_MARKUP = (
    "//script[contains(@src, '/cdn-cgi/challenge-platform')] | //*[@id='challenge-form'] | "
    "//*[@id='cf-challenge-running'] | //*[contains(@class, 'g-recaptcha')] | //*[contains(@class, 'h-captcha')]"
)


def declared_charsets(body: bytes, content_type: str) -> list[str]:
    """The charsets a page declares, first the Content-Type header's, then its ``<meta>`` tag's."""
    names = []
    for candidate in (_HEADER_CHARSET.search(content_type), _CHARSET.search(body[:4096])):
        if candidate:
            name = candidate.group(1)
            name = name.decode("ascii") if isinstance(name, bytes) else name
            try:
                "".encode(name)
            except (LookupError, UnicodeError):  # unknown, or a codec that cannot encode ("undefined")
                continue
            names.append(name)
    return names


def detect_charset(body: bytes, content_type: str) -> str:
    """The charset from the Content-Type header, then a ``<meta>`` tag, then UTF-8."""
    return (declared_charsets(body, content_type) or ["utf-8"])[0]


# what text has none of: replacement characters (undecodable bytes) and control characters
_NOT_TEXT = re.compile("[\ufffd\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
MAX_NOT_TEXT = 0.01  # share of such characters above which a body is garbage, not a page


def decode(body: bytes, content_type: str) -> str:
    """Decode ``body``: the BOM's encoding, else the first declared charset (header, then ``<meta>``,
    then UTF-8) that decodes it without error, else the first with a few stray bytes replaced, else
    windows-1252 for mostly-ASCII bytes (what browsers fall back to). ConvertError if the result is
    not text (garbage, undecodable bytes)."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _checked(body.decode("utf-16", errors="replace"))  # the BOM says which byte order
    nuls = body.count(b"\x00", 0, 65536)
    if nuls > min(len(body), 65536) // 100:
        raise ConvertError("body is binary (contains NUL bytes), not a text page")
    if nuls:  # a few stray NULs in a text page: a browser shows the page without them
        body = body.replace(b"\x00", b"")
    if body.startswith(b"\xef\xbb\xbf"):
        return _checked(body[3:].decode("utf-8", errors="replace"))
    names = list(dict.fromkeys([*declared_charsets(body, content_type), "utf-8"]))
    for name in names:
        try:
            return _checked(body.decode(name))
        except UnicodeDecodeError:
            continue
    try:  # a few stray bytes in an otherwise well-declared page become U+FFFD
        return _checked(body.decode(names[0], errors="replace"))
    except ConvertError:
        ascii_share = sum(1 for byte in body if byte < 0x80) / len(body)
        if ascii_share < 0.7:  # not a text in a mislabelled single-byte charset either
            raise
    return _checked(body.decode("cp1252", errors="replace"))


def _checked(text: str) -> str:
    bad = len(_NOT_TEXT.findall(text))
    if bad > max(8, len(text) * MAX_NOT_TEXT):
        raise ConvertError(f"body is not text: {bad} of {len(text)} characters are undecodable or control codes")
    return text


_LINK_TAG = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_HEAD_END = re.compile(rb"</head\s*>|<body\b", re.IGNORECASE)
MARKDOWN_TYPES = ("text/markdown", "text/x-markdown")


def markdown_alternate(body: bytes, url: str) -> str | None:
    """The absolute URL of the Markdown an HTML page says is its own source
    (``<link rel="alternate" type="text/markdown" href="…">`` in its head), or None. A scan of the
    head's ``<link>`` tags, not a parse: it runs on every HTML page fetched."""
    end = _HEAD_END.search(body, 0, 262_144)
    head = body[: end.start() if end else 262_144]
    for tag in _LINK_TAG.findall(head):
        attrs: dict[bytes, bytes] = {}
        for name, dq, sq, bare in _ATTR.findall(tag):
            attrs.setdefault(name.lower(), dq or sq or bare)
        rels = attrs.get(b"rel", b"").lower().split()
        kind = attrs.get(b"type", b"").split(b";")[0].strip().lower()
        href = attrs.get(b"href", b"").strip()
        if b"alternate" in rels and kind.decode("latin-1") in MARKDOWN_TYPES and href:
            target = urljoin(url, html.unescape(href.decode("utf-8", "replace")))
            return target if urlsplit(target).scheme in ("http", "https") else None
    return None


def kind_of(content_type: str, url: str) -> str:
    """``html``, ``markdown``, ``text``, ``json``, ``yaml`` or ``other``, from the header (then the URL)."""
    ct = content_type.split(";", 1)[0].strip().lower()
    path = urlsplit(url).path.lower()
    if ct in ("text/html", "application/xhtml+xml"):
        return "html"
    if ct in ("text/markdown", "text/x-markdown") or path.endswith((".md", ".mdx")):
        return "markdown"
    if ct == "application/json" or ct.endswith("+json"):
        return "json"
    if ct in ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml") or ct.endswith("+yaml"):
        return "yaml"
    if ct.startswith("text/"):
        return "text"
    if not ct:
        return "html"
    return "other"


def normalise(text: str) -> str:
    """NFC, LF line ends, no trailing spaces, ≤1 blank line in a row outside fences, one final newline."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        line = line.rstrip()
        m = _FENCE.match(line)
        if m:
            marker = m.group(1)
            if fence is None:
                fence = marker[0] * len(marker)
            elif marker.startswith(fence):
                fence = None
        if fence is None and not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


# the content selectors that last fell back to the defaults (read by page_markdown; conversion is
# synchronous, so "last" is the page just converted)
_fell_back: list[tuple[str, ...]] = []
# attributes markdownify reads (links, images, table spans, list starts, code languages); the rest is
# dropped before the fragment is handed over: less to copy into bs4, and nothing else can leak out
_KEPT_ATTRIBUTES = frozenset(
    {"href", "src", "alt", "title", "colspan", "rowspan", "start", "data-lang", "data-language"}
)
_CLASS_KEPT_ON = frozenset({"pre", "code", "div"})  # where code-language classes live


@functools.lru_cache(maxsize=512)
def _compiled(selector: str) -> Any:
    """CSS → XPath translation is slow; each selector is translated once per process.

    The result, called on an element, gives the list of matching elements.
    """
    return CSSSelector(selector)


def _prune_attributes(content: Any) -> None:
    for el in content.iter(etree.Element):
        attrib = el.attrib
        for name in list(attrib):
            if name not in _KEPT_ATTRIBUTES and not (name == "class" and el.tag in _CLASS_KEPT_ON):
                del attrib[name]


def _select_content(doc: Any, selectors: tuple[str, ...], fallback: tuple[str, ...] = ()) -> Any:
    """The first element matched by ``selectors``; else by ``fallback`` (noted for the run report)."""
    for sel in selectors:
        found = _compiled(sel)(doc)
        if found:
            return found[0]
    if fallback:
        _fell_back.append(selectors)
        return _select_content(doc, fallback)
    return doc


def _title(doc: Any, content: Any) -> str:
    # prefer the page's own first heading: <title> often carries the site name and version string,
    # which would change every page on a release without a change of content
    for el in content.iter("h1"):
        text = words(el)
        if text:
            return text
    head_title = doc.find(".//head/title")
    if head_title is not None:
        return " ".join(head_title.text_content().split())
    return ""


def _refuse_non_page(doc: Any) -> None:
    """A 200 that is really a bot challenge is a failed fetch, never a snapshot."""
    title = doc.find(".//head/title")
    if title is not None and _CHALLENGE_TITLE.match(title.text_content() or ""):
        raise ConvertError(f"a bot challenge or block page, not the docs (title {title.text_content().strip()!r})")
    if doc.xpath(_CHALLENGE_MARKUP):
        raise ConvertError("a bot challenge page (captcha or challenge script), not the docs")


def _refuse_login_wall(content: Any) -> None:
    if content.xpath(".//input[@type='password']") and len(content.text_content().strip()) < 600:
        raise ConvertError("a login form where the page should be (login wall), not the docs")


_MEDIA = ("img", "source", "video", "audio", "track", "picture")


def stable_urls(content: Any) -> None:
    """Every link and source in its canonical form (urls.py: no tracking parameters, signatures or,
    on media and assets, cache busters), and CDN-obfuscated email addresses decoded."""
    for el in content.xpath(".//*[@data-cfemail]"):
        address = decode_cfemail(el.get("data-cfemail", ""))
        if address is None:
            continue
        for child in list(el):
            el.remove(child)
        el.text = address
        link = el if el.tag == "a" else next(el.iterancestors("a"), None)
        if link is not None and urlsplit(link.get("href", "")).path.endswith(EMAIL_PROTECTION):
            link.set("href", f"mailto:{address}")
    for el in content.iter("a", *_MEDIA):
        for name in ("href", "src", "poster"):
            value = el.get(name)
            if value and ("?" in value or EMAIL_PROTECTION in value):  # (the rest has nothing to drop)
                stable = canonical(value, asset=True if el.tag in _MEDIA else None)
                if stable != value:
                    el.set(name, stable)


def _content(html: str, url: str, rules: Rules) -> tuple[Any, Any, generators.Preset | None]:
    """Parse a page: (document, its content element with the chrome selectors stripped, preset)."""
    html = _XML_DECLARATION.sub("", html, count=1)  # lxml refuses a str that declares its encoding
    try:
        doc: lxml.html.HtmlElement = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise ConvertError(f"cannot parse HTML: {exc}") from exc
    _refuse_non_page(doc)
    preset = generators.detect(doc) if rules.presets else None  # before scripts go: some give it away
    etree.strip_elements(doc, *ALWAYS_STRIP, etree.Comment, with_tail=False)
    try:
        doc.make_links_absolute(url, resolve_base_href=True, handle_failures="ignore")
    except ValueError as exc:  # lxml refuses to set an attribute holding control characters
        raise ConvertError(f"cannot resolve the page's links: {exc}") from exc
    defaults = (preset.content if preset else ()) + tuple(DEFAULT_CONTENT)
    content = _select_content(doc, rules.content, defaults) if rules.content else _select_content(doc, defaults)
    _refuse_login_wall(content)
    labelled_tabs(content)  # before the chrome goes: some tab bars are buttons
    for sel in rules.strip + (preset.strip if preset else ()):
        for el in _compiled(sel)(content):
            if el is not content and el.getparent() is not None:
                el.drop_tree()
    return doc, content, preset


def html_to_markdown(html: str, url: str, rules: Rules) -> tuple[str, str, tuple[str, ...]]:
    """Convert an HTML page to ``(title, markdown body, block prints)``; links and images become
    absolute, and the blocks whose prints are in ``rules.chrome`` are left out."""
    doc, content, preset = _content(html, url, rules)
    found = chrome.candidates(content, preset is not None)
    chrome.drop_chrome(content, found, rules.chrome)
    stable_urls(content)
    title = _title(doc, content)
    # Sphinx marks blocks in its default language "highlight-default": Python 3, unless the project
    # set highlight_language, which Sphinx then writes as the block's class instead
    verbatim_code(content, "python" if preset is not None and preset.name == "sphinx" else None)
    readable_blocks(content)
    _prune_attributes(content)
    markdown = fragment_to_markdown(lxml.html.tostring(content, encoding="unicode"))
    return title, markdown, chrome.block_prints(found)


def block_texts(body: bytes, content_type: str, url: str, rules: Rules) -> dict[str, str]:
    """The text of each block of an HTML page that could be chrome, by print (to name a site's
    chrome in its commit messages)."""
    _, content, preset = _content(decode(body, content_type), url, rules)
    return {block.print: block.text for block in chrome.candidates(content, preset is not None)}


def _front_matter(title: str, url: str) -> str:
    lines = ["---"]
    if title:
        lines.append(f"title: {json.dumps(title, ensure_ascii=False)}")
    lines += [f"source: {url}", "---", "", ""]
    return "\n".join(lines)


def to_markdown(body: bytes, content_type: str, url: str, rules: Rules) -> str:
    """Turn a response body into the Markdown file archiver stores for ``url``.

    >>> to_markdown(b"<main><h1>Hi</h1><p>there</p></main>", "text/html", "https://x.org/", Rules(("main",), ()))
    '---\\ntitle: "Hi"\\nsource: https://x.org/\\n---\\n\\n# Hi\\n\\nthere\\n'
    """
    return _convert(body, content_type, url, rules).markdown


def _not_a_page(content_type: str) -> NotAPageError:
    return NotAPageError(f"not a page ({content_type.split(';')[0].strip() or 'no content type'})")


def _convert(body: bytes, content_type: str, url: str, rules: Rules) -> Converted:
    """:func:`to_markdown`, with the block prints of an HTML page and the specs it loads."""
    kind = kind_of(content_type, url)
    if kind == "other" and not apispec.may_be_spec(url):
        raise _not_a_page(content_type)
    if not body.strip():
        raise ConvertError("empty body")
    try:
        text = decode(body, content_type)
    except ConvertError:
        if kind == "other":  # binary after all: a file that only is named like a spec
            raise _not_a_page(content_type) from None
        raise
    if kind == "html":
        # an empty content area is kept (a search page filled in by JavaScript is still a page)
        title, markdown, prints = html_to_markdown(text, url, rules)
        markdown = normalise(_front_matter(title, url) + apply_ignore(markdown, rules))
        return Converted(markdown, blocks=prints, specs=apispec.spec_links(text, url))
    if kind != "markdown":  # recognised by content, whatever the server called it
        spec = apispec.read(text, kind)
        if spec is not None:
            return Converted(apply_ignore(apispec.canonical(spec, url), rules), spec=True)
    if kind in ("other", "yaml"):  # YAML (or a file named like a spec) that is no spec: as before
        raise _not_a_page(content_type)
    if kind == "json":
        try:
            text = json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False)
        except (ValueError, RecursionError) as exc:
            raise InvalidJSONError(f"invalid JSON: {exc}") from exc
    return Converted(normalise(apply_ignore(text, rules)))


def page_markdown(body: bytes, content_type: str, url: str, rules: Rules) -> Converted:
    """:func:`to_markdown`, plus a note for the run report (JSON or an API spec that does not parse
    is kept as text, and content selectors that matched nothing, so the defaults were used, are
    said), the page's block prints and the API specs it loads."""
    _fell_back.clear()
    try:
        converted = _convert(body, content_type, url, rules)
    except InvalidJSONError as exc:
        text = normalise(apply_ignore(decode(body, content_type), rules))
        return Converted(text, f"{exc}; stored as text")
    if _fell_back:
        note = f"content selectors {list(_fell_back[-1])} matched nothing; the default selectors were used"
        return dataclasses.replace(converted, note=note)
    return converted


def apply_ignore(text: str, rules: Rules) -> str:
    """Drop the lines that match ``rules.drop_lines`` and mask what matches ``rules.mask``."""
    if rules.drop_lines:
        drop = [re.compile(p) for p in rules.drop_lines]
        text = "\n".join(line for line in text.split("\n") if not any(d.search(line) for d in drop))
    for pattern in rules.mask:
        text = re.sub(pattern, "…", text)
    return text
