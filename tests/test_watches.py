"""Scoped watches: a part of a site (pages by glob, sections by heading) with its own digests, feed
and ``log --watch``; everything end to end against a real loopback server and a real archive."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import FaultServer, git
from test_notify import Receiver
from typer.testing import CliRunner

from archiver.cli import app
from archiver.config import parse_config
from archiver.errors import ConfigError

SITE = "sites:\n  - name: docs\n    base_url: https://x.org/\n    pages: [a.html]\n"


def test_watches_parse_with_their_defaults() -> None:
    config = parse_config(
        SITE + "    watch:\n      - name: rate-limits\n        pages: ['api/*']\n        sections: [Rate limits]\n"
        "        notify: ['json://127.0.0.1:9/hook']\n      - name: all\n"
    )
    first, second = config.sites[0].watch
    assert (first.name, first.pages, first.sections, first.notify) == (
        "rate-limits",
        ["api/*"],
        ["Rate limits"],
        ["json://127.0.0.1:9/hook"],
    )
    assert (second.pages, second.sections, second.notify) == ([], [], [])
    assert config.sites[0].watch_named("all") is second


@pytest.mark.parametrize(
    ("watch", "expected"),
    [
        (
            "      - name: api\n        sectons: [Errors]\n",
            "x.yaml:7: sites[0].watch[0].sectons: unknown field (did you mean sections?)",
        ),
        (
            "      - name: api\n      - name: api\n",
            "x.yaml:7: sites[0].watch[1].name: duplicate watch name 'api'",
        ),
        (
            "      - name: Rate limits\n",
            "x.yaml:6: sites[0].watch[0].name: watch name 'Rate limits' must match [a-z0-9][a-z0-9._-]*",
        ),
        (
            "      - name: api\n        pages: ['api/*']\n        sections: [Errors, ' ']\n",
            "x.yaml:8: sites[0].watch[0].sections[1]: empty section: write a heading such as Rate limits",
        ),
        (
            "      - name: api\n        pages: ['']\n",
            "x.yaml:7: sites[0].watch[0].pages[0]: empty page: write a glob such as api/*",
        ),
        ("      - pages: [a]\n", "x.yaml:6: sites[0].watch[0].name: required field is missing"),
    ],
)
def test_a_bad_watch_names_file_line_and_field(watch: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(SITE + "    watch:\n" + watch, "x.yaml")
    assert str(caught.value).startswith(expected)


def test_an_unknown_watch_name_says_the_closest_one() -> None:
    site = parse_config(SITE + "    watch:\n      - name: rate-limits\n      - name: errors\n").sites[0]
    with pytest.raises(ConfigError, match=r"site 'docs' has no watch 'rate-limit' \(did you mean rate-limits\?\)"):
        site.watch_named("rate-limit")
    with pytest.raises(ConfigError, match=r"has no watch 'zzz' \(its watches: rate-limits, errors\)"):
        site.watch_named("zzz")


PATCH = """diff --git a/docs/api/limits.md b/docs/api/limits.md
--- a/docs/api/limits.md
+++ b/docs/api/limits.md
@@ -1,14 +1,14 @@
 ---
 source: https://x.org/reference/limits.html
 ---
 # API
 ## `Rate` *limits*
-100 requests a minute.
+120 requests a minute.
 ### Per endpoint
-Search: 10.
+Search: 20.
 ```
-## not a heading
+## still not a heading
 ```
 ## Errors
