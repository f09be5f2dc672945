"""What the tests share, besides the fixtures in conftest.py: the misbehaving test server, site and
config builders, git helpers, and a real archive with several snapshots on known dates.

The history archive (:func:`build`): ``docs`` gets four snapshots (v1, v2, then two edits of
guide/auth.md) and ``other`` one in between, so "the site's second-latest snapshot" and "the last
snapshot on a day" are not simply HEAD~1 or a date in git's own sense.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from archiver.archive.repo import ArchiveRepo
from archiver.config import Config, Site
from archiver.demo.localserver import StaticHandler, StaticServer
from archiver.run import pipeline

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


class FaultHandler(StaticHandler):
    """The static site plus routes that misbehave on purpose (see ``route``)."""

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        """Only negotiated pages answer a HEAD (with the type a GET would get); the rest say 405."""
        path = self.path.split("?", 1)[0]
        server: FaultServer = self.server  # type: ignore[assignment]
        server.heads.append((path, dict(self.headers)))
        if path not in server.negotiated:
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        markdown = "text/markdown" in self.headers.get("Accept", "")
        self.send_response(200)
        self.send_header("Content-Type", "text/markdown; charset=utf-8" if markdown else "text/html; charset=utf-8")
        self.send_header("Vary", "Accept")
        self.end_headers()

    def route(self) -> bool:
        path = self.path.split("?", 1)[0]
        server: FaultServer = self.server  # type: ignore[assignment]
        server.hits[path] = server.hits.get(path, 0) + 1
        server.request_headers.append((path, dict(self.headers)))
        if path in server.overrides:
            status, body, ctype, headers = server.overrides[path]
            self.send_body(status, body, ctype, headers)
            return True
        if path in server.negotiated:  # Markdown for Accept: text/markdown, else HTML; says it varies
            html, markdown = server.negotiated[path]
            if "text/markdown" in self.headers.get("Accept", ""):
                self.send_body(200, markdown, "text/markdown; charset=utf-8", {"Vary": "Accept"})
            else:
                self.send_body(200, html, "text/html; charset=utf-8", {"Vary": "Accept"})
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
        if path.startswith("/slow/"):  # any page under /slow/ answers after a second
            time.sleep(1)
            name = path.rsplit("/", 1)[1]
            text = f"<main><h1>Slow {name}</h1><p>{'This page takes its time to arrive. ' * 8}</p></main>"
            self.send_body(200, text.encode(), "text/html")
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

    def __init__(self, root: Path, handler: type[FaultHandler] = FaultHandler) -> None:
        super().__init__(root, handler=handler)
        self.hits: dict[str, int] = {}
        self.request_headers: list[tuple[str, dict[str, str]]] = []
        self.overrides: dict[str, tuple[int, bytes, str, dict[str, str]]] = {}
        self.negotiated: dict[str, tuple[bytes, bytes]] = {}
        self.heads: list[tuple[str, dict[str, str]]] = []

    def set_page(self, path: str, body: bytes, ctype: str = "text/html", status: int = 200, **headers: str) -> None:
        """Answer ``path`` with a fixed response (overrides the files)."""
        self.overrides[path] = (status, body, ctype, headers)


SITE_PAGES = ["index.html", "guide/", "guide/auth.html", "reference/api.html", "old.html", "new.html"]
V1_PAGES = SITE_PAGES[:-1]  # what site_v1 serves (new.html comes with site_v2)


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


# --- a real archive with history -------------------------------------------------------------

FILLER = "".join(f"<p>Token rule {n}: keep tokens out of logs.</p>\n" for n in range(1, 13))
AUTH_V3 = f"""<!doctype html><html lang="en"><head><title>Auth</title></head><body><main>
<h1>Authentication</h1>
<p>Send the <code>token</code> parameter with every request &amp; keep it secret.</p>
<h2>Tokens</h2>
{FILLER}<h2>Examples</h2>
<pre><code class="language-python"># not a heading
client = Client(token="&lt;script&gt;alert(1)&lt;/script&gt;")
print(client.get("/items"))
</code></pre>
<p>Never paste a &lt;script&gt;alert("xss")&lt;/script&gt; tag or &lt;b&gt;markup&lt;/b&gt; &amp; such here.</p>
<h2>Errors</h2>
<p>Error 401 means the token expired.</p>
<p>Error 403 means the token lacks a scope.</p>
</main></body></html>
"""
AUTH_V4 = AUTH_V3.replace('client.get("/items")', 'client.get("/items", limit=5)').replace(
    "the token expired.", "the token has expired or was revoked."
)
DATES = [
    "2026-06-01T10:00:00+00:00",
    "2026-06-05T09:00:00+00:00",
    "2026-06-10T12:00:00+00:00",
    "2026-06-12T08:00:00+00:00",
]
OTHER_DATE = "2026-06-07T00:00:00+00:00"


@dataclass
class Built:
    repo: Path
    docs: list[str]  # the shas of docs' snapshots, oldest first
    other: str
    url: str
    archive: ArchiveRepo
    server: FaultServer


def isolate(mp: pytest.MonkeyPatch, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "gitconfig").write_text("")
    mp.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
    mp.setenv("TZ", "UTC")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "NO_PROXY"):
        mp.delenv(var, raising=False)


def snapshot(mp: pytest.MonkeyPatch, config, archive: ArchiveRepo, site, when: str) -> str:  # type: ignore[no-untyped-def]
    """One real run of ``site`` whose commit is dated ``when``; its sha."""
    mp.setenv("GIT_AUTHOR_DATE", when)
    mp.setenv("GIT_COMMITTER_DATE", when)
    report = pipeline.run(config, archive, [site], workers=1)
    commit = report.sites[0].commit
    assert commit, report
    return commit


def build(root: Path, server: FaultServer, mp: pytest.MonkeyPatch) -> Built:
    """Archive ``docs`` four times and ``other`` once through ``server`` into ``root/archive-repo``."""
    isolate(mp, root / "home")
    docs = make_site(server.url, name="docs")
    other = make_site(server.url, ["index.html"], name="other")
    config = make_config(docs, other)
    archive = ArchiveRepo.open_or_init(root / "archive-repo")
    server.root = DATA / "site_v1"
    shas = [snapshot(mp, config, archive, docs, DATES[0])]
    server.root = DATA / "site_v2"
    shas.append(snapshot(mp, config, archive, docs, DATES[1]))
    other_sha = snapshot(mp, config, archive, other, OTHER_DATE)
    server.set_page("/guide/auth.html", AUTH_V3.encode())
    shas.append(snapshot(mp, config, archive, docs, DATES[2]))
    server.set_page("/guide/auth.html", AUTH_V4.encode())
    shas.append(snapshot(mp, config, archive, docs, DATES[3]))
    mp.delenv("GIT_AUTHOR_DATE")
    mp.delenv("GIT_COMMITTER_DATE")
    assert os.environ.get("TZ") == "UTC"
    return Built(root / "archive-repo", shas, other_sha, server.url, archive, server)
