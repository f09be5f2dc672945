"""The static changes site and the feeds: checked against git, for escaping, structure and accessibility."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import lxml.html
import pytest
from helpers import AUTH_V3, AUTH_V4, DATA, V1_PAGES, Built, FaultServer, build, git, make_config, make_site, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from archiver.archive.repo import ArchiveRepo
from archiver.cli import app
from archiver.report.build import anchor, build_report
from archiver.report.htmlpage import CSS, PALETTE
from archiver.report.markdown import render_markdown
from archiver.report.sitedata import slug as _slug

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with pytest.MonkeyPatch.context() as mp, FaultServer(DATA / "site_v1") as server:
        yield build(tmp_path_factory.mktemp("report"), server, mp)


@pytest.fixture(scope="module")
def site(built: Built) -> Path:
    out = built.repo.parent / "site"
    result = build_report(built.repo, out, web_url="https://git.example/c/{sha}")
    assert (result.sites, result.snapshots, result.rendered) == (2, 5, 5)
    return out


def html_files(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def test_a_page_per_snapshot_with_gits_files_and_line_numbers(built: Built, site: Path) -> None:
    for name, count in (("docs", 4), ("other", 1)):
        shas = git(built.repo, "log", "--format=%H", "--", f"{name}/").split()
        assert len(shas) == count
        assert {p.stem for p in (site / name / "snap").glob("*.html")} == set(shas)
    index = lxml.html.parse(str(site / "index.html")).getroot()
    rows = index.cssselect("tbody tr")
    assert [tr.cssselect("a.site")[0].text for tr in rows] == ["docs", "other"]
    for tr, name in zip(rows, ("docs", "other"), strict=True):
        live = git(built.repo, "ls-tree", "-r", "--name-only", "HEAD", f"{name}/").split()
        assert tr.cssselect("td.num")[0].text == str(len(live))  # pages now, not snapshots
        assert tr.cssselect("a.url")[0].get("href") == built.url  # the Source: trailer of its newest commit
        shas = git(built.repo, "log", "--format=%H", "--", f"{name}/").split()
        # last change: the newest snapshot, by its subject without the site's name
        last = tr.findall("td")[2].cssselect("a")[0]
        assert last.get("href") == f"{name}/snap/{shas[0]}.html"
        subject = git(built.repo, "log", "-1", "--format=%s", shas[0]).strip()
        assert last.text == re.sub(r" \(\+\d+ −\d+\)$", "", subject.removeprefix(f"{name}: "))
        # the strip of recent snapshots: one bar per snapshot, oldest first
        assert [a.get("href") for a in tr.cssselect(".spark a")] == [f"{name}/snap/{s}.html" for s in reversed(shas)]

    sha = built.docs[3]
    doc = lxml.html.parse(str(site / "docs" / "snap" / f"{sha}.html")).getroot()
    files = [a.text_content() for a in doc.cssselect("table.list tbody td:first-child a")]
    assert files == [p.removeprefix("docs/") for p in git(built.repo, "show", "--name-only", "--format=", sha).split()]
    # the gutters hold git's line numbers: compare with the hunks of git show -U0
    hunks = re.findall(
        r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", git(built.repo, "show", "-U0", "--format=", sha), re.M
    )
    section = doc.get_element_by_id(anchor("docs/guide/auth.md")).getparent()
    added = [int(tr.findall("td")[1].text) for tr in section.cssselect("tr.add")]
    removed = [int(tr.findall("td")[0].text) for tr in section.cssselect("tr.del")]
    assert sorted(added) == sorted(int(new) for _, new in hunks)
    assert sorted(removed) == sorted(int(old) for old, _ in hunks)
    assert [i.text for i in section.cssselect("tr.add ins")] == [", limit=5", "has ", " or was revoked"]
    assert [d.text for d in section.cssselect("tr.del del")] == []  # nothing removed inside those lines
    folds = section.cssselect("details.fold summary")
    assert folds and folds[0].text.startswith("37 unchanged lines")  # context collapsed, not dropped
    assert f"{built.url}guide/auth.html" in [a.get("href") for a in section.cssselect("a")]
    row = doc.cssselect("table.list tbody tr")[0]
    assert [li.text for li in row.cssselect("ul.sections li")] == ["Examples", "Errors"]  # no "##"
    assert doc.cssselect(f'a[href="https://git.example/c/{sha}"]')


def test_archived_markup_is_escaped_never_rendered(built: Built, site: Path) -> None:
    for path in html_files(site):
        text = path.read_text()
        assert not re.search(r"<\s*script", text, re.I), path
        assert "<b>markup" not in text
    page = (site / "docs" / "snap" / f"{built.docs[2]}.html").read_text()
    assert "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in page
    text = lxml.html.fromstring(page).text_content()
    assert 'Never paste a <script>alert("xss")</script> tag or <b>markup</b> & such here.' in text


def test_accessibility_basics_and_links_on_every_page(site: Path) -> None:
    ids_in: dict[Path, set[str]] = {}
    for path in html_files(site):
        doc = lxml.html.parse(str(path)).getroot()
        assert doc.get("lang") == "en", path
        levels = [int(h.tag[1]) for h in doc.iter("h1", "h2", "h3", "h4", "h5", "h6")]
        assert levels.count(1) == 1 and levels[0] == 1, path
        assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False)), (path, levels)
        assert not doc.cssselect("script") and doc.find(".//main") is not None
        for a in doc.iter("a"):
            href = a.get("href", "")
            assert a.text_content().strip(), (path, href)  # every link has a name
            if href.startswith(("http://", "https://")):
                continue
            target = urlsplit(href)
            assert not target.scheme and not href.startswith("/"), (path, href)  # relative: file:// and any host
            file = (path.parent / unquote(target.path)).resolve() if target.path else path
            assert file.is_file(), (path, href)
            if target.fragment:
                ids = ids_in.setdefault(file, set(lxml.html.parse(str(file)).getroot().xpath("//@id")))
                assert target.fragment in ids, (path, href)


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_every_text_colour_pair_meets_wcag_aa() -> None:
    for name, (fg, bg) in PALETTE.items():
        hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
        assert (hi + 0.05) / (lo + 0.05) >= 4.5, name
    text_colours = set(re.findall(r"(?<![-\w])color:(#[0-9a-f]{6})", CSS))
    assert text_colours <= {fg for fg, _ in PALETTE.values()}  # no text colour escapes the check


def test_feeds_have_an_entry_per_snapshot_linking_to_its_page(built: Built, site: Path) -> None:
    for feed, count in ((site / "feed.xml", 5), (site / "docs" / "feed.xml", 4)):
        root = ET.parse(feed).getroot()
        entries = root.findall(f"{ATOM}entry")
        assert len(entries) == count
        assert len({e.findtext(f"{ATOM}id") for e in entries}) == count
        assert all(e.findtext(f"{ATOM}id", "").startswith("urn:uuid:") for e in entries)
        for e in entries:
            link = e.find(f"{ATOM}link[@rel='alternate']")
            assert link is not None and (feed.parent / link.get("href", "")).is_file()
        dates = [e.findtext(f"{ATOM}updated", "") for e in entries]
        assert dates == sorted(dates, reverse=True)
    newest = ET.parse(site / "docs" / "feed.xml").getroot().findall(f"{ATOM}entry")[0]
    assert newest.findtext(f"{ATOM}title") == "docs: 1 page changed (+2 −2)"
    assert "changed guide/auth.md: ## Examples, ## Errors" in newest.findtext(f"{ATOM}summary", "")
    related = newest.find(f"{ATOM}link[@rel='related']")
    assert related is not None and related.get("href") == f"https://git.example/c/{built.docs[3]}"


def test_report_is_incremental(tmp_path: Path, docs_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = make_site(docs_server.url, name="docs")
    config, archive = make_config(docs), ArchiveRepo.open_or_init(tmp_path / "repo")
    snapshot(monkeypatch, config, archive, docs, "2026-06-01T10:00:00+00:00")
    out = tmp_path / "site"
    result = CliRunner().invoke(
        app, ["report", "--out", str(out), "--repo", str(archive.path), "--config", str(tmp_path / "none.yaml")]
    )
    assert result.exit_code == 0 and "1 site(s), 1 snapshot(s), 1 new page(s)" in result.stdout
    first = next((out / "docs" / "snap").glob("*.html"))
    assert build_report(archive.path, out).rendered == 0
    docs_server.set_page("/guide/auth.html", AUTH_V4.encode())
    sha = snapshot(monkeypatch, config, archive, docs, "2026-06-02T10:00:00+00:00")
    again = build_report(archive.path, out, base_url="https://docs-changes.example/")
    assert again.rendered == 1 and (out / "docs" / "snap" / f"{sha}.html").is_file()
    # the page before a new snapshot is written again, once: it gains its "next" link
    assert lxml.html.parse(str(first)).getroot().cssselect('a[rel="next"]')[0].get("href") == f"{sha}.html"
    stamps = {
        p: p.stat().st_mtime_ns for p in (out / "docs").rglob("*.html") if "/snap/" in str(p) or "/pages/" in str(p)
    }
    versions = [p for p in stamps if p.parent.parent.name == "pages"]
    assert len(versions) == 6  # five pages at first, one new version of guide/auth.md
    assert "2 snapshots ·" in (out / "docs" / "index.html").read_text()
    link = ET.parse(out / "feed.xml").getroot().find(f"{ATOM}entry/{ATOM}link")
    assert link is not None and link.get("href") == f"https://docs-changes.example/docs/snap/{sha}.html"

    docs_server.set_page("/guide/auth.html", AUTH_V3.encode())
    third = snapshot(monkeypatch, config, archive, docs, "2026-06-03T10:00:00+00:00")
    assert build_report(archive.path, out).rendered == 1
    kept = [p for p, stamp in stamps.items() if p.stat().st_mtime_ns == stamp]
    rewritten = sorted(set(stamps) - set(kept))
    histories = [p for p in stamps if p.parent.name == "pages"]  # rewritten every time
    assert rewritten == sorted([out / "docs" / "snap" / f"{sha}.html", *histories])
    assert not (set(versions) - set(kept))  # a version page is written once
    assert len(list((out / "docs" / "pages").glob("*/*.html"))) == 7  # AUTH_V3's version is new
    assert (out / "docs" / "snap" / f"{third}.html").is_file()
    assert build_report(archive.path, out, full=True).rendered == 3


def test_binary_and_huge_files_are_summarised_not_rendered(tmp_path: Path) -> None:
    repo = ArchiveRepo.open_or_init(tmp_path / "repo").path
    (repo / "docs").mkdir()
    (repo / "docs" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 4)
    (repo / "docs" / "huge.md").write_text("".join(f"line {n}\n" for n in range(6000)))
    (repo / "docs" / "small.md").write_text("---\nsource: javascript:alert(1)\n---\n\n# Small\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "docs: 3 pages changed")
    out = tmp_path / "site"
    build_report(repo, out)
    page = next((out / "docs" / "snap").glob("*.html")).read_text()
    assert "Binary file: not shown." in page
    assert "Large change (6000 lines added, 0 removed): not shown here" in page
    assert "line 5999" not in page and len(page) < 50_000
    assert 'href="javascript:' not in page  # a source: line is only a link if it is http(s)
    assert "# Small" in page


def _doc(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.parse(str(path)).getroot()


def test_site_timeline_has_a_day_strip_tidy_sections_and_removed_pages(built: Built, site: Path) -> None:
    doc = _doc(site / "docs" / "index.html")
    strip = doc.cssselect('nav[aria-label="Snapshots by day"] li')
    assert [li.text_content() for li in strip] == [
        "June 2026",
        "Fri 12 08:00",
        "Wed 10 12:00",
        "Fri 5 09:00",
        "Mon 1 10:00",
    ]
    assert [a.get("href") for a in doc.cssselect("ol.strip a")] == [f"snap/{s}.html" for s in reversed(built.docs)]
    assert doc.cssselect("p.meta a.url")[0].get("href") == built.url
    days = [h.text for h in doc.cssselect("h3")]
    assert days == ["Friday 12 June 2026", "Wednesday 10 June 2026", "Friday 5 June 2026", "Monday 1 June 2026"]
    entries = doc.cssselect("ol.timeline > li")
    first_files = git(built.repo, "show", "--name-only", "--format=", built.docs[0]).split()
    assert entries[-1].cssselect("p.head a")[0].text == f"first snapshot: {len(first_files)} pages"
    assert not entries[-1].cssselect("ul.pages")  # summarised, not 5 lines of "new page"
    assert [li.text for li in entries[1].cssselect("ul.sections li")] == [
        "Authentication",
        "Tokens",
        "Examples",
        "Errors",
    ]
    removal = [li.text_content() for li in entries[2].cssselect("ul.pages > li")]
    assert removal == ["guide/auth.md changed Authentication", "new.md added", "old.md removed HTTP 404"]

    live = git(built.repo, "ls-tree", "-r", "--name-only", "HEAD", "docs/").split()
    tables = doc.cssselect("table.list")
    assert [tr.cssselect("td a")[0].text for tr in tables[0].cssselect("tbody tr")] == [p[5:] for p in live]
    (gone,) = tables[1].cssselect("tbody tr")
    cells = {td.get("data-label"): td for td in gone.findall("td")}
    assert cells["Page"].text_content() == "old.md"
    assert cells["Removed"].text_content() == "Fri 5 Jun 2026 09:00 UTC"  # when, with the date
    assert cells["Removed"].cssselect("a")[0].get("href") == f"snap/{built.docs[1]}.html#{anchor('docs/old.md')}"
    assert cells["Why"].text_content() == "HTTP 404"  # why
    assert cells["Why"].cssselect(".why")[0].get("title") == "gone: HTTP 404"  # the run's own words

    for path in html_files(site):  # no Markdown syntax in any list of sections
        for ul in _doc(path).cssselect("ul.sections"):
            assert not re.search(r"#|`|\*\*", ul.text_content()), (path, ul.text_content())


def test_snapshot_pages_link_their_neighbours_and_say_why_a_page_went(built: Built, site: Path) -> None:
    shas = built.docs
    for i, sha in enumerate(shas):
        doc = _doc(site / "docs" / "snap" / f"{sha}.html")
        prev, nxt = doc.cssselect('a[rel="prev"]'), doc.cssselect('a[rel="next"]')
        assert [a.get("href") for a in prev] == ([f"{shas[i - 1]}.html"] if i > 0 else [])
        assert [a.get("href") for a in nxt] == ([f"{shas[i + 1]}.html"] if i + 1 < len(shas) else [])
    doc = _doc(site / "docs" / "snap" / f"{shas[1]}.html")
    assert doc.cssselect("h1")[0].text == "1 changed, 1 added, 1 removed"
    rows = {tr.findall("td")[0].text_content(): tr for tr in doc.cssselect("table.files tbody tr")}
    assert rows["old.md"].findall("td")[1].text_content() == "removed · HTTP 404"
    assert rows["new.md"].findall("td")[2].text_content() == "+8"  # no "−0" beside it
    assert rows["new.md"].findall("td")[3].text_content() == ""  # no "(new page)" section for a new page
    assert _doc(site / "docs" / "snap" / f"{shas[0]}.html").cssselect("h1")[0].text == "first snapshot: 5 pages"
    stats = [s.text_content() for path in html_files(site) for s in _doc(path).cssselect(".stat")]
    assert "+59" in stats and "+1 −1" in stats
    assert not [s for s in stats if re.search(r"[+−]0\b", s)]  # no +0 / −0 anywhere


def test_page_history_is_newest_first_with_each_version_as_it_was(built: Built, site: Path) -> None:
    auth = f"pages/{_slug('docs/guide/auth.md')}.html"
    doc = _doc(site / "docs" / auth)
    items = doc.cssselect("ol.versions > li")
    dates = git(built.repo, "log", "--format=%aI", "--", "docs/guide/auth.md").split()
    assert len(items) == len(dates) == 4
    assert [li.cssselect("p.head")[0].text.split(" UTC")[0] for li in items] == [
        "Fri 12 Jun 2026 08:00",
        "Wed 10 Jun 2026 12:00",
        "Fri 5 Jun 2026 09:00",
        "Mon 1 Jun 2026 10:00",
    ]
    assert [li.text for li in items[0].cssselect("ul.sections li")] == ["Examples", "Errors"]
    newest = items[0].cssselect("p.links a")[0]
    assert newest.text == "the page as it was"
    blob = git(built.repo, "rev-parse", f"{built.docs[3]}:docs/guide/auth.md").strip()
    assert newest.get("href") == f"{_slug('docs/guide/auth.md')}/{blob[:16]}.html"

    version = _doc(site / "docs" / "pages" / newest.get("href"))
    markdown = git(built.repo, "show", f"{built.docs[3]}:docs/guide/auth.md")
    assert version.cssselect("h1")[0].text == "Authentication"  # its title, not "# Authentication" again
    assert [h.text for h in version.cssselect("article h2")] == ["Tokens", "Examples", "Errors"]
    code = markdown.split("```python\n")[1].split("```")[0]
    assert version.cssselect("article pre code.language-python")[0].text == code.rstrip("\n")
    assert version.cssselect("article code")[0].text == "token"  # `token` is code, not backticks
    text = version.cssselect("article")[0].text_content()
    assert 'Never paste a <script>alert("xss")</script> tag or <b>markup</b> & such here.' in text
    assert "#" not in text.replace("# not a heading", "") and "`" not in text
    assert not version.cssselect("article script, article b")

    old = _doc(site / "docs" / f"pages/{_slug('docs/old.md')}.html")
    items = old.cssselect("ol.versions > li")
    assert items[0].cssselect("p")[1].text_content() == "Removed: HTTP 404."
    assert [a.text for a in items[0].cssselect("p.links a")] == ["the change"]  # nothing to show as it was
    assert [a.text for a in items[1].cssselect("p.links a")] == ["the page as it was", "the change"]
    assert "removed Fri 5 Jun 2026 (HTTP 404)" in old.cssselect("p.meta")[0].text_content()


def test_a_page_no_longer_listed_is_said_unlisted(
    tmp_path: Path, docs_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = ArchiveRepo.open_or_init(tmp_path / "repo")
    docs = make_site(docs_server.url, name="docs")
    snapshot(monkeypatch, make_config(docs), archive, docs, "2026-06-01T10:00:00+00:00")
    fewer = make_site(docs_server.url, [p for p in V1_PAGES if p != "reference/api.html"], name="docs")
    sha = snapshot(monkeypatch, make_config(fewer), archive, fewer, "2026-06-02T10:00:00+00:00")
    assert "(no longer listed)" in git(archive.path, "log", "-1", "--format=%B")
    out = tmp_path / "site"
    build_report(archive.path, out)
    page = _doc(out / "docs" / "snap" / f"{sha}.html")
    assert page.cssselect("table.files tbody tr td")[1].text_content() == "removed · unlisted"
    assert page.cssselect("h1")[0].text == "1 page removed"
    gone = _doc(out / "docs" / "index.html").cssselect("table.list")[1]
    assert gone.cssselect('td[data-label="Why"]')[0].text_content() == "unlisted"


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("# Top\n\n## Sub\n\n#### Deep", "<h2>Top</h2>\n<h3>Sub</h3>\n<h4>Deep</h4>"),  # no level skipped
        ("## Only h2s\n\n## Again", "<h2>Only h2s</h2>\n<h2>Again</h2>"),  # the biggest heading is h2
        (
            "a *b* **c** `d*e*` snake_case_name 2 * 3",
            "<p>a <em>b</em> <strong>c</strong> <code>d*e*</code> snake_case_name 2 * 3</p>",
        ),
        ("\\*not em\\* and \\`not code\\`", "<p>*not em* and `not code`</p>"),
        ("[ok](https://x.org/a_(b)) [bad](javascript:alert(1))", '<p><a href="https://x.org/a_(b)">ok</a> bad</p>'),
        ("![logo](https://x.org/l.png)", '<p><a class="img" href="https://x.org/l.png">[image: logo]</a></p>'),
        ("[![b](https://x/i.svg)](https://x/)", '<p><a href="https://x/">[image: b]</a></p>'),
        (
            "<script>alert(1)</script> & <b>x</b>",
            "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;x&lt;/b&gt;</p>",
        ),
        (
            "```py\ndef f():\n    return '<x>'\n```",
            '<pre><code class="language-py">def f():\n    return &#x27;&lt;x&gt;&#x27;</code></pre>',
        ),
        ("- a\n- b\n  - c\n- d\n  lazy", "<ul><li>a</li><li>b\n<ul><li>c</li></ul></li><li>d\nlazy</li></ul>"),
        ("1. a\n\n   more\n2. b", "<ol><li><p>a</p>\n<p>more</p></li><li><p>b</p></li></ol>"),
        ("3. c\n4. d", '<ol start="3"><li>c</li><li>d</li></ol>'),
        ("> **Note**\n>\n> text", "<blockquote>\n<p><strong>Note</strong></p>\n<p>text</p>\n</blockquote>"),
        (
            "| A | B |\n| --- | ---: |\n| `x\\|y` | 2 |",
            '<div class="scroll"><table><thead><tr><th>A</th><th class="right">B</th></tr></thead>'
            '<tbody><tr><td><code>x|y</code></td><td class="right">2</td></tr></tbody></table></div>',
        ),
        ("line one  \nline two", "<p>line one<br>\nline two</p>"),
        ("---", "<hr>"),
    ],
)
def test_markdown_renders_what_archiver_writes(markdown: str, html: str) -> None:
    assert render_markdown(markdown) == html


ALLOWED = {"p", "h2", "h3", "h4", "h5", "h6", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote",
           "table", "thead", "tbody", "tr", "th", "td", "div", "hr", "br"}  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([*"ab <>&\"'`*_[]()!#|->:\\\n/", "javascript:", "https://x", "```", "    "])).map("".join)
)
def test_markdown_never_lets_markup_or_scripts_through(text: str) -> None:
    root = lxml.html.fragment_fromstring(render_markdown(text) or "<p></p>", create_parent="div")
    for el in root.iterdescendants():
        assert el.tag in ALLOWED, (text, el.tag)
        assert set(el.attrib) <= {"href", "class", "start"}, (text, el.attrib)
        assert el.get("href", "https://").startswith("https://"), text
