"""Issue 3, content: every kind of page kept, the noise kept out, non-pages refused, rules re-applied.

End to end through ``pipeline.run`` (a loopback server, a git repository in tmp_path), plus direct
``to_markdown`` checks of the generator presets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import FaultServer, commit_count, git, make_config
from typer.testing import CliRunner

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import StateStore
from archiver.cli import app
from archiver.config import Site, load_config
from archiver.convert.page import to_markdown
from archiver.models import PageStatus, SiteReport
from archiver.run.pipeline import rerender, run
from archiver.run.worker import rules_of

DEFAULT_RULES = rules_of(Site(name="x", base_url="https://d.example/"))
NO_PRESET_RULES = rules_of(Site(name="x", base_url="https://d.example/", generator_defaults=False))


def make(url: str, pages: list[str], **fields: object) -> Site:
    values: dict[str, object] = {
        "name": "docs",
        "base_url": url,
        "pages": pages,
        "retries": 0,
        "remove_after": 1,
        "timeout": 5.0,
    }
    values.update(fields)
    return Site.model_validate(values)


def by_url(report: SiteReport) -> dict[str, tuple[PageStatus, str | None]]:
    return {r.url: (r.status, r.error) for r in report.results}


def tracked(repo: ArchiveRepo) -> set[str]:
    return set(git(repo.path, "ls-files").split())


def html_page(main: str, title: str = "Docs", head: str = "") -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title>{head}</head><body>"
        f"<nav><a href='/'>Home</a> <a href='/guide/'>Guide</a></nav><main>{main}</main>"
        "<footer>© Widget Corp</footer></body></html>"
    ).encode()


LONG_TEXT = (
    "The reference lists every endpoint of the Widget service, the parameters each one takes, the "
    "errors it can answer with and the limits that apply to it. Read the authentication guide first: "
    "every request must carry a token, and tokens expire after twenty-four hours."
)


# --- kinds of page ------------------------------------------------------------------------------


def test_markdown_mdx_text_and_json_are_stored_pdf_is_skipped(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    docs_server.set_page(
        "/guide/intro.md", b"# Intro\r\n\r\nRead *this* first.\r\n\r\n\r\n\r\nThen that.", "text/markdown"
    )
    mdx = b"import Tabs from '@theme/Tabs';\n\n# Widget\n\n<Tabs>\n  <TabItem value=\"a\">A</TabItem>\n</Tabs>\n"
    docs_server.set_page("/guide/widget.mdx", mdx, "text/plain; charset=utf-8")
    docs_server.set_page("/guide/tabs.mdx", b"# Tabs\n\nMDX as Markdown.\n", "text/markdown")
    docs_server.set_page("/notes.txt", b"line one\r\nline two   \r\nline three", "text/plain")
    docs_server.set_page(
        "/api/spec.json",
        b'{"paths": {"/b": 2, "/a": [1, {"z": null, "y": "\\u00e9"}]}, "info": {}}',
        "application/json",
    )
    docs_server.set_page("/manual.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf")
    pages = ["index.html", "guide/intro.md", "guide/widget.mdx", "guide/tabs.mdx", "notes.txt", "api/spec.json"]
    site = make(url, [*pages, "manual.pdf"])

    report = run(make_config(site), archive, workers=1).sites[0]

    got = by_url(report)
    assert [got[url + p][0] for p in pages] == [PageStatus.ADDED] * len(pages)
    status, error = got[url + "manual.pdf"]
    assert status is PageStatus.SKIPPED and error is not None and "application/pdf" in error
    assert report.error is None and not report.failed
    assert tracked(archive) == {
        "docs/index.md",
        "docs/guide/intro.md",
        "docs/guide/widget.mdx",
        "docs/guide/tabs.mdx",
        "docs/notes.txt",
        "docs/api/spec.json",
    }
    files = archive.path / "docs"
    assert (files / "guide/intro.md").read_bytes() == b"# Intro\n\nRead *this* first.\n\nThen that.\n"
    assert (files / "guide/widget.mdx").read_bytes() == mdx  # as is: no front matter, no conversion
    assert (files / "guide/tabs.mdx").read_bytes() == b"# Tabs\n\nMDX as Markdown.\n"
    assert (files / "notes.txt").read_bytes() == b"line one\nline two\nline three\n"
    spec = (files / "api/spec.json").read_text(encoding="utf-8")
    assert spec == '{\n  "info": {},\n  "paths": {\n    "/a": [\n      1,\n      {\n        "y": "é",\n' + (
        '        "z": null\n      }\n    ],\n    "/b": 2\n  }\n}\n'
    )
    assert json.loads(spec) == {"paths": {"/b": 2, "/a": [1, {"z": None, "y": "é"}]}, "info": {}}
    assert not list(files.glob("manual*"))
    # the skipped PDF is no failure next time either, and nothing changes
    again = run(make_config(site), archive, workers=1).sites[0]
    assert again.commit is None and not again.failed
    assert by_url(again)[url + "manual.pdf"][0] is PageStatus.SKIPPED


def test_store_binary_keeps_the_bytes_under_the_urls_own_name(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
    docs_server.set_page("/files/manual.pdf", pdf, "application/pdf", ETag='"v1"')
    docs_server.set_page("/logo", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")
    site = make(url, ["index.html", "files/manual.pdf", "logo"], store_binary=True)

    report = run(make_config(site), archive, workers=1).sites[0]

    got = by_url(report)
    assert got[url + "files/manual.pdf"][0] is PageStatus.ADDED and got[url + "logo"][0] is PageStatus.ADDED
    assert (archive.path / "docs/files/manual.pdf").read_bytes() == pdf
    assert (archive.path / "docs/logo.bin").read_bytes() == b"\x89PNG\r\n\x1a\n\x00\x00"
    assert tracked(archive) == {"docs/index.md", "docs/files/manual.pdf", "docs/logo.bin"}
    # unchanged next time: a conditional request, no commit; a new version is a change
    docs_server.request_headers.clear()
    assert run(make_config(site), archive, workers=1).sites[0].commit is None
    assert any(p == "/files/manual.pdf" and "If-None-Match" in h for p, h in docs_server.request_headers)
    docs_server.set_page("/files/manual.pdf", pdf + b"%%EOF\n", "application/pdf")
    again = run(make_config(site), archive, workers=1).sites[0]
    assert by_url(again)[url + "files/manual.pdf"][0] is PageStatus.CHANGED
    assert (archive.path / "docs/files/manual.pdf").read_bytes().endswith(b"%%EOF\n")


def test_invalid_json_is_stored_as_text_and_reported(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    docs_server.set_page("/api/broken.json", b'{"name": "widget",\r\n "tags": [1, 2,]\r\n', "application/json")

    report = run(make_config(make(url, ["index.html", "api/broken.json"])), archive, workers=1).sites[0]

    status, note = by_url(report)[url + "api/broken.json"]
    assert status is PageStatus.ADDED
    assert note is not None and "invalid JSON" in note and "stored as text" in note
    assert not report.failed and report.error is None
    assert (archive.path / "docs/api/broken.json").read_bytes() == b'{"name": "widget",\n "tags": [1, 2,]\n'


def test_invalid_json_survives_a_rerender(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    docs_server.set_page("/api/broken.json", b'{"name": "widget",', "application/json")
    run(make_config(make(url, ["index.html", "api/broken.json"])), archive, workers=1)
    stricter = make_config(make(url, ["index.html", "api/broken.json"], strip=["img"]))

    report = rerender(archive, stricter.sites[0])

    assert report.commit is not None  # index.md lost its image
    assert not report.failed, [r for r in report.results if r.status is PageStatus.FAILED]
    assert (archive.path / "docs/api/broken.json").read_text() == '{"name": "widget",\n'


# --- prefer_markdown ----------------------------------------------------------------------------


TWIN = b"# Authentication\n\nSend the `api_key` parameter.\n\n```bash\ncurl -H 'Key: x' /v1\n```\n"


def test_prefer_markdown_stores_the_twin_of_a_directory_url(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    docs_server.set_page("/guide/index.md", TWIN, "text/markdown; charset=utf-8")
    site = make(url, ["guide/"], prefer_markdown=True)

    report = run(make_config(site), archive, workers=1).sites[0]

    assert by_url(report) == {url + "guide/": (PageStatus.ADDED, None)}
    assert tracked(archive) == {"docs/guide/index.md"}
    assert (archive.path / "docs/guide/index.md").read_bytes() == TWIN
    assert "/guide/" not in docs_server.hits  # the twin was enough
    assert StateStore(archive.state_dir).load("docs").pages[url + "guide/"].twin


def test_prefer_markdown_stores_the_twin_under_the_page_path(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    docs_server.set_page("/guide/auth.html.md", TWIN, "text/markdown; charset=utf-8")
    site = make(url, ["guide/auth.html"], prefer_markdown=True)

    report = run(make_config(site), archive, workers=1).sites[0]

    assert by_url(report) == {url + "guide/auth.html": (PageStatus.ADDED, None)}
    assert tracked(archive) == {"docs/guide/auth.md"}
    assert (archive.path / "docs/guide/auth.md").read_bytes() == TWIN
    assert "/guide/auth.html" not in docs_server.hits
    # (worker.process_page once passed the twin's URL on as a redirect target: guide/auth.html.md)
    again = run(make_config(site), archive, workers=1).sites[0]
    assert again.commit is None and by_url(again)[url + "guide/auth.html"] == (PageStatus.UNCHANGED, None)
    assert tracked(archive) == {"docs/guide/auth.md"}


def test_prefer_markdown_falls_back_to_the_html_page(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    # guide/index.md is not there (404); an SPA answers every path with its app shell, as HTML or
    # even as text/plain: none of that is a twin
    spa = b"<!doctype html><html><head><title>App</title></head><body><div id='root'></div></body></html>"
    docs_server.set_page("/index.html.md", spa, "text/html")
    docs_server.set_page("/reference/api.html.md", b"  \n" + spa, "text/plain")
    site = make(url, ["guide/", "index.html", "reference/api.html"], prefer_markdown=True)

    report = run(make_config(site), archive, workers=1).sites[0]

    assert {s for s, _ in by_url(report).values()} == {PageStatus.ADDED}
    assert tracked(archive) == {"docs/guide/index.md", "docs/index.md", "docs/reference/api.md"}
    files = archive.path / "docs"
    guide = (files / "guide/index.md").read_text()
    assert guide.startswith(f'---\ntitle: "Guide"\nsource: {url}guide/\n---\n') and "1. Install" in guide
    index = (files / "index.md").read_text()
    assert "TestDocs documents the *Widget* service" in index and "App" not in index
    api = (files / "reference/api.md").read_text()
    assert api.startswith('---\ntitle: "API"\n') and "| `limit` | int |" in api
    for twin in ("/guide/index.md", "/index.html.md", "/reference/api.html.md"):
        assert docs_server.hits[twin] == 1, twin
    assert not any(p.twin for p in StateStore(archive.state_dir).load("docs").pages.values())


# --- ignore rules -------------------------------------------------------------------------------


def noisy(updated: str, build: str, votes: int, news: str = "Widgets now spin.") -> bytes:
    return html_page(
        f"<h1>Release notes</h1><p>{news}</p><p>Last updated: {updated}</p>"
        f"<p>Built from build {build} of the docs.</p>"
        f"<div class='rating'>Was this page helpful? {votes} people said yes</div>",
        title="Release notes",
    )


def test_ignore_rules_keep_noise_out_of_files_and_commits(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    site = make(
        url,
        ["news.html"],
        ignore={"lines": ["^Last updated: .*$"], "mask": ["build [0-9a-f]{7,}"], "selectors": [".rating"]},
    )
    config = make_config(site)
    v1 = noisy("2026-01-01", "1a2b3c4d", 12)
    # without the rules all three bits would be in the file
    plain = to_markdown(v1, "text/html", url + "news.html", DEFAULT_RULES)
    assert "Last updated: 2026-01-01" in plain and "build 1a2b3c4d" in plain and "12 people" in plain
    docs_server.set_page("/news.html", v1)

    run(config, archive, workers=1)

    text = (archive.path / "docs/news.md").read_text()
    assert "Widgets now spin." in text
    assert "Last updated" not in text
    assert "Built from … of the docs." in text and "1a2b3c4d" not in text
    assert "Was this page helpful" not in text
    head = git(archive.path, "rev-parse", "HEAD")

    docs_server.set_page("/news.html", noisy("2026-02-02", "9f8e7d6c5b", 15))
    report = run(config, archive, workers=1).sites[0]
    assert by_url(report)[url + "news.html"][0] is PageStatus.UNCHANGED
    assert report.commit is None and git(archive.path, "rev-parse", "HEAD") == head

    # a real change still is one
    docs_server.set_page("/news.html", noisy("2026-03-03", "0123abcd", 20, news="Widgets now spin faster."))
    report = run(config, archive, workers=1).sites[0]
    assert by_url(report)[url + "news.html"][0] is PageStatus.CHANGED
    patch = git(archive.path, "show", "--format=", "HEAD")
    assert "-Widgets now spin." in patch and "+Widgets now spin faster." in patch
    assert "Last updated" not in patch and "build" not in patch.replace("Built from", "")


def test_ignore_rules_apply_to_text_pages_too(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    site = make(url, ["CHANGES.txt"], ignore={"lines": ["^Generated at "], "mask": ["rev [0-9a-f]{7,}"]})
    docs_server.set_page("/CHANGES.txt", b"Changes\nGenerated at 10:00\n- fix rev abcdef12\n", "text/plain")
    run(make_config(site), archive, workers=1)
    assert (archive.path / "docs/CHANGES.txt").read_text() == "Changes\n- fix …\n"
    docs_server.set_page("/CHANGES.txt", b"Changes\nGenerated at 11:30\n- fix rev 99998888\n", "text/plain")
    assert run(make_config(site), archive, workers=1).sites[0].commit is None


# --- generator presets --------------------------------------------------------------------------

SPHINX_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8" />
<meta name="generator" content="Docutils 0.20.1: https://docutils.sourceforge.io/" />
<title>Configuration &#8212; Widget 3.2.1 documentation</title>
<script src="_static/documentation_options.js?v=1"></script><script src="_static/doctools.js?v=9a2dae69"></script>
</head><body>
<div class="related" role="navigation" aria-label="Related">
  <h3>Navigation</h3><ul><li class="right"><a href="genindex.html">index</a></li>
  <li class="right"><a href="api.html">next</a> |</li>
  <li><a href="index.html">Widget 3.2.1 documentation</a> &#187;</li></ul>
</div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main">
  <section id="configuration"><h1>Configuration<a class="headerlink" href="#configuration">\xc2\xb6</a></h1>
  <p>Set <code class="docutils literal notranslate"><span class="pre">WIDGET_HOME</span></code> before starting.</p>
  <div class="highlight-python notranslate"><div class="highlight"><pre>import widget
widget.start()</pre></div></div>
  </section>
</div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="Main">
  <h3>Quick search</h3><form class="search"><input type="text" name="q" /></form>
  <h3>This Page</h3><ul><li><a href="_sources/config.rst.txt">Show Source</a></li></ul>
</div></div>
<div class="related bottom" role="navigation"><ul><li><a href="api.html">API reference</a></li></ul></div>
<div class="footer">&#169; Copyright 2026. Created using <a href="https://www.sphinx-doc.org/">Sphinx</a> 7.2.6.</div>
</body></html>"""

