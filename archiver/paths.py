"""URL ─► safe relative path inside a site's folder. The only place that decides file names.

The rule (also in the README):

* take the URL's path relative to the site's ``base_url`` path, with dot segments resolved (also
  when percent-encoded, ``%2e%2e``), so nothing can climb out of the site folder;
* a directory URL (empty or ending in ``/``) becomes ``…/index.md``; ``.html``/``.htm`` become
  ``.md``; ``.md``, ``.mdx``, ``.txt``, ``.json`` are kept; anything else gets ``.md`` appended;
  so ``guide/``, ``guide/index.html`` and ``guide/index.htm`` are one file;
* each segment is percent-decoded; characters that are unsafe in file names on some system
  (``/ \\ : * ? " < > |``, control characters, NUL) become ``_``; a segment longer than 120 bytes is
  cut and given ``~`` plus 8 hex digits of its hash; a leading ``.`` becomes ``_``;
* a query string is not dropped: it adds ``~`` plus 8 hex digits of its hash before the extension
  (``search?q=x`` → ``search~1a2b3c4d.md``), so different queries never share a file;
* paths that would clash on a case-insensitive file system, or a file that would clash with a
  folder of the same name, are told apart the same way: every URL after the first (in sorted
  order) of a clashing group gets ``~`` plus 8 hex digits of its URL's hash.

An API spec (OpenAPI, Swagger, JSON Schema: known only once its body is read) is stored as YAML
under :func:`spec_path`: the natural path with ``.md`` or ``.json`` replaced by ``.yaml``
(``openapi.json`` → ``openapi.yaml``, ``openapi.yaml`` → ``openapi.yaml``, ``api/spec`` →
``api/spec.yaml``). Natural paths never end in ``.yaml``, so only specs can clash there: of the
URLs whose specs would share a name, every one after the first (sorted) gets ``~`` plus 8 hex
digits of its URL's hash.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit

KEEP_EXTENSIONS = (".md", ".mdx", ".txt", ".json")
HTML_EXTENSIONS = (".html", ".htm", ".xhtml", ".shtml", ".php", ".asp", ".aspx")
MAX_SEGMENT_BYTES = 120
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_DOT_SEGMENT = re.compile(r"%2e", re.IGNORECASE)


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _safe_segment(segment: str) -> str:
    seg = _UNSAFE.sub("_", unquote(segment, errors="replace"))
    if seg.startswith("."):
        seg = "_" + seg[1:]
    if len(seg.encode("utf-8")) > MAX_SEGMENT_BYTES:
        cut = seg.encode("utf-8")[:100].decode("utf-8", errors="ignore")
        seg = f"{cut}~{_short_hash(seg)}"
    return seg or "_"


def _with_suffix(path: str, tag: str) -> str:
    """Insert ``~tag`` before the extension of the last segment."""
    head, _, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    name = f"{stem}~{tag}.{ext}" if dot and stem else f"{name}~{tag}"
    return f"{head}/{name}" if head else name


def _segments(base_url: str, url: str) -> tuple[list[str], bool]:
    """The URL's path segments relative to the base (still percent-encoded), and if it is a folder."""
    base_path = urlsplit(base_url).path or "/"
    # decode %2e first so encoded dot segments are resolved too, then resolve against the root
    raw = _DOT_SEGMENT.sub(".", urlsplit(url).path or "/")
    directory = raw.endswith(("/", "/.", "/.."))
    path = re.sub(r"/{2,}", "/", posixpath.normpath("/" + raw.lstrip("/")))
    if path.startswith(base_path):
        path = path[len(base_path) :]
    elif path + "/" == base_path:
        path = ""
    segments = [s for s in path.split("/") if s not in ("", ".", "..")]
    return segments, directory or not segments


@functools.lru_cache(maxsize=1 << 16)  # a run asks it of each URL several times (plan, apply, moves)
def page_key(base_url: str, url: str) -> str:
    """What makes two URLs one page: ``guide/``, ``guide/index.html`` and ``guide/index.htm`` share it.

    Exact bytes count (``%E9`` and ``%E8`` differ), so only true variants are merged; names that
    merely sanitise alike get told apart by :func:`assign_paths` instead.
    """
    segments, directory = _segments(base_url, url)
    canon = [quote(unquote_to_bytes(s), safe="") for s in segments]
    if directory:
        canon.append("index")
    elif canon[-1].lower().endswith(HTML_EXTENSIONS):
        canon[-1] = canon[-1].rsplit(".", 1)[0]
    query = urlsplit(url).query
    return "/".join(canon) + (f"?{query}" if query else "")


