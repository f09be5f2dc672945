"""Site chrome no preset knows: blocks that recur, word for word, on most pages of a site.

A hand-made site's header menu, an API reference's sidebar of every module, a banner over every
page: each is a block whose text is the same on most of the site's pages. Such blocks are found per
site, not per page:

* converting a page gives the **prints** of its candidate blocks (:func:`block_prints`): a short
  hash of tag and text of every block that looks like chrome (mostly links, a navigation or footer
  container by name or role, placed before the page's first heading, or a short paragraph with a
  footer's words such as "Copyright" or at the very end of the page) and holds no code;
* the run keeps each page's prints in its state, and :func:`decide` picks the prints found on more
  than half of the site's pages (a print already chosen stays while it is on a quarter of them, so
  a site rebuilt page by page does not flip back and forth);
* the decision is part of the site's conversion rules (``Rules.chrome``): :func:`drop_chrome` drops
  those blocks, the same ones on every run whether a page was fetched or not, so the bytes depend
  only on the page's body and the stored decision.

Code blocks are never chrome, and a page that would keep no text without its chrome keeps it.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any, NamedTuple

MIN_PAGES = 5  # below this, what recurs says nothing: two pages of one guide share whole paragraphs
SHARE = 0.5  # a block on more than this share of the pages is chrome
KEEP_SHARE = 0.25  # ... and one already chosen stays chrome while on at least this share
MIN_WORDS = 2  # one word ("Home", "Parameters") is no block worth a decision
MIN_LEFT = 40  # characters a page must keep without its chrome, else nothing is dropped
LINK_SHARE = 0.5  # a block whose text is mostly links is a menu, a sidebar or a link list
FOOTER_MAX = 300  # characters of a paragraph that may be a footer line ("Copyright … All rights reserved")

_BLOCKS = frozenset(
    {"div", "nav", "header", "footer", "aside", "section", "ul", "ol", "dl", "table", "p", "form", "center"}
)
_HEADING = ("h1", "h2", "h3")
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"})
_CHROME_NAMES = re.compile(
    r"nav|menu|sidebar|side-bar|header|footer|banner|breadcrumb|toc|announce|masthead|topbar|toolbar|crumbs",
    re.IGNORECASE,
)
_CHROME_TAGS = frozenset({"nav", "header", "footer", "aside", "form"})
_FOOTER_WORDS = re.compile(r"^(©|\(c\)|copyright\b)|all rights reserved|powered by|built with|hosted by", re.IGNORECASE)


class Block(NamedTuple):
    """A block that could be chrome: the element, its print and its text on one line."""

    el: Any
    print: str
    text: str


def _text(el: Any) -> str:
    """The element's words on one line, its text nodes apart (a menu's items do not run together)."""
    return " ".join(" ".join(el.itertext()).split())


def _print(tag: str, text: str) -> str:
    return hashlib.blake2b(f"{tag}\0{text}".encode(), digest_size=5).hexdigest()


_LINKED = frozenset({"a", "option", "button", "label"})


def _looks_like_chrome(el: Any, before_heading: bool) -> bool:
    """Placed before the title, or a chrome element, role or name."""
    if before_heading or el.tag in _CHROME_TAGS:
        return True
    if el.get("role", "").lower() in _CHROME_ROLES:
        return True
    return bool(_CHROME_NAMES.search(f"{el.get('class', '')} {el.get('id', '')}"))


def candidates(content: Any, preset: bool = False) -> list[Block]:
    """The blocks of ``content`` that could be chrome, each with its print, in document order.

    ``preset``: the page's generator is known and its preset already took its menus and sidebars
    out; then only blocks placed or named like chrome are looked at (banners, headers), not every
    block's share of links, which costs a pass over every element."""
    first_heading = next((h for h in content.iter(*_HEADING) if _text(h)), None)
    # code is content, always: no block that holds code or sits in it, nor one holding the title
    skip: set[Any] = set()
    for pre in content.iter("pre"):
        skip.update(pre.iter(*_BLOCKS))
        skip.update(pre.iterancestors())
    if first_heading is not None:
        skip.update(first_heading.iterancestors())
    if preset:
        return _named_candidates(content, first_heading, skip)
    elements = list(content.iter())
    heading_at = elements.index(first_heading) if first_heading is not None else -1
    # one pass, children before parents: each element's characters of text, and of those the ones
    # in links and form controls; a block is judged as soon as its children are counted
    total: dict[Any, int] = {}
    linked: dict[Any, int] = {}
    out: list[Block] = []
    # the last element holding text: a short block holding it ends every page, as a footer does
    last_text = max(
        (k for k, e in enumerate(elements) if (e.text and e.text.strip()) or (e.tail and e.tail.strip())), default=-1
    )
    end: dict[Any, int] = {}  # the index of the last element inside each element
    for i in range(len(elements) - 1, -1, -1):
        el = elements[i]
        end[el] = end[el[-1]] if len(el) else i
        n = len(el.text.strip()) if el.text else 0
        in_links = 0
        for child in el:
            n += total[child] + (len(child.tail.strip()) if child.tail else 0)
            in_links += linked[child]
        total[el] = n
        linked[el] = in_links = n if el.tag in _LINKED else in_links
        if not n or el.tag not in _BLOCKS or el in skip or i == 0:
            continue
        shaped = _looks_like_chrome(el, i < heading_at) or in_links >= n * LINK_SHARE
        if not shaped and (el.tag not in ("p", "div") or n > FOOTER_MAX):  # a footer's words are few
            continue
        text = _text(el)
        footer = i <= last_text <= end[el] or _FOOTER_WORDS.search(text)
        if text.count(" ") + 1 >= MIN_WORDS and (shaped or footer):
            out.append(Block(el, _print(el.tag, text), text))
    out.reverse()
    return out