MKDOCS_PAGE = b"""<!doctype html>
<html lang="en" class="no-js"><head><meta charset="utf-8">
<meta name="generator" content="mkdocs-1.5.3, mkdocs-material-9.5.3">
<title>Install - Widget Docs</title></head>
<body dir="ltr">
<header class="md-header"><div class="md-header__title">Widget Docs</div></header>
<div class="md-container"><main class="md-main"><div class="md-main__inner md-grid">
<div class="md-sidebar md-sidebar--primary"><nav class="md-nav">Sidebar Table</nav></div>
<div class="md-content" data-md-component="content">
<article class="md-content__inner md-typeset">
  <a href="https://github.com/w/w/edit/main/docs/install.md" title="Edit this page"
     class="md-content__button md-icon">Edit this page</a>
  <h1 id="install">Install<a class="headerlink" href="#install" title="Permanent link">&para;</a></h1>
  <p>Run <code>pip install widget</code> in a fresh virtual environment.</p>
  <aside class="md-source-file"><span class="md-source-file__fact">Last update: January 5, 2026</span></aside>
</article></div></div></main>
<footer class="md-footer"><nav class="md-footer__inner">Previous Home Next Usage</nav>
<div class="md-copyright">Made with Material for MkDocs</div></footer></div>
</body></html>"""

