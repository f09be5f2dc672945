"""Fixtures, all real: a loopback HTTP server, a git repository in tmp_path, the CLI runner."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archiver.archive.repo import ArchiveRepo
from archiver.config import Config, Site, parse_config
from archiver.demo.localserver import StaticHandler, StaticServer

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


class FaultHandler(StaticHandler):
    """The static site plus routes that misbehave on purpose (see ``route``)."""

    def route(self) -> bool:
        path = self.path.split("?", 1)[0]
        server: FaultServer = self.server  # type: ignore[assignment]
        server.hits[path] = server.hits.get(path, 0) + 1
        server.request_headers.append((path, dict(self.headers)))
        if path in server.overrides:
            status, body, ctype, headers = server.overrides[path]
            self.send_body(status, body, ctype, headers)
            return True
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self.send_body(code, f"<h1>status {code}</h1>".encode(), "text/html")
            return True
        if path == "/flaky":  # 503 with Retry-After once, then a page
            if server.hits[path] == 1:
                self.send_body(503, b"busy", "text/plain", {"Retry-After": "1"})
            else:
                self.send_body(200, b"<main><h1>Flaky</h1><p>now fine</p></main>", "text/html")
            return True
        if path == "/slow":
            time.sleep(3)
            self.send_body(200, b"<main><p>slow</p></main>", "text/html")
            return True
        if path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        if path == "/redirect":
            self.send_response(301)
            self.send_header("Location", "/index.html")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        if path == "/huge":  # 50 MB, streamed without a Content-Length
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"<p>" + b"x" * (1024 * 1024) + b"</p>"
            try:
                for _ in range(50):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return True
        if path == "/reset":  # headers promise a body, then the connection drops
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b"<main><p>partial")
            self.wfile.flush()
            self.close_connection = True
            return True
        return False


class FaultServer(StaticServer):
    def serve_forever(self, poll_interval: float = 0.02) -> None:
        # notice shutdown within 20 ms instead of 500 ms: half a second saved per test
        super().serve_forever(poll_interval)

    def __init__(self, root: Path) -> None:
        super().__init__(root, handler=FaultHandler)
        self.hits: dict[str, int] = {}
        self.request_headers: list[tuple[str, dict[str, str]]] = []
        self.overrides: dict[str, tuple[int, bytes, str, dict[str, str]]] = {}

    def set_page(self, path: str, body: bytes, ctype: str = "text/html", status: int = 200, **headers: str) -> None:
        """Answer ``path`` with a fixed response (overrides the files)."""
        self.overrides[path] = (status, body, ctype, headers)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config, no proxies, a fixed timezone: tests behave the same anywhere."""
    home = tmp_path_factory.mktemp("home")
    empty = home / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("TZ", "UTC")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def site_v1() -> Path:
    return DATA / "site_v1"


@pytest.fixture
def site_v2() -> Path:
    return DATA / "site_v2"


@pytest.fixture
def docs_server(site_v1: Path) -> Iterator[FaultServer]:
    """A real HTTP server on 127.0.0.1 serving tests/data/site_v1; set ``.root`` to switch."""
    with FaultServer(site_v1) as server:
        yield server


@pytest.fixture
def archive(tmp_path: Path) -> ArchiveRepo:
    return ArchiveRepo.open_or_init(tmp_path / "archive-repo")


SITE_PAGES = ["index.html", "guide/", "guide/auth.html", "reference/api.html", "old.html", "new.html"]


def make_site(url: str, pages: list[str] | None = None, **fields: object) -> Site:
    """A Site for the test server with fast-failing defaults (no retries, short timeout)."""
    # remove_after=1: a 404 removes at once, so one run shows a removal (the default, 2, has its own tests)
    values: dict[str, object] = {
        "name": "docs",
        "base_url": url,
        "pages": pages or SITE_PAGES,
        "retries": 0,
        "remove_after": 1,
    }
    values["timeout"] = 5.0
    values.update(fields)
    return Site.model_validate(values)


def make_config(*sites: Site) -> Config:
    return Config(sites=list(sites))


@pytest.fixture
def sites_yaml(tmp_path: Path, docs_server: FaultServer) -> Path:
    """A sites.yaml pointing at the test server."""
    path = tmp_path / "sites.yaml"
    pages = ", ".join(SITE_PAGES)
    path.write_text(
        f"sites:\n  - name: docs\n    base_url: {docs_server.url}\n    pages: [{pages}]\n"
        "    retries: 0\n    remove_after: 1\n"
    )
    parse_config(path.read_text(), str(path))  # the fixture itself must be valid
    return path


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def git(repo: Path, *args: str) -> str:
    """Run plain git in ``repo`` (tests check the archive with git itself)."""
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=os.environ.copy()
    ).stdout


def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    """Poll ``predicate`` every 50 ms until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def commit_count(repo: Path) -> int:
    try:
        return int(git(repo, "rev-list", "--count", "HEAD").strip())
    except subprocess.CalledProcessError:
        return 0