-Code 429.
+Code 430.
"""


def test_a_scope_sees_lines_under_its_headings_at_any_depth_and_pages_by_file_or_url() -> None:
    from archiver.archive.patch import parse_patch
    from archiver.archive.scope import scoped
    from archiver.config import Watch

    files = parse_patch(PATCH)
    watch = Watch(name="limits", pages=["/reference/*"], sections=["RATE limits"])
    [page] = scoped(watch, "docs", files, "https://x.org/")  # the URL's path matches, not the file's
    assert (page.path, page.url, page.status) == ("api/limits.md", "https://x.org/reference/limits.html", "M")
    assert [(line.kind, line.text) for line in page.lines] == [
        ("-", "100 requests a minute."),
        ("+", "120 requests a minute."),
        ("-", "Search: 10."),
        ("+", "Search: 20."),
        ("-", "## not a heading"),  # (in a code block: still under Per endpoint)
        ("+", "## still not a heading"),
    ]
    assert page.sections == ("Rate limits", "Per endpoint")
    assert scoped(Watch(name="w", pages=["api/*"], sections=["Errors"]), "docs", files, None)[0].sections == ("Errors",)
    assert scoped(Watch(name="w", pages=["guide/*"]), "docs", files, "https://x.org/") == []
    assert scoped(Watch(name="w", sections=["Examples"]), "docs", files, "https://x.org/") == []
    assert len(scoped(Watch(name="w"), "docs", files, None)[0].lines) == 8


ATOM = "{http://www.w3.org/2005/Atom}"


def limits_page(limit: int, search: int, err: int) -> bytes:
    return (
        f"<main><h1>API limits</h1><h2>Rate limits</h2><p>{limit} requests a minute.</p>"
        f"<h3>Per endpoint</h3><p>Search: {search} a minute.</p>"
        f"<h2>Errors</h2><p>Too many requests: code {err}.</p></main>"
    ).encode()


def guide_page(text: str) -> bytes:
    return f"<main><h1>Start</h1><h2>Rate limits</h2><p>{text}</p></main>".encode()


def write_config(path: Path, url: str, site_rx: str, watch_rx: str, layout: str, extra: str = "") -> Path:
    path.write_text(
        f"layout: {layout}\n"
        f"sites:\n  - name: docs\n    base_url: {url}\n    pages: [api/limits.html, guide/start.html]\n"
        f"    retries: 0\n    notify: [{site_rx}]\n{extra}"
        "    watch:\n"
        f"      - name: rate-limits\n        pages: ['api/*']\n        sections: [rate LIMITS]\n"
        f"        notify: [{watch_rx}]\n"
        "      - name: ghost\n        sections: [Nonexistent, errors]\n"
        "      - name: nowhere\n        pages: ['nope/*']\n"
    )
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("layout", ["single", "per-site"])
def test_a_watch_is_told_feeds_and_logs_only_changes_in_its_scope(
    tmp_path: Path, docs_server: FaultServer, layout: str
) -> None:
    repo = tmp_path / "archive-repo"
    site_repo = repo / "docs" if layout == "per-site" else repo
    docs_server.set_page("/api/limits.html", limits_page(100, 10, 429))
    docs_server.set_page("/guide/start.html", guide_page("Be gentle."))
    with Receiver() as site_rx, Receiver() as watch_rx:
        config = write_config(tmp_path / "sites.yaml", docs_server.url, site_rx.url, watch_rx.url, layout)
        cfg = str(config)

        def run() -> str:
            code, _, stderr = invoke("run", "--config", cfg, "--repo", str(repo))
            assert code == 0, stderr
            return stderr

        stderr = run()  # the first snapshot: all of the watched section is new
        assert stderr.count("watch ghost: no page in its scope has a section 'Nonexistent' (2 pages looked at)") == 1
        assert stderr.count("watch nowhere: its pages nope/* match none of the site's 2 pages") == 1
        assert "errors" not in stderr.split("watch ghost:")[1].split("\n")[0]  # (that section exists)
        assert [m["title"] for m in watch_rx.messages] == ["docs · rate-limits: 1 added (+4 \u22120)"]
        first = watch_rx.messages[0]["message"]
        assert "Added: api/limits.md  " + docs_server.url + "api/limits.html" in first
        assert "  + 100 requests a minute." in first and "  + Search: 10 a minute." in first
        assert "Too many requests" not in first and "guide/start.md" not in first

        # outside the scope: another section of the watched page, the watched section of another page
        docs_server.set_page("/api/limits.html", limits_page(100, 10, 430))
        docs_server.set_page("/guide/start.html", guide_page("Be very gentle."))
        run()
        assert len(site_rx.messages) == 2 and len(watch_rx.messages) == 1

        # inside: the section itself, then a section nested in it (with a change outside beside it)
        docs_server.set_page("/api/limits.html", limits_page(120, 10, 431))
        run()
        docs_server.set_page("/api/limits.html", limits_page(120, 20, 431))
        run()
        assert len(site_rx.messages) == 4 and len(watch_rx.messages) == 3
        inside = watch_rx.messages[1]
        assert inside["title"] == "docs · rate-limits: 1 changed (+1 \u22121)"
        body = inside["message"]
        assert "Changed: api/limits.md" in body and "  sections: Rate limits\n" in body
        assert "  - 100 requests a minute.\n  + 120 requests a minute.\n" in body
        assert "431" not in body and "430" not in body and "guide" not in body
        assert "Watch rate-limits of " + docs_server.url + ": pages api/*; sections rate LIMITS" in body
        nested = watch_rx.messages[2]["message"]
        assert "  sections: Per endpoint\n" in nested and "  + Search: 20 a minute." in nested

        # a re-render under new rules that changes the watched section: never told
        config = write_config(
            tmp_path / "sites.yaml",
            docs_server.url,
            site_rx.url,
            watch_rx.url,
            layout,
            "    ignore:\n      lines: ['^Search: ']\n",
        )
        run()
        assert "Change-Kind: rules" in git(site_repo, "log", "-1", "--format=%B")
        assert len(watch_rx.messages) == 3

    shas = git(site_repo, "log", "--format=%H").split()  # newest first: rules, nested, inside, outside, first
    assert len(shas) == 5
    in_scope = [shas[1], shas[2], shas[4]]

    code, stdout, _ = invoke("log", "docs", "--watch", "rate-limits", "--config", cfg, "--repo", str(repo))
    assert code == 0
    assert [line.split()[0] for line in stdout.splitlines()] == [s[:10] for s in in_scope]
    code, stdout, _ = invoke(
        "log", "docs", "--watch", "rate-limits", "-s", "-n", "1", "--config", cfg, "--repo", str(repo)
    )
    assert stdout.splitlines()[1:] == ["    api/limits.md: Per endpoint"]
    code, stdout, stderr = invoke("log", "docs", "--watch", "rate-limit", "--config", cfg, "--repo", str(repo))
    assert code == 2 and stdout == ""
    [line] = stderr.strip().splitlines()  # one line, no traceback
    assert line == "ConfigError: site 'docs' has no watch 'rate-limit' (did you mean rate-limits?)"

    out = tmp_path / "report"
    built = []
    for _ in range(2):  # the second build is incremental: the feed must not change
        code, _out, stderr = invoke("report", "--out", str(out), "--config", cfg, "--repo", str(repo))
        assert code == 0, stderr
        built.append((out / "docs" / "watch-rate-limits.xml").read_bytes())
    feed = built[0]
    assert built[1] == feed
    entries = ET.fromstring(feed).findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}link").get("href") for e in entries] == [f"snap/{s}.html" for s in in_scope]  # type: ignore[union-attr]
    site_ids = {e.findtext(f"{ATOM}id") for e in ET.parse(out / "docs" / "feed.xml").getroot().iter(f"{ATOM}entry")}
    assert len(site_ids) == 4 and not site_ids & {e.findtext(f"{ATOM}id") for e in entries}
    summary = entries[1].findtext(f"{ATOM}summary") or ""
    assert "+ 120 requests a minute." in summary and "431" not in summary and "guide" not in summary
    assert 'href="watch-rate-limits.xml"' in (out / "docs" / "index.html").read_text()
    assert ET.fromstring((out / "docs" / "watch-ghost.xml").read_bytes()).findall(f"{ATOM}entry") != []


def test_the_daemon_logs_a_watch_that_sees_nothing_once_per_run(
    tmp_path: Path, docs_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import UTC, datetime

    from archiver.daemon.scheduler import SiteRun, log_heartbeat
    from archiver.run.publish import archive_into

    docs_server.set_page("/api/limits.html", limits_page(100, 10, 429))
    docs_server.set_page("/guide/start.html", guide_page("Be gentle."))
    config = parse_config(
        f"sites:\n  - name: docs\n    base_url: {docs_server.url}\n    pages: [api/limits.html, guide/start.html]\n"
        "    watch:\n      - name: nowhere\n        pages: ['nope/*', '/v2/*']\n"
    )
    [report] = archive_into(config, tmp_path / "archive-repo").sites
    now = datetime.now(UTC)
    with caplog.at_level("INFO"):
        log_heartbeat(SiteRun("docs", now, now, report))
    said = "docs: note: watch nowhere: its pages nope/*, /v2/* match none of the site's 2 pages"
    assert caplog.text.count(said) == 1
