"""Issue 3, discovery: sitemaps, llms.txt, crawls, include/exclude, robots.txt, moves and removals.

All real: a loopback server, a git repository in tmp_path, ``pipeline.discover`` for what
discovery finds and ``pipeline.run`` end to end, checked against plain git.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from helpers import FaultHandler, FaultServer, commit_count, git, make_config
from typer.testing import CliRunner

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import StateStore
from archiver.cli import app
from archiver.config import Site
from archiver.fetch import discover as discover_module
from archiver.models import PageStatus, SiteReport
from archiver.run.pipeline import discover, run

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def make(url: str, **fields: object) -> Site:
    """A fast-failing Site without conftest's default page list (discovery tests choose their own)."""
    values: dict[str, object] = {"name": "docs", "base_url": url, "retries": 0, "remove_after": 1, "timeout": 5.0}
    values.update(fields)
    return Site.model_validate(values)


def serve_sitemap(server: FaultServer, urls: list[str]) -> None:
    server.set_page("/sitemap.xml", urlset(*urls), "application/xml")


def urlset(*locs: str) -> bytes:
    body = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="{SITEMAP_NS}">{body}</urlset>'.encode()


def sitemapindex(*locs: str) -> bytes:
    body = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="{SITEMAP_NS}">{body}</sitemapindex>'.encode()


def statuses(report: SiteReport) -> dict[str, PageStatus]:
    return {r.path: r.status for r in report.results}


def by_url(report: SiteReport) -> dict[str, PageStatus]:
    return {r.url: r.status for r in report.results}


def tracked(repo: ArchiveRepo) -> set[str]:
    return set(git(repo.path, "ls-files").split())


def page(title: str, *links: str, text: str = "") -> str:
    anchors = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<nav><a href='/'>Top</a></nav><main><h1>{title}</h1><p>{text or 'About ' + title}.</p>"
        f"<p>{anchors}</p></main></body></html>"
    )


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return root


# --- sitemaps -----------------------------------------------------------------------------------