def _named_candidates(content: Any, first_heading: Any, skip: set[Any]) -> list[Block]:
    before = first_heading is not None
    out: list[Block] = []
    for el in content.iter(*_BLOCKS, *_HEADING):
        if el is first_heading:
            before = False
        if el is content or el.tag not in _BLOCKS or el in skip or not _looks_like_chrome(el, before):
            continue
        text = _text(el)
        if text.count(" ") + 1 >= MIN_WORDS:
            out.append(Block(el, _print(el.tag, text), text))
    return out


def block_prints(found: list[Block]) -> tuple[str, ...]:
    """The page's prints as kept in its state: sorted, each once."""
    return tuple(sorted({b.print for b in found}))


def drop_chrome(content: Any, found: list[Block], chrome: frozenset[str]) -> None:
    """Drop the blocks whose print is chrome (the outermost one of nested chrome), unless the page
    would be left without text."""
    if not chrome:
        return
    doomed = [b.el for b in found if b.print in chrome]
    if not doomed:
        return
    outermost = set()
    for el in doomed:
        if not any(parent in outermost for parent in el.iterancestors()):
            outermost.add(el)
    dropped = sum(len(_text(el)) for el in outermost)
    if len(_text(content)) - dropped < MIN_LEFT:
        return
    for el in outermost:  # (none holds another, so the order does not matter)
        el.drop_tree()


def decide(pages: Iterable[Iterable[str]], before: Iterable[str] = ()) -> frozenset[str]:
    """The site's chrome: prints on more than half of its HTML pages (``pages``: each one's prints);
    a print in ``before`` stays while on a quarter of them."""
    counts: Counter[str] = Counter()
    n = 0
    for prints in pages:
        n += 1
        counts.update(set(prints))
    if n < MIN_PAGES:
        return frozenset()
    kept = set(before)
    return frozenset(p for p, c in counts.items() if c > n * SHARE or (p in kept and c >= n * KEEP_SHARE))
