"""Whatever a browser displays converts: markup flavours, and code kept verbatim (issue 10).

Small fixtures of our own, one per class of problem found on real generators' sites: XHTML with an
XML declaration (DocBook, AsciiDoc), stray NUL bytes, upper-case tags, ``<base href>``, per-line
code markup (Docusaurus' token lines, Shiki's line spans, Pygments' line-number tables) and code
that itself holds a fence.
"""

from __future__ import annotations

import re

import pytest

from archiver.config import Site
from archiver.convert.page import to_markdown
from archiver.run.worker import rules_of

RULES = rules_of(Site(name="x", base_url="https://docs.example.com/"))
URL = "https://docs.example.com/guide/page.html"
CODE = ["def handler(event):", "    if event.ok:", "        return 200", "", "    return 500"]


def convert(body: bytes | str, content_type: str = "text/html") -> str:
    data = body.encode() if isinstance(body, str) else body
    return to_markdown(data, content_type, URL, RULES)


def fenced(markdown: str) -> list[str]:
    """The lines inside the first fenced block."""
    m = re.search(r"^(`{3,})[^\n]*\n(.*?)\n\1$", markdown, re.S | re.M)
    assert m, markdown
    return m.group(2).split("\n")


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/xhtml+xml"])
def test_xhtml_with_an_xml_declaration(content_type: str) -> None:
    page = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>git-log(1)</title></head>'
        "<body><div id='content'><h1>git-log(1)</h1><p>Show commit logs.</p></div></body></html>"
    )
    out = convert(page, content_type)
    assert "# git-log(1)" in out and "Show commit logs." in out


def test_comments_whitespace_upper_case_and_stray_nuls() -> None:
    page = b"\n  <!-- by hand -->\n<!DOCTYPE HTML><HTML><BODY><MAIN><H1>Upper</H1><P>Te\x00xt.</P></MAIN></BODY></HTML>"
    out = convert(page)
    assert "# Upper" in out and "Text." in out


def test_base_href_decides_where_links_go() -> None:
    page = (
        '<html><head><base href="https://docs.example.com/v2/"></head>'
        '<body><main><p><a href="api.html">API</a></p></main></body></html>'
    )
    assert "[API](https://docs.example.com/v2/api.html)" in convert(page)


def _docusaurus(lines: list[str]) -> str:
    spans = "".join(
        f'<span class="token-line"><span class="token plain">{line or " "}</span><br></span>' for line in lines
    )
    return f'<main><pre class="prism-code language-python"><code>{spans}</code></pre></main>'


def _shiki(lines: list[str]) -> str:
    spans = "\n".join(f'<span class="line"><span style="color:#f00">{line}</span></span>' for line in lines)
    return f'<main><pre class="shiki"><code class="language-python">{spans}</code></pre></main>'


def _div_lines(lines: list[str]) -> str:
    divs = "".join(f'<div class="token-line">{line}</div>' for line in lines)
    return f'<main><pre><code class="language-python">{divs}</code></pre></main>'


def _pygments_table(lines: list[str]) -> str:
    numbers = "\n".join(str(n) for n in range(1, len(lines) + 1))
    code = "\n".join(lines)
    return (
        '<main><div class="highlight-python notranslate"><table class="highlighttable"><tr>'
        f'<td class="linenos"><div class="linenodiv"><pre>{numbers}</pre></div></td>'
        f'<td class="code"><div class="highlight"><pre><span></span>{code}\n</pre></div></td>'
        "</tr></table></div></main>"
    )


def _pygments_inline(lines: list[str]) -> str:
    code = "\n".join(f'<span class="linenos">{n}</span>{line}' for n, line in enumerate(lines, 1))
    return f'<main><div class="highlight"><pre>{code}</pre></div></main>'


@pytest.mark.parametrize("build", [_docusaurus, _shiki, _div_lines, _pygments_table, _pygments_inline])
def test_every_code_line_keeps_its_indentation(build) -> None:  # type: ignore[no-untyped-def]
    out = convert(build(CODE))
    assert fenced(out) == CODE, out
    assert out.count("```") == 2  # one block: no gutter turned into a block of its own


def test_a_fence_inside_code_gets_a_longer_fence() -> None:
    code = "Write this in README.md:\n\n```python\nprint(1)\n```\n\nThen commit."
    out = convert(f"<main><p>Example:</p><pre><code>{code}</code></pre><p>After the block.</p></main>")
    assert fenced(out) == code.split("\n")
    assert "\n````\n" in out and out.rstrip().endswith("After the block.")


SIG = (  # as Sphinx 7 writes it: no white space between the spans but where a space is shown
    '<dt class="sig sig-object py" id="flask.Flask"><em class="property"><span class="pre">class</span> </em>'
    '<span class="sig-prename descclassname"><span class="pre">flask.</span></span>'
    '<span class="sig-name descname"><span class="pre">Flask</span></span><span class="sig-paren">(</span>'
    '<em class="sig-param"><span class="n"><span class="pre">import_name</span></span></em>, '
    '<em class="sig-param"><span class="n"><span class="pre">initial</span></span>'
    '<span class="p"><span class="pre">:</span></span> <span class="n"><span class="pre">Mapping</span>'
    '<span class="p"><span class="pre">[</span></span><span class="pre">str</span>'
    '<span class="p"><span class="pre">,</span></span> <span class="pre">Any</span>'
    '<span class="p"><span class="pre">]</span></span></span> <span class="o"><span class="pre">|</span></span> '
    '<span class="pre">None</span> <span class="o"><span class="pre">=</span></span> '
    '<span class="default_value"><span class="pre">None</span></span></em><span class="sig-paren">)</span>'
    '<a class="headerlink" href="#flask.Flask">¶</a></dt>'
)
SPHINX_API = f"""<main><section><h1>flask.Flask</h1>
<dl class="py class">
{SIG}
<dd><p>The flask object implements a WSGI application.</p>
<div class="admonition warning"><p class="admonition-title">Warning</p><p>Do not share it between threads.</p></div>
<div class="admonition note"><p>Untitled notes say what they are.</p></div>
<details><summary>More options</summary><p>Set <code>debug</code> for reloads.</p></details>
</dd></dl></section></main>"""


