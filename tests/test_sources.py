"""Issue 14, item 1: each page from its best source, the Markdown a site publishes for it (a
``<url>.md`` twin, a ``rel="alternate"`` link, ``Accept: text/markdown``) or its HTML; a switch of
source is its own ``Change-Kind: rules`` commit; a twin that fails never flips a page back and forth.

End to end through ``pipeline.run`` against a loopback server and a git repository in tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import V1_PAGES, FaultServer, commit_count, git, make_config, make_site
from typer.testing import CliRunner

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import StateStore
from archiver.cli import app
from archiver.models import PageStatus, SiteReport
from archiver.run.pipeline import run

PAGES = ["a.html", "b.html", "c.html"]
TWINS = {
    "a": b"# Alpha\n\nThe `limit` parameter defaults to **100**.\n\n```python\ndef f():\n    return 1\n```\n",
    "b": b'# Beta\n\n- one\n- two\n\n<Tabs>\n  <Tab label="py">MDX stays as written</Tab>\n</Tabs>\n',
    "c": b"# Gamma\n\n| key | value |\n| --- | --- |\n| rate | 10/s |\n",
}


def html(title: str, text: str, head: str = "") -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title>{head}</head><body><nav><a href='/'>Home</a></nav>"
        f"<main><h1>{title}</h1><p>{text}</p></main></body></html>"
    ).encode()


def serve_html(server: FaultServer, head: str = "") -> None:
    for name in TWINS:
        server.set_page(f"/{name}.html", html(name.upper(), f"The rendered page {name}.", head.format(name=name)))


def serve_twins(server: FaultServer, where: str = "/{name}.html.md") -> None:
    for name, text in TWINS.items():
        server.set_page(where.format(name=name), text, "text/markdown; charset=utf-8")


def go(server: FaultServer, archive: ArchiveRepo, **fields: object) -> SiteReport:
    site = make_site(server.url, PAGES, **fields)
    return run(make_config(site), archive, workers=1).sites[0]


def archived(archive: ArchiveRepo, name: str) -> bytes:
    return (archive.path / "docs" / f"{name}.md").read_bytes()


def source_state(archive: ArchiveRepo) -> dict[str, object]:
    return StateStore(archive.state_dir).load("docs").source


def md_hits(server: FaultServer) -> int:
    return sum(n for path, n in server.hits.items() if path.endswith(".md"))


def test_auto_archives_the_markdown_twins_verbatim(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    serve_html(docs_server)
    serve_twins(docs_server)

    first = go(docs_server, archive)

    assert first.commit and {r.status for r in first.results} == {PageStatus.ADDED}
    for name, text in TWINS.items():
        assert archived(archive, name) == text  # the author's Markdown, byte for byte
    assert source_state(archive)["mode"] == "markdown" and source_state(archive)["how"] == "suffix"
    pages = StateStore(archive.state_dir).load("docs").pages
    assert all(
        p.twin and p.twin_url == docs_server.url + f"{n}.html.md" for n, p in zip("abc", pages.values(), strict=True)
    )
    html_hits = sum(docs_server.hits.get(f"/{n}.html", 0) for n in TWINS)

    again = go(docs_server, archive)

    assert again.commit is None and again.rules_commit is None
    assert {r.status for r in again.results} == {PageStatus.UNCHANGED}
    assert sum(docs_server.hits.get(f"/{n}.html", 0) for n in TWINS) == html_hits  # no HTML asked again


def test_auto_follows_the_pages_link_to_its_markdown(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    serve_html(docs_server, '<link rel="alternate" type="text/markdown" href="/raw/{name}.md">')
    serve_twins(docs_server, "/raw/{name}.md")

    first = go(docs_server, archive)  # the links are only seen in the HTML this run converts ...

    assert first.commit and b"The rendered page a." in archived(archive, "a")

    switch = go(docs_server, archive)  # ... so the next run switches, as a change of source

    assert switch.commit is None and switch.rules_commit
    for name, text in TWINS.items():
        assert archived(archive, name) == text
    assert source_state(archive)["how"] == "link"
    before = dict(docs_server.hits)

    again = go(docs_server, archive)

    assert again.commit is None and again.rules_commit is None
    for name in TWINS:  # the twin's own URL is remembered: its HTML is not read again
        assert docs_server.hits.get(f"/{name}.html", 0) == before.get(f"/{name}.html", 0)
        assert docs_server.hits[f"/raw/{name}.md"] == before[f"/raw/{name}.md"] + 1


def test_auto_negotiates_accept_text_markdown(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    for name, text in TWINS.items():
        docs_server.negotiated[f"/{name}.html"] = (html(name, "rendered"), text)

    first = go(docs_server, archive)

    assert first.commit
    for name, text in TWINS.items():
        assert archived(archive, name) == text
    assert source_state(archive)["how"] == "accept"
    asked = [h.get("Accept") for p, h in docs_server.request_headers if p == "/a.html"]
    assert asked == ["text/markdown"]  # (the probe was a HEAD: the page itself came once)
    assert go(docs_server, archive).commit is None


def test_a_plain_html_site_costs_a_few_probes_once(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    site = make_site(docs_server.url, V1_PAGES)

    first = run(make_config(site), archive, workers=1).sites[0]

    assert first.commit and not first.failed
    text = (archive.path / "docs/index.md").read_text()
    assert text.startswith("---\ntitle:") and "TestDocs documents" in text
    assert source_state(archive)["mode"] == "html"
    assert md_hits(docs_server) <= 3 and len(docs_server.heads) <= 3  # <url>.md and a HEAD per sample
    assert all(n == 1 for p, n in docs_server.hits.items() if not p.endswith(".md"))  # no page asked twice
    probes = md_hits(docs_server), len(docs_server.heads)

    again = run(make_config(site), archive, workers=1).sites[0]

    assert again.commit is None
    assert (md_hits(docs_server), len(docs_server.heads)) == probes  # remembered until revalidate_after


def test_switching_a_site_to_its_markdown_is_a_rules_commit(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    serve_html(docs_server)
    serve_twins(docs_server)
    assert go(docs_server, archive, source="html").commit
    assert b"The rendered page a." in archived(archive, "a")

    switch = go(docs_server, archive)  # source: auto (the default) finds the twins

    assert switch.commit is None  # no docs change ...
    assert switch.rules_commit  # ... one change of source
    message = git(archive.path, "log", "-1", "--format=%B")
    assert "docs: now archived from its Markdown source, 3 pages changed" in message
    assert "Change-Kind: rules" in message
    for name, text in TWINS.items():
        assert archived(archive, name) == text
    assert commit_count(archive.path) == 2
    again = go(docs_server, archive)
    assert again.commit is None and again.rules_commit is None


def test_source_html_back_again_is_a_rules_commit(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    serve_html(docs_server)
    serve_twins(docs_server)
    go(docs_server, archive)

    back = go(docs_server, archive, source="html")

    assert back.commit is None and back.rules_commit
    assert "now archived from its HTML" in git(archive.path, "log", "-1", "--format=%s")
    assert b"The rendered page a." in archived(archive, "a")


@pytest.mark.parametrize("bad", ["404", "html"])
def test_a_page_without_a_good_twin_is_archived_from_html_and_stays(
    docs_server: FaultServer, archive: ArchiveRepo, bad: str
) -> None:
    serve_html(docs_server)
    serve_twins(docs_server)
    if bad == "404":
        docs_server.set_page("/c.html.md", b"not here", "text/plain", 404)
    else:  # an app that answers every path with its HTML
        docs_server.set_page("/c.html.md", html("App", "shell"), "text/html")

    first = go(docs_server, archive)

    assert archived(archive, "a") == TWINS["a"]
    assert b"The rendered page c." in archived(archive, "c")
    asked = docs_server.hits["/c.html.md"]

    for _ in range(2):
        again = go(docs_server, archive)
        assert again.commit is None and again.rules_commit is None
    assert docs_server.hits["/c.html.md"] == asked  # known to have none: not asked every run
    assert first.commit


def test_a_twin_that_fails_for_a_while_keeps_the_snapshot(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    serve_html(docs_server)
    serve_twins(docs_server)
    go(docs_server, archive)
    docs_server.set_page("/b.html.md", b"busy", "text/plain", 503)

    failing = go(docs_server, archive)

    assert failing.commit is None and failing.rules_commit is None  # never flipped to the HTML
    assert {r.url: r.status for r in failing.results}[docs_server.url + "b.html"] is PageStatus.FAILED
    assert archived(archive, "b") == TWINS["b"]
    serve_twins(docs_server)
    back = go(docs_server, archive)
    assert back.commit is None and back.rules_commit is None and not back.failed


def test_a_twin_gone_for_good_moves_the_page_to_its_html_as_a_rules_commit(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    serve_html(docs_server)
    serve_twins(docs_server)
    go(docs_server, archive)
    docs_server.set_page("/b.html.md", b"gone", "text/plain", 404)

    moved = go(docs_server, archive)

    assert moved.commit is None and moved.rules_commit
    assert b"The rendered page b." in archived(archive, "b")
    assert "Change-Kind: rules" in git(archive.path, "log", "-1", "--format=%B")
    assert go(docs_server, archive).rules_commit is None


def test_pages_command_says_each_pages_source(docs_server: FaultServer, archive: ArchiveRepo, tmp_path: Path) -> None:
    serve_html(docs_server)
    serve_twins(docs_server)
    docs_server.set_page("/c.html.md", b"", "text/plain", 404)
    site = make_site(docs_server.url, PAGES)
    run(make_config(site), archive, workers=1)
    config = tmp_path / "sites.yaml"
    config.write_text(f"sites:\n  - name: docs\n    base_url: {docs_server.url}\n    pages: [{', '.join(PAGES)}]\n")

    result = CliRunner().invoke(app, ["pages", "docs", "--config", str(config), "--repo", str(archive.path)])

    assert result.exit_code == 0, result.output
    lines = {line.split("\t")[0]: line.split("\t")[1:] for line in result.stdout.splitlines()}
    assert lines[docs_server.url + "a.html"] == ["docs/a.md", f"markdown {docs_server.url}a.html.md"]
    assert lines[docs_server.url + "c.html"] == ["docs/c.md", "html"]
    assert "3 pages, 2 from their Markdown source (the site publishes it: <page>.md)" in result.stderr
