"""Pages only a browser fills in (``render: auto | never | always``): app shells found from their
bytes (never on server-rendered docs), rendered in Debian's headless Chromium over the DevTools
pipe, converted as usual; the faults (a page that never settles, a browser killed mid-page, no
browser at all) each fail the page with one line and keep its last snapshot."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import CORPUS, DATA, FaultServer, commit_count, git, make_config, make_site, wait_for

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import StateStore
from archiver.cli import app
from archiver.config import parse_config
from archiver.convert.shell import is_app_shell
from archiver.errors import ConfigError
from archiver.models import PageStatus
from archiver.run.pipeline import run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

SHELL = """<!doctype html><html><head><meta charset="utf-8"><title>Widgets API</title>
<script src="{tracker}/tracker.js"></script></head>
<body><div id="root"></div><noscript>You need to enable JavaScript to run this app.</noscript>
<img src="{tracker}/pixel.png" alt=""><script>fetch("{tracker}/beacon", {{mode: "no-cors"}});</script>
<script src="app.js"></script></body></html>"""
APP = """fetch('data.json').then((r) => r.json()).then((d) => {
  const main = document.createElement('main');
  main.innerHTML = '<h1></h1><p></p><pre><code class="language-python"></code></pre>';
  main.querySelector('h1').textContent = d.title;
  main.querySelector('p').textContent = d.text;
  main.querySelector('code').textContent = d.code;
  document.getElementById('root').appendChild(main);
});
"""
DATA_JSON = {
    "title": "Widgets API",
    "text": "Create, list and delete widgets. Every call takes a token; the examples below show how.",
    "code": "def create(client):\n    if client.ok:\n        return client.post('/widgets', {'size': 3})\n",
}
NEVER_SETTLES = "setInterval(() => { document.getElementById('root').textContent = 'tick ' + Date.now(); }, 50);\n"
SLOW = "fetch('/slow').then(() => { document.getElementById('root').textContent = 'late'; });\n"


@pytest.fixture
def tracker() -> Iterator[FaultServer]:
    """Another origin the shell asks for a script: the browser must never reach it."""
    with FaultServer(DATA / "site_v1") as server:
        yield server


@pytest.fixture
def app_server(tmp_path: Path, tracker: FaultServer) -> Iterator[FaultServer]:
    root = tmp_path / "app"
    root.mkdir()
    (root / "index.html").write_text(SHELL.format(tracker=tracker.url.rstrip("/")))
    (root / "second.html").write_text(SHELL.format(tracker=tracker.url.rstrip("/")))
    (root / "app.js").write_text(APP)
    (root / "data.json").write_text(json.dumps(DATA_JSON))
    (root / "plain.html").write_text("<main><h1>Plain</h1><p>" + "Server-rendered text. " * 20 + "</p></main>")
    with FaultServer(root) as server:
        yield server


@pytest.fixture
def launches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ARCHIVER_CHROMIUM points at a wrapper that notes each start (its pid: the browser's, after
    exec) in the returned file, then runs the real chromium."""
    log = tmp_path / "launches.log"
    wrapper = tmp_path / "chromium-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho $$ >> "{log}"\nexec "{CHROMIUM}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("ARCHIVER_CHROMIUM", str(wrapper))
    return log


def started(log: Path) -> int:
    return len(log.read_text().split()) if log.exists() else 0