def test_sitemap_index_recursive_gzip_and_loop(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    # the index lists a nested index, a plain urlset and itself; the nested index lists a gzipped
    # urlset and the top index again: every sitemap is read once and discovery ends
    docs_server.set_page(
        "/sitemap.xml", sitemapindex(f"{url}maps/nested.xml", "maps/a.xml", f"{url}sitemap.xml"), "application/xml"
    )
    docs_server.set_page("/maps/nested.xml", sitemapindex(f"{url}maps/b.xml.gz", f"{url}sitemap.xml"), "text/xml")
    docs_server.set_page(
        "/maps/a.xml",
        urlset(f"{url}index.html", f"{url}guide/", "https://elsewhere.example/guide/other.html"),
        "application/xml",
    )
    gz = gzip.compress(urlset(f"{url}guide/auth.html", f"{url}reference/api.html#section", "http://evil.example/x"))
    docs_server.set_page("/maps/b.xml.gz", gz, "application/x-gzip")
    site = make(url, sitemap=url + "sitemap.xml")

    found = discover(site, archive)

    assert sorted(found.urls) == sorted(
        [f"{url}index.html", f"{url}guide/", f"{url}guide/auth.html", f"{url}reference/api.html"]
    )
    for path in ("/sitemap.xml", "/maps/nested.xml", "/maps/a.xml", "/maps/b.xml.gz"):
        assert docs_server.hits[path] == 1, path
    assert not any(p.endswith((".html", "/guide/")) for p in docs_server.hits)  # discovery fetches no page

    report = run(make_config(site), archive, workers=1).sites[0]
    assert report.error is None and not report.failed
    assert tracked(archive) == {"docs/index.md", "docs/guide/index.md", "docs/guide/auth.md", "docs/reference/api.md"}


def test_sitemap_indexes_nested_too_deep_are_not_followed(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    depth = discover_module.MAX_SITEMAP_DEPTH
    for i in range(depth + 1):
        docs_server.set_page(f"/idx{i}.xml", sitemapindex(f"{url}idx{i + 1}.xml"), "application/xml")
    docs_server.set_page(f"/idx{depth + 1}.xml", urlset(f"{url}index.html"), "application/xml")
    docs_server.set_page("/shallow.xml", sitemapindex(f"{url}idx{depth}.xml"), "application/xml")

    assert discover(make(url, sitemap=f"{url}idx0.xml"), archive).urls == []
    assert f"/idx{depth + 1}.xml" not in docs_server.hits
    # the same urlset one level nearer the top is read
    assert discover(make(url, sitemap=f"{url}shallow.xml"), archive).urls == [f"{url}index.html"]


@pytest.mark.parametrize(
    ("body", "ctype", "status", "message"),
    [
        (b"<urlset><url><loc>http://x/", "application/xml", 200, "malformed sitemap"),
        (b"<html><body><p>Not found</p></body></html>", "text/html", 200, "not a sitemap"),
        (b"\x1f\x8bnot really gzip", "application/x-gzip", 200, "bad gzip"),
        (b"gone", "text/plain", 404, "HTTP 404"),
    ],
)
def test_unreadable_sitemap_fails_discovery_and_removes_nothing(
    docs_server: FaultServer, archive: ArchiveRepo, body: bytes, ctype: str, status: int, message: str
) -> None:
    url = docs_server.url
    docs_server.set_page("/sitemap.xml", sitemapindex(f"{url}part.xml"), "application/xml")
    docs_server.set_page("/part.xml", urlset(f"{url}index.html", f"{url}old.html"), "application/xml")
    config = make_config(make(url, sitemap=url + "sitemap.xml"))
    run(config, archive, workers=1)
    head = git(archive.path, "rev-parse", "HEAD")
    docs_server.set_page("/part.xml", body, ctype, status=status)  # a child of the index breaks

    report = run(config, archive, workers=1).sites[0]

    assert report.error is not None and "discovery failed" in report.error and message in report.error
    assert report.results == []
    assert git(archive.path, "rev-parse", "HEAD") == head
    assert tracked(archive) == {"docs/index.md", "docs/old.md"}
    assert git(archive.path, "status", "--porcelain") == ""


def test_huge_sitemap_is_capped_at_max_urls(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    total = discover_module.MAX_URLS + 5
    docs_server.set_page("/sitemap.xml", urlset(*(f"{url}p/{i}.html" for i in range(total))), "application/xml")

    found = discover(make(url, sitemap=url + "sitemap.xml"), archive)

    assert len(found.urls) == discover_module.MAX_URLS
    assert found.urls[0] == f"{url}p/0.html" and found.urls[-1] == f"{url}p/{discover_module.MAX_URLS - 1}.html"
    assert not any(p.startswith("/p/") for p in docs_server.hits)


# --- llms.txt -----------------------------------------------------------------------------------


def test_llms_txt_links_become_pages(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    llms = f"""# TestDocs

> Documentation of the Widget service.

## Docs

- [Home](/index.html): where to start
- [Guide](guide/ "The guide")
- [Authentication]({url}guide/auth.html "Auth, in detail")
- [Intro](<intro.md>)
- [A page that is gone](missing.html)
- [Elsewhere](https://elsewhere.example/docs/page.html)

## Optional

- [API](reference/api.html#endpoints)
"""
    docs_server.set_page("/llms.txt", llms.encode(), "text/plain; charset=utf-8")
    docs_server.set_page("/intro.md", b"# Intro\r\n\r\nStart *here*.\r\n", "text/markdown")
    site = make(url, llms_txt=url + "llms.txt", remove_after=2)

    found = discover(site, archive)
    assert found.urls == [
        f"{url}index.html",
        f"{url}guide/",
        f"{url}guide/auth.html",
        f"{url}intro.md",
        f"{url}missing.html",
        f"{url}reference/api.html",
    ]

    report = run(make_config(site), archive, workers=1).sites[0]

    assert report.error is None and not report.failed
    got = by_url(report)
    assert got[f"{url}missing.html"] is PageStatus.GONE
    assert [got[f"{url}{p}"] for p in ("index.html", "guide/", "guide/auth.html", "intro.md")] == [PageStatus.ADDED] * 4
    assert tracked(archive) == {
        "docs/index.md",
        "docs/guide/index.md",
        "docs/guide/auth.md",
        "docs/intro.md",
        "docs/reference/api.md",
    }
    assert (archive.path / "docs/intro.md").read_text() == "# Intro\n\nStart *here*.\n"


def test_unreadable_llms_txt_fails_discovery(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    docs_server.set_page("/llms.txt", b"- [Home](index.html)\n", "text/plain")
    config = make_config(make(url, llms_txt=url + "llms.txt"))
    run(config, archive, workers=1)
    docs_server.set_page("/llms.txt", b"nope", "text/plain", status=404)

    report = run(config, archive, workers=1).sites[0]

    assert report.error is not None and "llms.txt answered HTTP 404" in report.error
    assert tracked(archive) == {"docs/index.md"}


# --- crawling -----------------------------------------------------------------------------------


def crawl_tree(root: Path, port: int) -> Path:
    """A site under /docs/ with every kind of link a crawl must and must not follow."""
    return write_tree(
        root,
        {
            "outside.html": page("Outside", "docs/secret.html"),
            "docs/index.html": page(
                "Home",
                "a.html",
                "a.html#part",
                "./a.html#other",
                "b/",
                "b/c.html?y=2&x=1",
                "b/c.html?x=1&y=2",
                "/outside.html",
                "../outside.html",
                f"http://localhost:{port}/docs/secret.html",
                "logo.png",
                "style.css?v=3",
                "files/manual.pdf",
                "mailto:docs@example.com",
                "#top",
            ),
            "docs/a.html": page("A", "deep/one.html", "index.html", "../index.html"),
            "docs/b/index.html": page("B", "../index.html"),
            "docs/b/c.html": page("C", "../a.html"),
            "docs/deep/one.html": page("One", "two.html"),
            "docs/deep/two.html": page("Two", "three.html"),
            "docs/deep/three.html": page("Three", "/docs/"),
            "docs/secret.html": page("Secret"),
            "docs/logo.png": b"\x89PNG\r\n\x1a\nnot really",
            "docs/style.css": "body { color: red }",
            "docs/files/manual.pdf": b"%PDF-1.4 not really",
        },
    )


@pytest.fixture
def crawl_server(docs_server: FaultServer, tmp_path: Path) -> FaultServer:
    docs_server.root = crawl_tree(tmp_path / "crawl-site", docs_server.server_address[1])
    return docs_server


CRAWLED = ["", "a.html", "b/", "b/c.html", "deep/one.html", "deep/two.html", "deep/three.html"]


def test_crawl_follows_same_site_links_only(crawl_server: FaultServer, archive: ArchiveRepo) -> None:
    base = crawl_server.url + "docs/"

    found = discover(make(base, crawl={}), archive)

    assert sorted(found.urls) == sorted(base + p for p in CRAWLED)
    hits = crawl_server.hits
    # outside base_url, off-host, assets: never requested
    for path in ("/outside.html", "/docs/secret.html", "/docs/logo.png", "/docs/style.css", "/docs/files/manual.pdf"):
        assert path not in hits, path
    # one request per page, whatever the fragments and repeated links
    assert {p: n for p, n in hits.items() if p != "/robots.txt"} == {f"/docs/{p}": 1 for p in CRAWLED}
    assert set(found.prefetched) == set(found.urls)
    assert base + "deep/one.html" in found.links[base + "a.html"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("drop", ["b/c.html"]),
        ("sort", ["b/c.html?x=1&y=2"]),
        ("keep", ["b/c.html?x=1&y=2", "b/c.html?y=2&x=1"]),
    ],
)
def test_crawl_query_modes(crawl_server: FaultServer, archive: ArchiveRepo, query: str, expected: list[str]) -> None:
    base = crawl_server.url + "docs/"

    found = discover(make(base, crawl={"query": query}), archive)

    assert sorted(u for u in found.urls if "/b/c.html" in u) == [base + e for e in expected]


@pytest.mark.parametrize(
    ("depth", "expected"),
    [
        (0, [""]),
        (1, ["", "a.html", "b/", "b/c.html"]),
        (2, ["", "a.html", "b/", "b/c.html", "deep/one.html"]),
        (3, ["", "a.html", "b/", "b/c.html", "deep/one.html", "deep/two.html"]),
    ],
)
def test_crawl_max_depth(crawl_server: FaultServer, archive: ArchiveRepo, depth: int, expected: list[str]) -> None:
    base = crawl_server.url + "docs/"

    found = discover(make(base, crawl={"max_depth": depth}), archive)

    assert sorted(found.urls) == sorted(base + p for p in expected)
    assert sorted(p for p in crawl_server.hits if p != "/robots.txt") == sorted(f"/docs/{p}" for p in expected)


class CalendarHandler(FaultHandler):
    """/docs/cal/<n>.html links to the next two days, forever (a calendar's URL space)."""

    def route(self) -> bool:
        path = self.path.split("?", 1)[0]
        m = re.fullmatch(r"/docs/cal/(\d+)\.html", path)
        if not m:
            return super().route()
        server: FaultServer = self.server  # type: ignore[assignment]
        server.hits[path] = server.hits.get(path, 0) + 1
        n = int(m.group(1))
        body = page(f"Day {n}", f"{n + 1}.html", f"{n + 2}.html?view=week", f"/docs/cal/{n + 3}.html")
        self.send_body(200, body.encode(), "text/html")
        return True


def test_crawl_of_an_infinite_url_space_stops_at_max_pages(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    docs_server.RequestHandlerClass = CalendarHandler
    base = docs_server.url + "docs/"

    found = discover(make(base, crawl={"start": ["cal/1.html"], "max_pages": 7}), archive)

    assert len(found.urls) == 7
    assert all(re.fullmatch(re.escape(base) + r"cal/\d+\.html", u) for u in found.urls)
    assert sum(n for p, n in docs_server.hits.items() if p.startswith("/docs/cal/")) == 7


def test_crawled_site_second_run_is_conditional_and_commits_nothing(
    crawl_server: FaultServer, archive: ArchiveRepo
) -> None:
    base = crawl_server.url + "docs/"
    config = make_config(make(base, crawl={}))

    first = run(config, archive, workers=1).sites[0]

    assert first.error is None and first.count(PageStatus.ADDED) == len(CRAWLED)
    assert tracked(archive) == {
        "docs/index.md",
        "docs/a.md",
        "docs/b/index.md",
        "docs/b/c.md",
        "docs/deep/one.md",
        "docs/deep/two.md",
        "docs/deep/three.md",
    }
    # the crawl's responses are what got archived: each page was requested once in the whole run
    # (besides, source: auto asked three pages' <url>.md, once: run/sources.py)
    probes = {p for p in crawl_server.hits if p.endswith(".md")}
    assert len(probes) <= 3 and all(crawl_server.hits[p] == 1 for p in probes)
    pages = {p: n for p, n in crawl_server.hits.items() if p != "/robots.txt" and p not in probes}
    assert pages == {f"/docs/{p}": 1 for p in CRAWLED}
    head = git(archive.path, "rev-parse", "HEAD")
    crawl_server.request_headers.clear()

    second = run(config, archive, workers=1).sites[0]

    assert second.error is None and second.commit is None
    assert second.count(PageStatus.UNCHANGED) == len(CRAWLED)
    pages = [(p, h) for p, h in crawl_server.request_headers if p != "/robots.txt"]
    assert sorted(p for p, _ in pages) == sorted(f"/docs/{p}" for p in CRAWLED)  # links reused from state
    assert all("If-None-Match" in h for _, h in pages)
    assert git(archive.path, "rev-parse", "HEAD") == head


def test_failing_crawl_start_page_does_not_unlist_the_site(crawl_server: FaultServer, archive: ArchiveRepo) -> None:
    base = crawl_server.url + "docs/"
    config = make_config(make(base, crawl={}, remove_after=2))
    run(config, archive, workers=1)
    files = tracked(archive)
    crawl_server.set_page("/docs/", b"busy", "text/plain", status=503)

    for _ in range(2):
        report = run(config, archive, workers=1).sites[0]
        assert by_url(report)[base] is PageStatus.FAILED
        assert report.count(PageStatus.GONE) == report.count(PageStatus.REMOVED) == 0, report.results
    assert tracked(archive) == files and len(files) == len(CRAWLED)


# --- include / exclude --------------------------------------------------------------------------


def test_include_and_exclude_apply_to_explicit_and_sitemap_pages(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    url = docs_server.url
    docs_server.set_page(
        "/sitemap.xml",
        urlset(f"{url}guide/", f"{url}reference/api.html", f"{url}guide/changelog.html", f"{url}blog/2026.html"),
        "application/xml",
    )
    site = make(
        url,
        pages=["index.html", "guide/auth.html", "guide/Auth%20Old.html"],
        sitemap=url + "sitemap.xml",
        include=["guide/*", "re:/reference/api\\.html$"],
        exclude=["*changelog*", "guide/Auth Old.html"],  # globs see the decoded path
    )

    found = discover(site, archive)

    assert found.urls == [f"{url}guide/auth.html", f"{url}guide/", f"{url}reference/api.html"]
    assert found.excluded == 4


def test_exclude_stops_the_crawl_at_excluded_pages(crawl_server: FaultServer, archive: ArchiveRepo) -> None:
    base = crawl_server.url + "docs/"
    site = make(base, crawl={}, exclude=["b/*", "re:/deep/two\\.html$"])

    found = discover(site, archive)

    assert sorted(found.urls) == sorted(base + p for p in ["", "a.html", "deep/one.html"])
    for path in ("/docs/b/", "/docs/b/c.html", "/docs/deep/two.html", "/docs/deep/three.html"):
        assert path not in crawl_server.hits, path


def test_include_filters_what_a_crawl_keeps_not_where_it_walks(crawl_server: FaultServer, archive: ArchiveRepo) -> None:
    base = crawl_server.url + "docs/"
    deep = sorted(base + p for p in ["deep/one.html", "deep/two.html", "deep/three.html"])
    # from the (not included) home page: the crawl walks through it to reach the included pages
    site = make(base, crawl={}, include=["deep/*"])

    found = discover(site, archive)

    assert sorted(found.urls) == deep
    assert "/docs/" in crawl_server.hits  # walked through, not kept
    assert set(found.prefetched) >= set(deep)


# --- robots.txt ---------------------------------------------------------------------------------


ROBOTS_ALL = "User-agent: *\nDisallow: /guide/\n"
ROBOTS_OURS = "User-agent: archiver\nDisallow: /reference/\n\nUser-agent: *\nDisallow:\n"
ROBOTS_OTHERS = "User-agent: SomeOtherBot\nDisallow: /\n"


@pytest.mark.parametrize(
    ("robots", "dropped"),
    [
        (ROBOTS_ALL, ["guide/", "guide/auth.html"]),
        (ROBOTS_OURS, ["reference/api.html"]),
        (ROBOTS_OTHERS, []),
    ],
    ids=["everyone", "archiver", "another-bot"],
)
def test_robots_txt_disallow_drops_urls(
    docs_server: FaultServer, archive: ArchiveRepo, robots: str, dropped: list[str]
) -> None:
    url = docs_server.url
    pages = ["index.html", "guide/", "guide/auth.html", "reference/api.html"]
    docs_server.set_page("/robots.txt", robots.encode(), "text/plain")
    serve_sitemap(docs_server, [url + p for p in pages])

    found = discover(make(url, sitemap=url + "sitemap.xml"), archive)

    assert found.urls == [url + p for p in pages if p not in dropped]
    assert found.excluded == len(dropped)
    # robots: false ignores it (and does not even ask)
    docs_server.hits.clear()
    assert discover(make(url, sitemap=url + "sitemap.xml", robots=False), archive).urls == [url + p for p in pages]
    assert "/robots.txt" not in docs_server.hits


def test_robots_txt_filters_the_sitemap_but_not_the_pages_listed_beside_it(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    url = docs_server.url
    docs_server.set_page("/robots.txt", b"User-agent: *\nDisallow: /guide/\n", "text/plain")
    serve_sitemap(docs_server, [url + "guide/", url + "reference/api.html"])

    found = discover(make(url, pages=["guide/auth.html"], sitemap=url + "sitemap.xml"), archive)

    assert found.urls == [url + "guide/auth.html", url + "reference/api.html"]  # guide/ came from the sitemap
    assert found.excluded == 1


def test_hand_listed_pages_are_not_subject_to_robots_txt(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    docs_server.set_page("/robots.txt", b"User-agent: *\nDisallow: /\n", "text/plain")
    report = run(make_config(make(url, pages=["index.html", "guide/auth.html"])), archive, workers=1).sites[0]
    assert sorted(r.path for r in report.results if r.status is PageStatus.ADDED) == ["guide/auth.md", "index.md"]
    assert "/robots.txt" not in docs_server.hits  # a user asking for a page by name is no crawler


def test_robots_txt_is_obeyed_by_the_crawl(crawl_server: FaultServer, archive: ArchiveRepo) -> None:
    crawl_server.set_page("/robots.txt", b"User-agent: *\nDisallow: /docs/deep/\n", "text/plain")
    base = crawl_server.url + "docs/"

    found = discover(make(base, crawl={}), archive)

    assert sorted(found.urls) == sorted(base + p for p in ["", "a.html", "b/", "b/c.html"])
    assert not any(p.startswith("/docs/deep/") for p in crawl_server.hits)


def test_unreadable_robots_txt_fails_the_run_and_removes_nothing(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    url = docs_server.url
    serve_sitemap(docs_server, [url + "index.html", url + "old.html"])
    config = make_config(make(url, sitemap=url + "sitemap.xml"))
    run(config, archive, workers=1)
    head = git(archive.path, "rev-parse", "HEAD")
    docs_server.set_page("/robots.txt", b"oops", "text/plain", status=500)
    docs_server.hits.clear()

    report = run(config, archive, workers=1).sites[0]

    assert report.error is not None and "robots.txt" in report.error
    assert report.results == []
    assert git(archive.path, "rev-parse", "HEAD") == head
    assert tracked(archive) == {"docs/index.md", "docs/old.md"}
    assert set(docs_server.hits) == {"/robots.txt"}  # no page (nor the sitemap) was fetched


# --- archiver pages (dry run) -------------------------------------------------------------------


def write_config(path: Path, url: str, **extra: str) -> Path:
    lines = ["sites:", "  - name: docs", f"    base_url: {url}", "    retries: 0"]
    lines += [f"    {k}: {v}" for k, v in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_pages_command_lists_urls_and_files_and_archives_nothing(
    docs_server: FaultServer, tmp_path: Path, cli: CliRunner
) -> None:
    url = docs_server.url
    docs_server.set_page(
        "/sitemap.xml",
        urlset(f"{url}index.html", f"{url}guide/", f"{url}guide/auth.html", f"{url}blog/news.html"),
        "application/xml",
    )
    config = write_config(tmp_path / "sites.yaml", url, sitemap=f"{url}sitemap.xml", exclude='["blog/*"]')
    repo = tmp_path / "archive-repo"

    result = cli.invoke(app, ["pages", "docs", "--config", str(config), "--repo", str(repo)], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines() if line.strip()]
    assert rows == [
        [f"{url}index.html", "docs/index.md", "new"],
        [f"{url}guide/", "docs/guide/index.md", "new"],
        [f"{url}guide/auth.html", "docs/guide/auth.md", "new"],
    ]
    assert "1 more left out by include/exclude or robots.txt" in result.output
    assert not repo.exists()
    assert not any(p.endswith(".html") or p == "/guide/" for p in docs_server.hits)


def test_pages_command_exits_1_with_one_line_when_discovery_fails(
    docs_server: FaultServer, tmp_path: Path, cli: CliRunner
) -> None:
    url = docs_server.url
    docs_server.set_page("/sitemap.xml", b"down", status=500)
    config = write_config(tmp_path / "sites.yaml", url, sitemap=f"{url}sitemap.xml")
    args = ["pages", "docs", "--config", str(config), "--repo", str(tmp_path / "none")]

    result = cli.invoke(app, args, catch_exceptions=False)

    assert result.exit_code == 1  # README: 1 when a site's discovery failed (3 is for the archive)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("FetchError: ") and "sitemap.xml" in lines[0]
    assert result.stdout == ""


def test_pages_command_lines_are_tab_separated(docs_server: FaultServer, tmp_path: Path, cli: CliRunner) -> None:
    url = docs_server.url
    config = write_config(tmp_path / "sites.yaml", url, pages="[index.html, guide/auth.html]")
    args = ["pages", "docs", "--config", str(config), "--repo", str(tmp_path / "none")]

    result = cli.invoke(app, args, catch_exceptions=False)

    assert result.stdout.splitlines() == [
        f"{url}index.html\tdocs/index.md\tnew",
        f"{url}guide/auth.html\tdocs/guide/auth.md\tnew",
    ]


def test_pages_command_leaves_an_existing_archive_alone(
    docs_server: FaultServer, tmp_path: Path, cli: CliRunner
) -> None:
    url = docs_server.url
    config = write_config(tmp_path / "sites.yaml", url, pages="[index.html, guide/auth.html]")
    repo = ArchiveRepo.open_or_init(tmp_path / "archive-repo")
    run(make_config(make(url, pages=["index.html"])), repo, workers=1)
    head = git(repo.path, "rev-parse", "HEAD")
    state_before = (repo.state_dir / "docs.json").read_bytes()

    result = cli.invoke(
        app, ["pages", "docs", "--config", str(config), "--repo", str(repo.path)], catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    assert f"{url}guide/auth.html" in result.stdout and "docs/guide/auth.md" in result.stdout
    assert git(repo.path, "rev-parse", "HEAD") == head and commit_count(repo.path) == 1
    assert git(repo.path, "status", "--porcelain") == ""
    assert (repo.state_dir / "docs.json").read_bytes() == state_before


# --- moves --------------------------------------------------------------------------------------


def test_page_that_redirects_within_the_site_moves_its_file(
    docs_server: FaultServer, archive: ArchiveRepo, site_v1: Path
) -> None:
    url = docs_server.url
    config = make_config(make(url, pages=["index.html", "old.html"]))
    run(config, archive, workers=1)
    old_commit = git(archive.path, "rev-parse", "HEAD").strip()
    docs_server.set_page("/old.html", b"", status=301, Location="/moved.html")
    docs_server.set_page("/moved.html", (site_v1 / "old.html").read_bytes(), "text/html")

    report = run(config, archive, workers=1).sites[0]

    moved = [r for r in report.results if r.url == f"{url}old.html"]
    assert len(moved) == 1 and moved[0].status is PageStatus.MOVED and moved[0].path == "moved.md"
    assert not report.failed
    assert not (archive.path / "docs/old.md").exists() and (archive.path / "docs/moved.md").exists()
    assert tracked(archive) == {"docs/index.md", "docs/moved.md"}
    body = git(archive.path, "log", "-1", "--format=%B")
    assert f"Moved:\n- moved.md  {url}old.html (moved from old.md (redirects to {url}moved.html))" in body
    assert git(archive.path, "show", "-M", "--name-status", "--format=", "HEAD").split() == [
        "R100",
        "docs/old.md",
        "docs/moved.md",
    ]
    follow = git(archive.path, "log", "--follow", "--format=%H", "--", "docs/moved.md").split()
    assert follow[-1] == old_commit and len(follow) == 2
    assert StateStore(archive.state_dir).load("docs").pages[f"{url}old.html"].path == "moved.md"

    # still redirecting: nothing more to do
    again = run(config, archive, workers=1).sites[0]
    assert again.commit is None and by_url(again)[f"{url}old.html"] is PageStatus.UNCHANGED
    assert tracked(archive) == {"docs/index.md", "docs/moved.md"}


def test_page_that_redirects_off_site_fails_and_keeps_its_snapshot(
    docs_server: FaultServer, archive: ArchiveRepo, tmp_path: Path
) -> None:
    docs_server.root = write_tree(
        tmp_path / "site",
        {
            "docs/index.html": page("Home"),
            "docs/page.html": page("Page", text="The page that will leave"),
            "blog/page.html": page("Blog", text="Somewhere else entirely"),
        },
    )
    base = docs_server.url + "docs/"
    config = make_config(make(base, pages=["index.html", "page.html"]))
    run(config, archive, workers=1)
    before = (archive.path / "docs/page.md").read_bytes()
    docs_server.set_page("/docs/page.html", b"", status=301, Location="/blog/page.html")

    report = run(config, archive, workers=1).sites[0]

    result = next(r for r in report.results if r.url == base + "page.html")
    assert result.status is PageStatus.FAILED
    assert result.error is not None and "off-site" in result.error and "/blog/page.html" in result.error
    assert report.failed and report.commit is None
    assert (archive.path / "docs/page.md").read_bytes() == before
    assert not (archive.path / "docs/blog").exists()
    assert tracked(archive) == {"docs/index.md", "docs/page.md"}


def test_moved_page_whose_new_url_gets_listed_keeps_its_file(
    docs_server: FaultServer, archive: ArchiveRepo, site_v1: Path
) -> None:
    url = docs_server.url
    docs_server.set_page("/sitemap.xml", urlset(f"{url}index.html", f"{url}old.html"), "application/xml")
    config = make_config(make(url, sitemap=url + "sitemap.xml", remove_after=2))
    run(config, archive, workers=1)
    docs_server.set_page("/old.html", b"", status=301, Location="/moved.html")
    docs_server.set_page("/moved.html", (site_v1 / "old.html").read_bytes(), "text/html")
    assert by_url(run(config, archive, workers=1).sites[0])[f"{url}old.html"] is PageStatus.MOVED
    # the site's sitemap catches up with the move
    docs_server.set_page("/sitemap.xml", urlset(f"{url}index.html", f"{url}moved.html"), "application/xml")

    for _ in range(3):
        report = run(config, archive, workers=1).sites[0]
        assert report.count(PageStatus.REMOVED) == 0, report.results
        assert tracked(archive) == {"docs/index.md", "docs/moved.md"}


def test_gone_redirect_source_does_not_remove_the_target_page(
    docs_server: FaultServer, archive: ArchiveRepo, site_v1: Path
) -> None:
    url = docs_server.url
    docs_server.set_page("/moved.html", (site_v1 / "old.html").read_bytes(), "text/html")
    config = make_config(make(url, pages=["index.html", "old.html", "moved.html"], remove_after=2))
    run(config, archive, workers=1)
    docs_server.set_page("/old.html", b"", status=301, Location="/moved.html")
    run(config, archive, workers=1)
    assert tracked(archive) == {"docs/index.md", "docs/moved.md"}
    docs_server.set_page("/old.html", b"<h1>Not found</h1>", status=404)

    for _ in range(3):
        run(config, archive, workers=1)
        assert tracked(archive) == {"docs/index.md", "docs/moved.md"}
        assert (archive.path / "docs/moved.md").exists()


# --- removal policy -----------------------------------------------------------------------------


def test_404_page_is_gone_first_then_removed(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    config = make_config(make(url, pages=["index.html", "old.html"], remove_after=2))
    run(config, archive, workers=1)
    docs_server.set_page("/old.html", b"<h1>Not found</h1>", status=404)

    first = run(config, archive, workers=1).sites[0]
    assert statuses(first)["old.md"] is PageStatus.GONE
    assert not first.failed and first.commit is None
    assert (archive.path / "docs/old.md").exists()

    # it comes back before the second strike: kept, and the count starts again
    del docs_server.overrides["/old.html"]
    back = run(config, archive, workers=1).sites[0]
    assert statuses(back)["old.md"] is PageStatus.UNCHANGED and back.commit is None
    docs_server.set_page("/old.html", b"<h1>Not found</h1>", status=404)
    assert statuses(run(config, archive, workers=1).sites[0])["old.md"] is PageStatus.GONE
    assert (archive.path / "docs/old.md").exists()

    second = run(config, archive, workers=1).sites[0]
    assert statuses(second)["old.md"] is PageStatus.REMOVED
    assert tracked(archive) == {"docs/index.md"}
    body = git(archive.path, "log", "-1", "--format=%B")
    assert f"Removed:\n- old.md  {url}old.html (gone: HTTP 404)" in body


def test_page_missing_from_discovery_is_kept_one_run_then_removed(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    url = docs_server.url
    with_old = urlset(f"{url}index.html", f"{url}old.html")
    without_old = urlset(f"{url}index.html")
    docs_server.set_page("/sitemap.xml", with_old, "application/xml")
    config = make_config(make(url, sitemap=url + "sitemap.xml", remove_after=2))
    run(config, archive, workers=1)
    head = git(archive.path, "rev-parse", "HEAD")

    docs_server.set_page("/sitemap.xml", without_old, "application/xml")
    first = run(config, archive, workers=1).sites[0]
    missing = next(r for r in first.results if r.url == f"{url}old.html")
    assert missing.status is PageStatus.GONE and missing.fetched  # still fetched by its URL (issue 11)
    assert missing.error is not None and "1 of 2" in missing.error
    assert first.commit is None and git(archive.path, "rev-parse", "HEAD") == head
    assert (archive.path / "docs/old.md").exists()

    # listed again before the second run: it stays, and is fine
    docs_server.set_page("/sitemap.xml", with_old, "application/xml")
    back = run(config, archive, workers=1).sites[0]
    assert by_url(back)[f"{url}old.html"] is PageStatus.UNCHANGED and back.commit is None
    assert StateStore(archive.state_dir).load("docs").pages[f"{url}old.html"].gone == 0

    # unlisted twice in a row: removed
    docs_server.set_page("/sitemap.xml", without_old, "application/xml")
    assert by_url(run(config, archive, workers=1).sites[0])[f"{url}old.html"] is PageStatus.GONE
    assert (archive.path / "docs/old.md").exists()
    last = run(config, archive, workers=1).sites[0]
    assert by_url(last)[f"{url}old.html"] is PageStatus.REMOVED
    assert tracked(archive) == {"docs/index.md"}
    assert "(no longer listed)" in git(archive.path, "log", "-1", "--format=%B")
    assert f"{url}old.html" not in StateStore(archive.state_dir).load("docs").pages