DOCUSAURUS_PAGE = b"""<!doctype html>
<html lang="en" dir="ltr"><head><meta charset="UTF-8">
<meta name="generator" content="Docusaurus v3.1.0">
<title>Quick start | Widget</title></head>
<body class="navigation-with-keyboard"><div id="__docusaurus">
<nav class="navbar">Widget Docs Blog GitHub</nav>
<div class="main-wrapper"><div class="docsWrapper"><div class="docRoot">
<aside class="theme-doc-sidebar-container"><div>Docs sidebar Intro Quick start</div></aside>
<main class="docMainContainer"><div class="container"><div class="row"><div class="col docItemCol">
<div class="docItemContainer"><article>
  <nav class="theme-doc-breadcrumbs" aria-label="Breadcrumbs">Home / Quick start</nav>
  <span class="theme-doc-version-badge badge badge--secondary">Version: 2.x</span>
  <div class="theme-doc-markdown markdown"><header><h1>Quick start</h1></header>
    <p>Create a widget with <code>widget new</code>.</p></div>
  <div class="theme-doc-footer-edit-meta-row row">
    <div class="col"><a href="https://github.com/w/w/edit/main/docs/start.md"
      class="theme-edit-this-page">Edit this page</a></div>
    <div class="col"><span class="theme-last-updated">Last updated on Jan 5, 2026</span></div>
  </div>
</article>
<nav class="pagination-nav docusaurus-mt-lg" aria-label="Docs pages">
  <a class="pagination-nav__link pagination-nav__link--prev" href="/docs/intro">Previous Intro</a>
  <a class="pagination-nav__link pagination-nav__link--next" href="/docs/usage">Next Usage</a></nav>
</div></div></div></div></main></div></div>
<footer class="footer">Copyright 2026 Widget. Built with Docusaurus.</footer></div>
</body></html>"""


