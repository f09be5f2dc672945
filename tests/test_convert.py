"""HTML, Markdown, text and JSON bodies ─► the Markdown archiver stores.

The golden pairs in tests/data/convert/ (``<case>.html`` in, ``<case>.md`` out) were produced by
the converter and then read by hand; a golden is only kept if it is right for its input. Cases
where the converter is known to be wrong keep the *right* Markdown and are marked xfail below.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import Site
from archiver.convert.page import Rules, decode, detect_charset, html_to_markdown, kind_of, normalise, to_markdown
from archiver.errors import ConvertError, NotAPageError
from archiver.run.pipeline import rules_of

DATA = Path(__file__).parent / "data" / "convert"
URL = "https://docs.example.com/guide/page.html"
RULES = rules_of(Site(name="x", base_url="https://docs.example.com/"))
CASES = sorted(p.stem for p in DATA.glob("*.html"))
KNOWN_BUGS: dict[str, str] = {}  # case -> reason, for a golden that holds the right output ahead of a fix


def html(body: str, head: str = "") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


def convert(body: bytes, content_type: str = "text/html", url: str = URL, rules: Rules = RULES) -> str:
    return to_markdown(body, content_type, url, rules)


# --- golden files -------------------------------------------------------------------------------


def test_every_case_has_a_golden() -> None:
    assert len(CASES) >= 10
    assert {p.stem for p in DATA.glob("*.md")} == set(CASES)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=KNOWN_BUGS[c]))
        if c in KNOWN_BUGS
        else c
        for c in CASES
    ],
)
def test_golden(case: str) -> None:
    out = convert((DATA / f"{case}.html").read_bytes())
    assert out.encode("utf-8") == (DATA / f"{case}.md").read_bytes()


@pytest.mark.parametrize("case", CASES)
def test_golden_is_normalised_markdown(case: str) -> None:
    """Every golden is already in normal form: stored Markdown passes through unchanged."""
    golden = (DATA / f"{case}.md").read_text(encoding="utf-8")
    assert normalise(golden) == golden
    assert convert(golden.encode(), "text/markdown") == golden
    assert golden.startswith("---\ntitle: ")
    assert f"\nsource: {URL}\n---\n\n" in golden


def test_latin1_input_really_is_latin1() -> None:
    """The charset case is only a test if its bytes are not valid UTF-8."""
    body = (DATA / "latin1.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert "Café crème" in convert(body)


def test_nfc_input_really_is_decomposed() -> None:
    text = (DATA / "nfc.html").read_text(encoding="utf-8")
    assert "e\u0301" in text
    out = convert(text.encode())
    assert "e\u0301" not in out
    assert out.count("\u00e9") == 7  # title, heading and text
    assert unicodedata.is_normalized("NFC", out)


def test_docusaurus_chrome_is_dropped() -> None:
    """What does work on the Docusaurus page: sidebars, footer, edit link and copy button go."""
    out = convert((DATA / "docusaurus.html").read_bytes())
    for noise in ("Edit this page", "Last updated", "Copy", "Built with Docusaurus", "Docs sidebar", "Next\n"):
        assert noise not in out
    assert "Create a new project:" in out
    assert "```bash\n" in out


def test_sphinx_chrome_is_dropped() -> None:
    out = convert((DATA / "sphinx.html").read_bytes())
    for noise in ("¶", "Navigation", "Powered by", "Sphinx 7", "3.2.1 documentation"):
        assert noise not in out


# --- code block languages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "language"),
    [
        ('<pre><code class="language-rust">x</code></pre>', "rust"),
        ('<pre class="lang-go">x</pre>', "go"),
        ('<div class="highlight-python notranslate"><div class="highlight"><pre>x</pre></div></div>', "python"),
        ('<div class="language-yaml highlight"><pre><code>x</code></pre></div>', "yaml"),
        ('<pre><code class="sourceCode haskell">x</code></pre>', ""),
        ('<pre data-lang="toml">x</pre>', "toml"),
        ('<pre><code class="language-C++">x</code></pre>', "c++"),
        ('<div class="highlight-default"><pre>x</pre></div>', ""),
        ('<pre><code class="language-none">x</code></pre>', ""),
        ('<pre><code class="language-text">x</code></pre>', ""),
        ('<pre class="highlight">x</pre>', ""),
        ("<pre>x</pre>", ""),
    ],
)
def test_code_language(block: str, language: str) -> None:
    out = convert(html(f"<main>{block}</main>"))
    assert f"\n```{language}\nx\n```\n" in out


def test_br_inside_pre_is_a_plain_line_break() -> None:
    out = convert(html("<main><pre><code>one<br>two<br></code></pre></main>"))
    assert "\n```\none\ntwo\n```\n" in out


def test_docusaurus_hash_link_is_stripped() -> None:
    out = convert(html('<main><h2 id="a">Title<a href="#a" class="hash-link">&#8203;</a></h2></main>'))
    assert "\n## Title\n" in out


# --- links and images -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("img/a.png?v=1", "https://docs.example.com/guide/img/a.png"),
        ("/a.png?ver=2&ts=3&_=4", "https://docs.example.com/a.png"),
        ("/a.png?v=1&w=200", "https://docs.example.com/a.png?w=200"),
        ("https://cdn.example.net/a.png?V=abc", "https://cdn.example.net/a.png"),
        ("data/a.png", "https://docs.example.com/guide/data/a.png"),
    ],
)
def test_image_urls(src: str, expected: str) -> None:
    out = convert(html(f'<main><img src="{src}" alt="pic"></main>'))
    assert f"![pic]({expected})" in out


def test_base_href_is_respected() -> None:
    out = convert(html('<main><a href="x.html">x</a></main>', head='<base href="https://docs.example.com/v2/">'))
    assert "[x](https://docs.example.com/v2/x.html)" in out


# --- noise that must not change the output ------------------------------------------------------


def noisy_page(nonce: str, stamp: str, asset: str, ident: str, reorder: bool) -> bytes:
    attrs = ['class="note"', 'data-x="1"', f'id="n-{ident}"']
    if reorder:
        attrs.reverse()
    return html(
        head=(
            f'<link rel="stylesheet" href="/assets/main.{asset}.css">'
            f'<link rel="preload" href="/assets/font.{asset}.woff2" as="font">'
            f'<script nonce="{nonce}">window.__BUILD__ = "{stamp}";</script>'
            f'<meta name="build" content="{stamp}"><title>Site {stamp}</title>'
        ),
        body=(
            f'<nav><a href="/">Home</a> <span>v{stamp}</span></nav>'
            f'<main id="main-{ident}"><h1 id="t-{ident}">Title<a class="headerlink" href="#t-{ident}">¶</a></h1>'
            f"<div {' '.join(attrs)}><p>Same <b>content</b> here.</p></div>"
            f'<style nonce="{nonce}">.x{{color:red}}</style>'
            f'<script nonce="{nonce}" src="/assets/app.{asset}.js"></script>'
            f"<!-- built {stamp} --></main>"
            f'<footer>Built {stamp} from commit {asset} <a href="/?v={asset}">top</a></footer>'
        ),
    )


def test_noise_does_not_change_output() -> None:
    a = convert(noisy_page(nonce="r4nd0m", stamp="2024-01-01T10:00", asset="1a2b3c", ident="abc", reorder=False))
    b = convert(noisy_page(nonce="0th3r", stamp="2025-06-30T23:59", asset="9f8e7d", ident="xyz", reorder=True))
    assert a == b
    assert "Same **content** here." in a
    assert 'title: "Title"' in a


@given(
    st.text("abcdef0123456789", min_size=1, max_size=12),
    st.text("0123456789-:T", min_size=1, max_size=20),
    st.text("abcdef0123456789", min_size=1, max_size=12),
    st.text("abcxyz-_", min_size=1, max_size=8),
    st.booleans(),
)
@settings(max_examples=50, deadline=None)
def test_noise_property(nonce: str, stamp: str, asset: str, ident: str, reorder: bool) -> None:
    reference = convert(noisy_page("n", "s", "a", "i", False))
    assert convert(noisy_page(nonce, stamp, asset, ident, reorder)) == reference


# --- determinism -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_convert_is_deterministic(case: str) -> None:
    body = (DATA / f"{case}.html").read_bytes()
    first = convert(body)
    assert convert(body).encode() == first.encode()
    assert normalise(first) == first


FENCE_TEXT = st.lists(
    st.sampled_from(
        ["a", "é", "e\u0301", " ", "\t", "\n", "\r", "\r\n", "`", "```", "~~~", "````", "\u00a0", "\u2028"]
    ),
    max_size=40,
).map("".join)


@given(st.one_of(FENCE_TEXT, st.text(max_size=80)))
@settings(max_examples=200, deadline=None)
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert once.endswith("\n") and not once.endswith("\n\n")
    assert "\r" not in once
    assert unicodedata.is_normalized("NFC", once)
    assert all(line == line.rstrip() for line in once.split("\n"))


PIECES = st.sampled_from(
    [
        "<p>",
        "</p>",
        "text ",
        "é",
        "<h2>",
        "</h2>",
        "<ul><li>",
        "</li></ul>",
        "<pre><code>",
        "</code></pre>",
        "\n\n\n",
        "  ",
        "<b>",
        "</b>",
        '<a href="x.html?v=1">',
        "</a>",
        "<table><tr><td>",
        "</td></tr></table>",
        "<nav>n</nav>",
        "*_`",
        "<blockquote>",
        "</blockquote>",
    ]
)


@given(st.lists(PIECES, max_size=30).map("".join))
@settings(max_examples=200, deadline=None)
def test_html_output_is_stable(fragment: str) -> None:
    body = html(f"<main>{fragment}</main>")
    out = convert(body)
    assert out == convert(body)
    assert normalise(out) == out
    assert out.startswith("---\n")


# --- to_markdown for other kinds ------------------------------------------------------------------


def test_markdown_passthrough() -> None:
    body = b"# Title  \r\n\r\n\r\n\r\nSome text\t\r\nmore   \r\n\r\n```\r\ncode\r\n\r\n\r\nend\r\n```\r\n\r\n\r\n"
    assert convert(body, "text/markdown; charset=utf-8") == "# Title\n\nSome text\nmore\n\n```\ncode\n\n\nend\n```\n"


def test_markdown_by_url_extension() -> None:
    assert convert(b"# A\n\n\n\nb", "text/plain", "https://docs.example.com/README.md") == "# A\n\nb\n"


def test_plain_text() -> None:
    assert convert(b"line 1  \nline 2", "text/plain") == "line 1\nline 2\n"


def test_json_is_pretty_printed_with_sorted_keys() -> None:
    body = b'{"b": 1, "a": [1, {"d": null, "c": "\\u00e9"}], "e": "caf\xc3\xa9"}'
    out = convert(body, "application/json", "https://docs.example.com/api.json")
    assert (
        out
        == '{\n  "a": [\n    1,\n    {\n      "c": "é",\n      "d": null\n    }\n  ],\n  "b": 1,\n  "e": "café"\n}\n'
    )
    assert json.loads(out) == json.loads(body)


def test_json_by_suffix_type() -> None:
    assert convert(b'{"z":1,"a":2}', "application/ld+json") == '{\n  "a": 2,\n  "z": 1\n}\n'


@pytest.mark.parametrize("body", [b"{not json", b'{"a": 1,}', b"[1, 2"])
def test_invalid_json(body: bytes) -> None:
    with pytest.raises(ConvertError, match="invalid JSON"):
        convert(body, "application/json")


@pytest.mark.parametrize("ctype", ["application/pdf", "image/png", "application/octet-stream; x=y"])
def test_unsupported_type(ctype: str) -> None:
    with pytest.raises(NotAPageError, match="not a page"):
        convert(b"%PDF-1.7 whatever", ctype)


@pytest.mark.parametrize("ctype", ["text/html", "text/plain", "", "application/json"])
def test_binary_body(ctype: str) -> None:
    with pytest.raises(ConvertError, match="binary"):
        convert(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ctype)


@pytest.mark.parametrize("body", [b"", b"   \n\t\r\n"])
@pytest.mark.parametrize("ctype", ["text/html", "text/markdown", "application/json"])
def test_empty_body(body: bytes, ctype: str) -> None:
    with pytest.raises(ConvertError, match="empty"):
        convert(body, ctype)


def test_html_without_content_keeps_the_page() -> None:
    """A page whose content is filled in by JavaScript is still a page (front matter only)."""
    out = convert(html('<main><div id="app"></div><script>render()</script></main>', head="<title>Search</title>"))
    assert out == f'---\ntitle: "Search"\nsource: {URL}\n---\n'


def test_title_is_json_quoted() -> None:
    title, _, _ = html_to_markdown('<main><h1>Say "hi" \\ now</h1></main>', URL, RULES)
    assert title == 'Say "hi" \\ now'
    out = convert(html('<main><h1>Say "hi" \\ now</h1></main>'))
    assert out.startswith('---\ntitle: "Say \\"hi\\" \\\\ now"\n')


@pytest.mark.parametrize(
    ("ctype", "url", "kind"),
    [
        ("text/html; charset=utf-8", URL, "html"),
        ("application/xhtml+xml", URL, "html"),
        ("", URL, "html"),
        ("TEXT/MARKDOWN", URL, "markdown"),
        ("text/plain", "https://x.org/a.mdx", "markdown"),
        ("application/json", URL, "json"),
        ("application/problem+json", URL, "json"),
        ("text/csv", URL, "text"),
        ("application/pdf", URL, "other"),
    ],
)
def test_kind_of(ctype: str, url: str, kind: str) -> None:
    assert kind_of(ctype, url) == kind


# --- normalise -----------------------------------------------------------------------------------


def test_normalise_collapses_blank_lines_outside_fences_only() -> None:
    text = "\n\n# A\n\n\n\ntext   \n\n\n```py\nx = 1\n\n\n\ny = 2\n```\n\n\n\nafter\n\n\n"
    assert normalise(text) == "# A\n\ntext\n\n```py\nx = 1\n\n\n\ny = 2\n```\n\nafter\n"


def test_normalise_tilde_and_long_fences() -> None:
    text = "~~~\na\n\n\nb\n~~~\n\n\n````\n```\n\n\nstill code\n````\n\n\nout\n"
    assert normalise(text) == "~~~\na\n\n\nb\n~~~\n\n````\n```\n\n\nstill code\n````\n\nout\n"


def test_normalise_basics() -> None:
    assert normalise("") == "\n"
    assert normalise("a\r\nb\rc") == "a\nb\nc\n"
    assert normalise("Cafe\u0301") == "Caf\u00e9\n"
    assert normalise("a \t\nb\u00a0\n") == "a\nb\n"


# --- charsets ------------------------------------------------------------------------------------


def test_header_charset_beats_meta() -> None:
    body = '<meta charset="utf-8"><p>café</p>'.encode("latin-1")
    assert detect_charset(body, "text/html; charset=ISO-8859-1") == "ISO-8859-1"
    assert "café" in decode(body, "text/html; charset=ISO-8859-1")


@pytest.mark.parametrize(
    ("body", "ctype", "expected"),
    [
        (b"<p>x</p>", "text/html", "utf-8"),
        (b'<meta charset="windows-1252"><p>x</p>', "text/html", "windows-1252"),
        (b"<meta http-equiv=Content-Type content='text/html; charset=koi8-r'>", "text/html", "koi8-r"),
        (b'<meta charset="no-such-charset">', "text/html", "utf-8"),
        (b"<p>x</p>", "text/html; charset=bogus-charset", "utf-8"),
        (b'<meta charset="latin-1">', "text/html; charset=bogus-charset", "latin-1"),
        (b"<p>x</p>", 'text/html; charset="UTF-8"', "UTF-8"),
    ],
)
def test_detect_charset(body: bytes, ctype: str, expected: str) -> None:
    assert detect_charset(body, ctype) == expected


def test_meta_charset_after_4k_is_ignored() -> None:
    body = b"<!-- " + b"x" * 5000 + b' --><meta charset="latin-1">'
    assert detect_charset(body, "text/html") == "utf-8"


def test_utf8_bom_is_dropped() -> None:
    assert decode(b"\xef\xbb\xbf<p>\xc3\xa9</p>", "text/html; charset=latin-1") == "<p>é</p>"


def test_bad_bytes_are_replaced_not_fatal() -> None:
    out = convert(b"<main><p>ok \xff\xfe bytes</p></main>", "text/html; charset=utf-8")
    assert "ok \ufffd\ufffd bytes" in out


# --- known crashes: to_markdown must only raise ConvertError ---------------------------------------

CRASHERS = {
    "charset-undefined-header": (b"<main><p>x</p></main>", "text/html; charset=undefined"),
    "charset-undefined-meta": (b'<meta charset="undefined"><main><p>x</p></main>', "text/html"),
    "href-bad-ipv6": (b'<main><a href="http://[your-host]:8080/">x</a></main>', "text/html"),
    "img-bad-ipv6": (b'<main><img src="http://[x" alt="i"></main>', "text/html"),
    "href-control-char": (b'<main><a href="a&#1;b">x</a></main>', "text/html"),
    "json-too-deep": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
}


@pytest.mark.parametrize("name", sorted(CRASHERS))
def test_only_convert_error_escapes(name: str) -> None:
    body, ctype = CRASHERS[name]
    try:
        out = convert(body, ctype)
    except ConvertError:
        return
    assert normalise(out) == out


def test_utf16_with_bom() -> None:
    body = b"\xff\xfe" + "<main><p>héllo</p></main>".encode("utf-16-le")
    assert re.search(r"\nhéllo\n", convert(body))