@functools.lru_cache(maxsize=1 << 16)
def relative_path(base_url: str, url: str) -> str:
    """The natural file path of ``url`` inside its site's folder (before clash resolution).

    >>> relative_path("https://x.org/docs/", "https://x.org/docs/guide/")
    'guide/index.md'
    >>> relative_path("https://x.org/docs/", "https://x.org/docs/%2e%2e/%2e%2e/etc/passwd")
    'etc/passwd.md'
    """
    segments, directory = _segments(base_url, url)
    if directory:
        segments.append("index")
    segments = [_safe_segment(s) for s in segments]
    last = segments[-1]
    lower = last.lower()
    if lower.endswith(HTML_EXTENSIONS):
        last = last.rsplit(".", 1)[0] + ".md"
    elif not lower.endswith(KEEP_EXTENSIONS):
        last = last + ".md"
    segments[-1] = last
    rel = "/".join(segments)
    query = urlsplit(url).query
    if query:
        rel = _with_suffix(rel, _short_hash(query))
    return rel


def assign_paths(base_url: str, urls: Iterable[str]) -> dict[str, str]:
    """Map each URL to a unique, safe path inside the site folder (see the module docstring).

    URLs that are the same page (same :func:`page_key`: ``guide/`` and ``guide/index.html``)
    are fetched once: only the first one listed is kept.
    """
    natural: dict[str, str] = {}
    keys: set[str] = set()
    for url in urls:
        key = page_key(base_url, url)
        if key not in keys:
            keys.add(key)
            natural[url] = relative_path(base_url, url)
    folders: set[str] = set()
    for p in natural.values():
        parts = p.lower().split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    groups: dict[str, list[str]] = {}
    for url, rel in natural.items():
        groups.setdefault(rel.lower(), []).append(url)
    out: dict[str, str] = {}
    tagged: list[str] = []
    for key, members in groups.items():
        members.sort()
        for i, url in enumerate(members):
            if i > 0 or key in folders:
                tagged.append(url)
            else:
                out[url] = natural[url]
    used = {p.lower() for p in out.values()} | folders
    for url in tagged:
        n = 0
        rel = _with_suffix(natural[url], _short_hash(url))
        while rel.lower() in used:  # a tag may equal another URL's natural path: tag again
            n += 1
            rel = _with_suffix(natural[url], _short_hash(f"{url}#{n}"))
        used.add(rel.lower())
        out[url] = rel
    return {url: out[url] for url in natural}


def binary_path(rel: str) -> str:
    """Where a body that is not a page is kept (``store_binary``): the URL's own file name.

    >>> binary_path("files/spec.pdf.md"), binary_path("logo.md"), binary_path("spec.pdf")
    ('files/spec.pdf', 'logo.bin', 'spec.pdf')
    """
    if not rel.endswith(".md"):
        return rel
    stem = rel[: -len(".md")]
    return stem if "." in stem.rsplit("/", 1)[-1] else stem + ".bin"


SPEC_EXTENSIONS = (".yaml", ".yml")


def spec_path(rel: str) -> str:
    """Where an API spec whose natural path is ``rel`` is kept (see the module docstring).

    >>> spec_path("openapi.json"), spec_path("openapi.yaml.md"), spec_path("api/spec.md")
    ('openapi.yaml', 'openapi.yaml', 'api/spec.yaml')
    """
    stem = rel[: -len(".md")] if rel.endswith(".md") else rel
    if stem.lower().endswith(SPEC_EXTENSIONS):
        return stem
    if stem.lower().endswith(".json"):
        stem = stem[: -len(".json")]
    return stem + ".yaml"


def spec_file(url: str, rel: str, others: dict[str, str]) -> str:
    """:func:`spec_path` of ``url``'s ``rel``, told apart from the specs of the ``others`` (URL →
    path) that would take the same name: the first URL (sorted) keeps it, the rest are tagged."""
    target = spec_path(rel)
    first = min((u for u, r in others.items() if spec_path(r).lower() == target.lower()), default=url)
    return target if min(first, url) == url else tagged(target, url)


def tagged(rel: str, url: str) -> str:
    """``rel`` told apart for ``url``: ``~`` and 8 hex digits of the URL's hash before the extension."""
    return _with_suffix(rel, _short_hash(url))


def is_inside(rel: str) -> bool:
    """True if ``rel`` is a relative path that stays inside its folder (a last line of defence)."""
    if not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel:
        return False
    return all(seg not in ("", ".", "..") for seg in rel.split("/"))