def body_of(markdown: str) -> str:
    """The Markdown after the front matter."""
    return markdown.split("\n---\n", 1)[1]


def test_sphinx_preset_keeps_only_the_body() -> None:
    out = to_markdown(SPHINX_PAGE, "text/html", "https://d.example/config.html", DEFAULT_RULES)

    assert out.startswith('---\ntitle: "Configuration"\n')
    assert body_of(out) == (
        "\n# Configuration\n\nSet `WIDGET_HOME` before starting.\n\n```python\nimport widget\nwidget.start()\n```\n"
    )


def test_mkdocs_material_preset_keeps_the_article_without_edit_button_and_last_update() -> None:
    out = to_markdown(MKDOCS_PAGE, "text/html", "https://d.example/install/", DEFAULT_RULES)

    assert body_of(out) == "\n# Install\n\nRun `pip install widget` in a fresh virtual environment.\n"


def test_docusaurus_preset_keeps_the_doc_markdown_only() -> None:
    out = to_markdown(DOCUSAURUS_PAGE, "text/html", "https://d.example/docs/start", DEFAULT_RULES)

    assert body_of(out) == "\n# Quick start\n\nCreate a widget with `widget new`.\n"


@pytest.mark.parametrize(
    ("page", "chrome"),
    [
        (MKDOCS_PAGE, ["Edit this page", "Last update: January 5, 2026"]),
        (DOCUSAURUS_PAGE, ["Version: 2.x", "Edit this page", "Last updated on Jan 5, 2026"]),
    ],
    ids=["mkdocs", "docusaurus"],
)
def test_generator_defaults_false_turns_the_presets_off(page: bytes, chrome: list[str]) -> None:
    with_presets = to_markdown(page, "text/html", "https://d.example/p", DEFAULT_RULES)
    without = to_markdown(page, "text/html", "https://d.example/p", NO_PRESET_RULES)

    for text in chrome:
        assert text not in with_presets
        assert text in without