def shell_site(server: FaultServer, **fields: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {"name": "app", "pages": ["index.html"], "render_timeout": 20.0, **fields}
    return make_site(server.url, **values)


@needs_chromium
def test_client_rendered_page_is_archived_with_its_content_and_is_stable(
    app_server: FaultServer, tracker: FaultServer, archive: ArchiveRepo, launches: Path, cli
) -> None:  # type: ignore[no-untyped-def]
    config = make_config(shell_site(app_server))
    report = run(config, archive, workers=1).sites[0]

    [result] = report.results
    assert result.status is PageStatus.ADDED and result.rendered, result
    page = (archive.path / "app" / "index.md").read_text()
    assert "# Widgets API" in page and "Create, list and delete widgets." in page
    assert "```python\ndef create(client):\n    if client.ok:\n        return client.post(" in page  # indentation kept
    assert "enable JavaScript" not in page
    assert tracker.hits == {}, "a third-party request left the browser"
    assert app_server.hits.get("/index.html") == 1  # the shell is fetched once: the browser is answered from it
    assert report.to_dict()["rendered"] == 1 and started(launches) == 1
    assert StateStore(archive.state_dir).load("app").pages[result.url].rendered

    # the same docs: the same bytes, no commit (the page was rendered again: its data may have changed)
    commits = commit_count(archive.path)
    again = run(config, archive, workers=1).sites[0]
    assert again.results[0].status is PageStatus.UNCHANGED and again.results[0].rendered
    assert again.commit is None and commit_count(archive.path) == commits
    assert (archive.path / "app" / "index.md").read_text() == page
    assert app_server.hits.get("/data.json") == 2  # asked again: a change in the data is never missed

    # ... and a change in the data alone (the shell's bytes the same) is a change of the page
    (Path(app_server.root) / "data.json").write_text(json.dumps({**DATA_JSON, "text": "Widgets are now round."}))
    changed = run(config, archive, workers=1).sites[0]
    assert changed.results[0].status is PageStatus.CHANGED and changed.commit is not None
    assert "Widgets are now round." in (archive.path / "app" / "index.md").read_text()

    # archiver pages marks it
    sites_yaml = archive.path.parent / "sites.yaml"
    sites_yaml.write_text(f"sites:\n  - name: app\n    base_url: {app_server.url}\n    pages: [index.html]\n")
    listed = cli.invoke(app, ["pages", "app", "--config", str(sites_yaml), "--repo", str(archive.path)])
    assert listed.exit_code == 0, listed.output
    assert f"{app_server.url}index.html\tapp/index.md\trendered" in listed.stdout


@needs_chromium
def test_plain_html_in_auto_mode_starts_no_browser_and_one_browser_serves_a_run(
    app_server: FaultServer, archive: ArchiveRepo, launches: Path
) -> None:
    plain = make_site(app_server.url, ["plain.html"], name="plain")
    report = run(make_config(plain), archive, workers=1).sites[0]
    assert report.results[0].status is PageStatus.ADDED and not report.results[0].rendered
    assert report.to_dict()["rendered"] == 0 and started(launches) == 0

    # two sites with shells, rendered two tabs at a time: one browser for the run
    sites = [shell_site(app_server, name=f"app{i}", pages=["index.html", "second.html"]) for i in (1, 2)]
    reports = run(make_config(*sites), archive, workers=1).sites
    assert [r.rendered for r in reports] == [2, 2] and started(launches) == 1


@needs_chromium
def test_render_never_starts_no_browser_and_always_renders_plain_pages(
    app_server: FaultServer, archive: ArchiveRepo, launches: Path
) -> None:
    never = run(make_config(shell_site(app_server, render="never")), archive, workers=1).sites[0]
    assert not never.results[0].rendered and started(launches) == 0
    assert "Create, list" not in (archive.path / "app" / "index.md").read_text()  # the shell, as it came
    always = make_site(app_server.url, ["plain.html"], name="plain", render="always")
    report = run(make_config(always), archive, workers=1).sites[0]
    assert report.results[0].rendered and started(launches) == 1
    assert "Server-rendered text." in (archive.path / "plain" / "plain.md").read_text()


def first_snapshot(server: FaultServer, archive: ArchiveRepo, **fields: object) -> tuple[str, int]:
    report = run(make_config(shell_site(server, **fields)), archive, workers=1).sites[0]
    assert report.results[0].status is PageStatus.ADDED, report.results
    return (archive.path / "app" / "index.md").read_text(), commit_count(archive.path)


@needs_chromium
@pytest.mark.faults
def test_a_page_that_never_settles_fails_at_the_time_limit_and_keeps_its_snapshot(
    app_server: FaultServer, archive: ArchiveRepo
) -> None:
    before, commits = first_snapshot(app_server, archive)
    app_server.set_page("/app.js", NEVER_SETTLES.encode(), "text/javascript")
    report = run(make_config(shell_site(app_server, render_timeout=3.0)), archive, workers=1).sites[0]
    [result] = report.results
    assert result.status is PageStatus.FAILED and "did not settle within 3 s" in (result.error or "")
    assert "\n" not in (result.error or "")
    assert (archive.path / "app" / "index.md").read_text() == before and commit_count(archive.path) == commits
    assert StateStore(archive.state_dir).load("app").pages[result.url].rendered  # still asked in full next time


@needs_chromium
@pytest.mark.faults
def test_a_browser_killed_mid_page_fails_the_page_and_keeps_its_snapshot(
    app_server: FaultServer, archive: ArchiveRepo, launches: Path
) -> None:
    before, commits = first_snapshot(app_server, archive)
    app_server.set_page("/app.js", SLOW.encode(), "text/javascript")  # the page waits 3 s for /slow

    def kill_when_waiting() -> None:
        wait_for(lambda: app_server.hits.get("/slow"))
        os.kill(int(launches.read_text().split()[-1]), signal.SIGKILL)

    killer = threading.Thread(target=kill_when_waiting)
    killer.start()
    report = run(make_config(shell_site(app_server)), archive, workers=1).sites[0]
    killer.join()
    [result] = report.results
    assert result.status is PageStatus.FAILED and "browser stopped" in (result.error or ""), result
    assert (archive.path / "app" / "index.md").read_text() == before and commit_count(archive.path) == commits
    assert git(archive.path, "status", "--porcelain") == ""


@pytest.mark.faults
def test_no_browser_installed_fails_the_page_with_how_to_install_one(
    app_server: FaultServer, archive: ArchiveRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if CHROMIUM is not None:  # a first snapshot made with the browser, then the browser goes
        monkeypatch.setenv("ARCHIVER_CHROMIUM", CHROMIUM)
        before, commits = first_snapshot(app_server, archive)
    monkeypatch.setenv("ARCHIVER_CHROMIUM", str(tmp_path / "no-such-chromium"))
    report = run(make_config(shell_site(app_server)), archive, workers=1).sites[0]
    [result] = report.results
    error = result.error or ""
    assert result.status is PageStatus.FAILED and "apt-get install chromium" in error and "\n" not in error
    assert "ARCHIVER_CHROMIUM" in error
    if CHROMIUM is not None:
        assert (archive.path / "app" / "index.md").read_text() == before and commit_count(archive.path) == commits
    else:
        assert not (archive.path / "app" / "index.md").exists()


SHELLS = {
    "react": b'<html><head><title>Docs</title></head><body><div id="root"></div><script src="/main.js"></script>',
    "vue": b"<body><div id=app>Loading\xe2\x80\xa6</div><script type=module src=/assets/index.js></script></body>",
    "next, empty": b'<body><div id="__next"></div><script src="/_next/static/chunks/main.js"></script></body>',
    "nuxt": b"<body><div id='__nuxt'><!----></div><script>window.__NUXT__={}</script></body>",
    "swagger ui": b'<body><div id="swagger-ui"></div><script src="swagger-ui-bundle.js"></script>'
    b"<script>SwaggerUIBundle({url: 'openapi.json', dom_id: '#swagger-ui'})</script></body>",
    "redoc": b"<body><redoc spec-url='openapi.yaml'></redoc><script src='redoc.standalone.js'></script></body>",
}
NOT_SHELLS = {
    "next, server-rendered": b'<body><div id="__next"><main><h1>Install</h1><p>'
    + b"Run the installer, then check the version it prints. " * 5
    + b'</p></main></div><script src="/_next/static/chunks/main.js"></script></body>',
    "no script": b'<body><div id="root"></div><p>Static page.</p></body>',
    "no mount point": b'<body><div id="results"></div><script src="search.js"></script></body>',
    "text beside the mount point": b'<body><div id="app"></div><article><h1>Guide</h1><p>'
    + b"A long server-rendered article next to an interactive widget. " * 5
    + b"</p></article><script src=w.js></script></body>",
}


@pytest.mark.parametrize("name", sorted(SHELLS))
def test_app_shells_are_recognised(name: str) -> None:
    assert is_app_shell(SHELLS[name])


@pytest.mark.parametrize("name", sorted(NOT_SHELLS))
def test_pages_with_content_are_not_shells(name: str) -> None:
    assert not is_app_shell(NOT_SHELLS[name])


def test_no_server_rendered_docs_page_is_taken_for_a_shell() -> None:
    """Every page of the real corpora, the test sites and Python's own docs (when installed)."""
    roots = [CORPUS, DATA, Path("/usr/share/doc/python3.11/html")]
    pages = [p for root in roots if root.is_dir() for p in sorted(root.rglob("*.htm*"))]
    assert len(pages) > 20
    shells = [str(p) for p in pages if is_app_shell(p.read_bytes())]
    assert shells == []


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("render", "sometimes", "'auto', 'never' or 'always'"),
        ("render_tabs", "0", "greater than or equal to 1"),
        ("render_timeout", "soon", "no duration"),
    ],
)
def test_render_settings_are_checked_with_file_line_and_field(field: str, value: str, fragment: str) -> None:
    text = f"sites:\n  - name: a\n    base_url: https://x.org/\n    {field}: {value}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "s.yaml")
    assert str(info.value).startswith(f"s.yaml:4: sites[0].{field}"), str(info.value)
    assert fragment in str(info.value)
