"""URL ─► file path: a table of known cases, clash resolution, and properties over arbitrary URLs."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.paths import MAX_SEGMENT_BYTES, assign_paths, is_inside, relative_path

BASE = "https://docs.example.com/en/latest/"
HASH = r"~[0-9a-f]{8}"
# a tag is "~" plus 8 hex digits: one for a query, one more for a clash
TAG_BYTES = 9
KEPT_EXTENSIONS = (".md", ".mdx", ".txt", ".json")

# path under BASE -> expected relative path (a regex when it holds a hash)
CASES: list[tuple[str, str]] = [
    ("", "index.md"),
    ("index.html", "index.md"),
    ("guide/", "guide/index.md"),
    ("guide", "guide.md"),
    ("guide/index.html", "guide/index.md"),
    ("guide/index.htm", "guide/index.md"),
    ("guide/.", "guide/index.md"),
    ("a/b.html", "a/b.md"),
    ("a/b.HTML", "a/b.md"),
    ("page.php", "page.md"),
    ("readme.md", "readme.md"),
    ("data/x.json", "data/x.json"),
    ("x.mdx", "x.mdx"),
    ("notes.txt", "notes.txt"),
    ("img.png", "img.png.md"),
    ("archive.tar.gz", "archive.tar.gz.md"),
    ("x.md.html", "x.md.md"),
    ("a.html#section", "a.md"),
    ("a//b", "a/b.md"),
    ("A%20B.html", "A B.md"),
    ("caf%C3%A9.html", "café.md"),
    ("../../etc/passwd", "etc/passwd.md"),
    ("%2e%2e/%2E%2E/etc/passwd", "etc/passwd.md"),
    ("guide/%2e%2e/%2e%2e/%2e%2e/x", "x.md"),
    ("a/%2e", "a/index.md"),
    ("%252e%252e/x", "%2e%2e/x.md"),  # double-encoded: a literal "%2e%2e" folder, still inside
    ("a%2Fb/c", "a_b/c.md"),
    ("a%5Cb", "a_b.md"),
    ("a%00b", "a_b.md"),
    ("a\x00b", "a_b.md"),
    ("a%0Ab", "a_b.md"),
    ("a%3Cb%3E%7C%22%2A%3A", "a_b_____.md"),
    (".git/config", "_git/config.md"),
    (".html", "_html.md"),
    ("%2egit/config", "_git/config.md"),
    ("search?q=x", rf"search{HASH}\.md"),
    ("search.html?q=x", rf"search{HASH}\.md"),
    ("?q=1", rf"index{HASH}\.md"),
    ("x" * 300, rf"x{{100}}{HASH}\.md"),
    ("é" * 100, rf"é{{50}}{HASH}\.md"),
    ("x" * 300 + "/y.html", rf"x{{100}}{HASH}/y\.md"),
]


@pytest.mark.parametrize(("path", "expected"), CASES, ids=[repr(p)[1:-1][:40] for p, _ in CASES])
def test_relative_path(path: str, expected: str) -> None:
    rel = relative_path(BASE, BASE + path)
    assert re.fullmatch(expected, rel), rel
    assert is_inside(rel)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://docs.example.com/en/latest", "index.md"),  # the base without its slash
        ("https://docs.example.com/en/latest/../../etc/passwd", "etc/passwd.md"),
        ("https://other.example.com/en/latest/x.html", "x.md"),  # only the path counts
    ],
)
def test_relative_path_absolute_urls(url: str, expected: str) -> None:
    assert relative_path(BASE, url) == expected


def test_base_without_path() -> None:
    assert relative_path("https://x.org", "https://x.org/a/b.html") == "a/b.md"
    assert relative_path("https://x.org/", "https://x.org/") == "index.md"


def test_query_tags_differ() -> None:
    paths = {relative_path(BASE, f"{BASE}search?q={q}") for q in ("x", "y", "x&page=2", "")}
    # "search?" has an empty query, which is dropped: it is just search.md
    assert len(paths) == 4
    assert relative_path(BASE, BASE + "search?") == "search.md"
    assert relative_path(BASE, BASE + "search?q=x") == relative_path(BASE, BASE + "search?q=x")


def test_long_segments_differ() -> None:
    a = relative_path(BASE, BASE + "x" * 200 + "a")
    b = relative_path(BASE, BASE + "x" * 200 + "b")
    assert a != b
    assert a[:100] == b[:100]


def test_is_inside() -> None:
    assert is_inside("a/b.md")
    for bad in ("", "/a.md", "../a.md", "a/../b.md", "a/./b.md", "a//b.md", "a\\b.md", "a\x00.md", "a/"):
        assert not is_inside(bad), bad


# --- assign_paths ------------------------------------------------------------------------------


def assign(*paths: str) -> dict[str, str]:
    return {url.removeprefix(BASE): rel for url, rel in assign_paths(BASE, [BASE + p for p in paths]).items()}


def test_same_page_collapses_first_kept() -> None:
    assert assign("guide/", "guide/index.html", "guide/index.htm") == {"guide/": "guide/index.md"}
    assert assign("guide/index.html", "guide/") == {"guide/index.html": "guide/index.md"}


def test_case_clash() -> None:
    out = assign("api.html", "API.html")
    assert set(out) == {"api.html", "API.html"}
    assert out["API.html"] == "API.md"  # the first in sorted order keeps its natural path
    assert re.fullmatch(rf"api{HASH}\.md", out["api.html"])
    assert out["api.html"].lower() != out["API.html"].lower()


def test_case_clash_in_folders() -> None:
    out = assign("Guide/x.html", "guide/x.html", "guide/y.html")
    assert len({p.lower() for p in out.values()}) == 3
    assert out["guide/y.html"] == "guide/y.md"


def test_file_folder_clash() -> None:
    out = assign("a", "a.md/x")
    assert out["a.md/x"] == "a.md/x.md"
    assert re.fullmatch(rf"a{HASH}\.md", out["a"])
    # also when they differ only in case
    out = assign("A", "a.md/x")
    assert re.fullmatch(rf"A{HASH}\.md", out["A"])


CLASHING = ["API.html", "api.html", "Api.htm", "a", "a.md/x", "guide/", "Guide/", "x.json", "X.JSON", "b?q=1"]


@given(st.permutations(CLASHING))
@settings(max_examples=50, deadline=None)
def test_assign_paths_independent_of_order(order: list[str]) -> None:
    assert assign(*order) == assign(*CLASHING)
    assert list(assign(*order)) == order  # the result keeps the caller's order


def test_assign_paths_every_order_small() -> None:
    expected = assign("API.html", "api.html", "a", "a.md/x")
    for order in itertools.permutations(["API.html", "api.html", "a", "a.md/x"]):
        assert assign(*order) == expected


@pytest.mark.parametrize("pair", [("a:b", "a_b"), ("a%2Fb", "a_b"), ("%E9t", "%E8t")], ids=str)
def test_sanitised_alike_are_not_dropped(pair: tuple[str, str]) -> None:
    assert len(assign(*pair)) == 2


def test_clash_tag_cannot_collide_with_a_natural_path() -> None:
    tagged = assign("API.html", "api.html")["api.html"]  # e.g. api~e4417d5e.md, also a legal URL path
    out = assign("API.html", "api.html", tagged)
    assert len(set(out.values())) == 3


# --- properties ---------------------------------------------------------------------------------

NASTY = list('/.%\\:?#*"<>|~ \x00\x01\x7f\t\n') + ["%2e", "%2E", "%2f", "%00", "..", "%E9", "é", "e\u0301", "😀", "ẞ"]
chars = st.one_of(st.sampled_from(NASTY), st.characters(codec="utf-8"), st.sampled_from("aAbB.-_"))
path_text = st.lists(chars, max_size=60).map("".join)
segment = st.one_of(
    st.sampled_from(["..", ".", "", "%2e%2e", "%2E.", ".git", "index.html", "INDEX.HTML", "a.md", "x" * 130, "é" * 70]),
    st.text(st.sampled_from("abAB.%2eE/\\:é"), max_size=8),
)
segments_text = st.lists(segment, max_size=6).map("/".join)
query = st.one_of(st.just(""), st.text(st.sampled_from("abq=&%é"), max_size=5).map(lambda q: "?" + q))
url_path = st.builds(lambda p, q: p + q, st.one_of(path_text, segments_text), query)


def check_rel(rel: str, extra_tag_bytes: int = 0) -> None:
    assert is_inside(rel), rel
    assert not rel.startswith("/")
    assert rel.endswith(KEPT_EXTENSIONS), rel
    for seg in rel.split("/"):
        assert seg not in ("..", "."), rel
        # the 120-byte cap is on the name; ".md" and the "~hash" tags come on top
        assert len(seg.encode("utf-8")) <= MAX_SEGMENT_BYTES + len(".md") + TAG_BYTES + extra_tag_bytes, rel
        assert _SAFE.fullmatch(seg), rel


_SAFE = re.compile(r'[^\x00-\x1f\x7f/\\:*?"<>|]+')


@given(url_path)
@settings(max_examples=200, deadline=None)
def test_relative_path_is_always_safe(path: str) -> None:
    check_rel(relative_path(BASE, BASE + path))


TRICKY = [
    "",
    "guide/",
    "Guide/Auth.HTML",
    "guide/auth.html?v=2&lang=en",
    "%E2%9C%93/caf%C3%A9.html",
    "caf\u00e9/\u00fcber.md",
    "a/../b/./c.html",
    "x" * 400 + ".html",
    "CON/aux.txt",
    "spaces%20and%2Fslashes/",
    "index.html#frag",
    "api/v1/items/{id}",
]
_PATHS_SCRIPT = """
import json, sys
from archiver.paths import assign_paths, relative_path
base, paths = json.loads(sys.stdin.read())
urls = [base + p for p in paths]
print(json.dumps([[relative_path(base, u) for u in urls], assign_paths(base, urls)]))
"""


@pytest.mark.parametrize("seed", ["0", "12345"])
def test_paths_are_the_same_in_every_process(seed: str) -> None:
    """The file a URL goes to must not depend on the process (hash seed, set order): a second run,
    or a worker, that named a page differently would commit a removal and an addition."""
    here = [[relative_path(BASE, BASE + p) for p in TRICKY], assign_paths(BASE, [BASE + p for p in TRICKY])]
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", _PATHS_SCRIPT],
        input=json.dumps([BASE, TRICKY]),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert json.loads(done.stdout) == here


@given(st.lists(url_path, max_size=12))
@settings(max_examples=200, deadline=None)
def test_assign_paths_unique_and_safe(paths: list[str]) -> None:
    urls = [BASE + p for p in paths]
    out = assign_paths(BASE, urls)
    assert set(out) <= set(urls)
    values = list(out.values())
    assert len(set(values)) == len(values)
    lowered = [v.lower() for v in values]
    assert len(set(lowered)) == len(lowered)
    # no file is also a folder of another file, case-insensitively
    folders = {"/".join(v.split("/")[:i]) for v in lowered for i in range(1, v.count("/") + 1)}
    assert not folders & set(lowered)
    # every URL dropped maps to the same natural path as one kept (it is the same page)
    kept_natural = {relative_path(BASE, u) for u in out}
    for url in urls:
        assert relative_path(BASE, url) in kept_natural
    for rel in values:
        check_rel(rel, extra_tag_bytes=TAG_BYTES)