def test_an_api_page_reads_as_signatures_and_marked_blocks() -> None:
    out = re.sub(r"(?m)^ +", "", convert(SPHINX_API))  # (the blocks sit in a definition, indented)
    assert "`class flask.Flask(import_name, initial: Mapping[str, Any] | None = None)`" in out
    assert "*" not in out.split("`class flask.Flask")[1].split("`")[0]  # no emphasis soup
    assert "> **Warning**\n>\n> Do not share it between threads." in out
    assert "> **Note**\n>\n> Untitled notes say what they are." in out
    assert "> **▸ More options**\n>\n> Set `debug` for reloads." in out
    assert "The flask object implements a WSGI application." in out


DOCUSAURUS_TABS = """<main><div class="tabs-container"><ul role="tablist" class="tabs">
<li role="tab" aria-selected="true">npm</li><li role="tab" aria-selected="false">Yarn</li></ul>
<div class="margin-top--md"><div role="tabpanel"><pre><code>npm install acme</code></pre></div>
<div role="tabpanel" hidden=""><pre><code>yarn add acme</code></pre></div></div></div></main>"""
MATERIAL_TABS = """<main><div class="tabbed-set tabbed-alternate" data-tabs="1:2">
<input checked="checked" id="__tabbed_1_1" name="__tabbed_1" type="radio">
<input id="__tabbed_1_2" name="__tabbed_1" type="radio">
<div class="tabbed-labels"><label for="__tabbed_1_1">Python</label><label for="__tabbed_1_2">Shell</label></div>
<div class="tabbed-content"><div class="tabbed-block"><pre><code>import acme</code></pre></div>
<div class="tabbed-block"><pre><code>acme --help</code></pre></div></div></div></main>"""
SPHINX_TABS = """<main><div class="sphinx-tabs docutils container"><div aria-label="Tabbed content" role="tablist">
<button aria-controls="panel-0-0" aria-selected="true" class="sphinx-tabs-tab" role="tab">Linux</button>
<button aria-controls="panel-0-1" aria-selected="false" class="sphinx-tabs-tab" role="tab">Windows</button></div>
<div class="sphinx-tabs-panel" id="panel-0-0" role="tabpanel"><pre><code>./run.sh</code></pre></div>
<div class="sphinx-tabs-panel" hidden="true" id="panel-0-1" role="tabpanel"><pre><code>run.bat</code></pre></div>
</div></main>"""


@pytest.mark.parametrize(
    ("page", "tabs"),
    [
        (DOCUSAURUS_TABS, [("npm", "npm install acme"), ("Yarn", "yarn add acme")]),
        (MATERIAL_TABS, [("Python", "import acme"), ("Shell", "acme --help")]),
        (SPHINX_TABS, [("Linux", "./run.sh"), ("Windows", "run.bat")]),
    ],
    ids=["docusaurus", "mkdocs-material", "sphinx-tabs"],
)
def test_tabbed_code_keeps_every_tab_with_its_label(page: str, tabs: list[tuple[str, str]]) -> None:
    out = convert(page)
    at = 0
    for label, code in tabs:  # each label, then its code, in order; nothing of the tab bar besides
        at = out.index(f"**{label}**", at)
        at = out.index(f"```\n{code}\n```", at)
    body = out.split("---\n\n", 1)[1]
    assert body.count("**") == 2 * len(tabs)


def test_sphinx_default_highlighting_is_python() -> None:
    block = '<div class="highlight-default notranslate"><div class="highlight"><pre>print(1)\n</pre></div></div>'
    head = '<head><meta name="generator" content="Sphinx 7.2.6"></head>'
    sphinx = f'<html>{head}<body><div role="main">{block}</div></body></html>'
    plain = f"<html><body><main>{block}</main></body></html>"
    assert "```python\nprint(1)\n```" in convert(sphinx)
    assert "```\nprint(1)\n```" in convert(plain)  # elsewhere "default" says nothing


ASCIIDOC_NOTE = """<div id="content"><h1>gitcore-tutorial(7)</h1><div class="admonitionblock"><table><tr>
<td class="icon"><div class="title">Note</div></td><td class="content">Here is an ASCII art:
<div class="listingblock"><div class="content"><pre><code>             diff-tree
              +----+
              |    |
              V    V</code></pre></div></div></td></tr></table></div>
<table class="tableblock"><tr><td>data</td><td>cells</td></tr></table></div>"""


def test_code_in_an_asciidoc_admonition_table_survives() -> None:
    out = convert(ASCIIDOC_NOTE)
    art = ["             diff-tree", "              +----+", "              |    |", "              V    V"]
    assert "\n".join(["> ```", *(f"> {line}" for line in art), "> ```"]) in out  # inside the note, verbatim
    assert "> **Note**" in out
    assert "| data | cells |" in out  # a table of data stays a table