def test_generator_defaults_false_through_the_pipeline(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    docs_server.set_page("/install.html", MKDOCS_PAGE)
    run(make_config(make(url, ["install.html"])), archive, workers=1)
    assert "Last update" not in (archive.path / "docs/install.md").read_text()

    report = run(make_config(make(url, ["install.html"], generator_defaults=False)), archive, workers=1).sites[0]

    assert report.rules_commit is not None  # the change of rules is its own commit
    assert "Last update: January 5, 2026" in (archive.path / "docs/install.md").read_text()


# --- refusing what is not the page --------------------------------------------------------------


CHALLENGE = (
    b"<!DOCTYPE html><html lang='en-US'><head><title>Just a moment...</title>"
    b"<meta http-equiv='refresh' content='390'></head><body><div class='main-wrapper'>"
    b"<h1>docs.example.com</h1><h2>Checking if the site connection is secure</h2>"
    b"<p>docs.example.com needs to review the security of your connection before proceeding.</p>"
    b"</div></body></html>"
)
LOGIN_WALL = html_page(
    "<h1>Sign in</h1><form action='/login' method='post'><label>Email <input type='email' name='user'></label>"
    "<label>Password <input type='password' name='password'></label><button>Sign in</button></form>"
    "<p><a href='/reset'>Forgot your password?</a></p>",
    title="Sign in",
)


def test_bot_challenge_and_login_wall_fail_and_keep_the_snapshot(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    url = docs_server.url
    pages = ["index.html", "guide/auth.html", "reference/api.html", "members.html"]
    config = make_config(make(url, pages))
    docs_server.set_page("/members.html", LOGIN_WALL)  # a login wall from the start: nothing stored

    first = run(config, archive, workers=1).sites[0]

    status, error = by_url(first)[url + "members.html"]
    assert status is PageStatus.FAILED and error is not None and "login" in error
    assert not (archive.path / "docs/members.md").exists()
    before = {p: (archive.path / "docs" / p).read_bytes() for p in ("index.md", "guide/auth.md", "reference/api.md")}
    head = git(archive.path, "rev-parse", "HEAD")

    docs_server.set_page("/index.html", CHALLENGE)
    docs_server.set_page("/guide/auth.html", LOGIN_WALL)
    # Cloudflare's header on an otherwise ordinary-looking 200
    docs_server.set_page(
        "/reference/api.html", html_page("<h1>API</h1><p>Please wait…</p>"), **{"cf-mitigated": "challenge"}
    )
    report = run(config, archive, workers=1).sites[0]

    got = by_url(report)
    assert got[url + "index.html"][0] is PageStatus.FAILED and "bot challenge" in (got[url + "index.html"][1] or "")
    assert got[url + "guide/auth.html"][0] is PageStatus.FAILED and "login" in (got[url + "guide/auth.html"][1] or "")
    assert got[url + "reference/api.html"][0] is PageStatus.FAILED
    assert "challenge" in (got[url + "reference/api.html"][1] or "")
    assert report.failed and report.commit is None and git(archive.path, "rev-parse", "HEAD") == head
    assert {p: (archive.path / "docs" / p).read_bytes() for p in before} == before
    state = StateStore(archive.state_dir).load("docs").pages
    assert state[url + "index.html"].failures == 1 and state[url + "members.html"].failures == 2


def test_page_coming_back_nearly_empty_fails_and_keeps_the_snapshot(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    url = docs_server.url
    config = make_config(make(url, ["reference/api.html", "search.html"]))
    search = "<h1>Search</h1><div id='results'></div><script>var nonce='{}';</script>"
    docs_server.set_page("/reference/api.html", html_page(f"<h1>API reference</h1><p>{LONG_TEXT}</p>"))
    docs_server.set_page("/search.html", html_page(search.format("aaa"), head="<script src='s.js'></script>"))
    first = run(config, archive, workers=1).sites[0]
    assert {s for s, _ in by_url(first).values()} == {PageStatus.ADDED}
    before = (archive.path / "docs/reference/api.md").read_bytes()

    docs_server.set_page("/reference/api.html", html_page("<h1>API reference</h1><div id='app'></div>"))
    docs_server.set_page("/search.html", html_page(search.format("bbb")))
    report = run(config, archive, workers=1).sites[0]

    status, error = by_url(report)[url + "reference/api.html"]
    assert status is PageStatus.FAILED and error is not None and "empty" in error
    assert (archive.path / "docs/reference/api.md").read_bytes() == before
    assert by_url(report)[url + "search.html"] == (PageStatus.UNCHANGED, None)  # always nearly empty: fine
    assert report.commit is None

    # a page that merely gets shorter is a change, not a refusal
    docs_server.set_page("/reference/api.html", html_page(f"<h1>API reference</h1><p>{LONG_TEXT[:120]}</p>"))
    shorter = run(config, archive, workers=1).sites[0]
    assert by_url(shorter)[url + "reference/api.html"][0] is PageStatus.CHANGED


# --- archiver rerender --------------------------------------------------------------------------


def test_rerender_command_applies_new_rules_without_fetching(
    docs_server: FaultServer, tmp_path: Path, cli: CliRunner
) -> None:
    url = docs_server.url
    config = tmp_path / "sites.yaml"
    site_yaml = (
        f"sites:\n  - name: docs\n    base_url: {url}\n    pages: [index.html, guide/auth.html]\n    retries: 0\n"
    )
    config.write_text(site_yaml)
    repo = ArchiveRepo.open_or_init(tmp_path / "archive-repo")
    run(load_config(config), repo, workers=1)
    assert "![logo]" in (repo.path / "docs/index.md").read_text()
    auth_before = (repo.path / "docs/guide/auth.md").read_bytes()
    config.write_text(site_yaml + "    strip: [img]\n")
    hits = dict(docs_server.hits)
    args = ["rerender", "docs", "--config", str(config), "--repo", str(repo.path)]

    result = cli.invoke(app, args, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert commit_count(repo.path) == 2
    message = git(repo.path, "log", "-1", "--format=%B")
    assert message.startswith("docs: re-rendered under new rules, 1 page changed (+0 −")
    assert "Change-Kind: rules" in message
    assert git(repo.path, "show", "--name-only", "--format=", "HEAD").split() == ["docs/index.md"]
    assert "![logo]" not in (repo.path / "docs/index.md").read_text()
    assert (repo.path / "docs/guide/auth.md").read_bytes() == auth_before
    assert docs_server.hits == hits  # nothing fetched

    again = cli.invoke(app, args, catch_exceptions=False)
    assert again.exit_code == 0 and commit_count(repo.path) == 2
    assert "nothing changed" in again.output
    # and the next run knows the rules were applied already: no second rules commit
    after = run(load_config(config), repo, workers=1).sites[0]
    assert after.rules_commit is None and after.commit is None and commit_count(repo.path) == 2
