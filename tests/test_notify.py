"""Notifications end to end: real runs, Apprise ``json://`` to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from helpers import FaultServer, git
from typer.testing import CliRunner

from archiver.archive.state import StateStore
from archiver.cli import app
from archiver.run import notify


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(self.server.delay)
        self.server.messages.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on loopback that keeps every JSON body it is sent."""

    daemon_threads = True

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.messages: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.shutdown()
        self.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, url: str, targets: list[str], extra: str = "", new: bool = False) -> Path:
    pages = "index.html, guide/, guide/auth.html, reference/api.html, old.html" + (", new.html" if new else "")
    path.write_text(
        f"notify: [{', '.join(targets)}]\n{extra}"
        f"sites:\n  - name: docs\n    base_url: {url}\n    pages: [{pages}]\n    retries: 0\n"
    )
    return path


def run(config: Path, repo: Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["run", "--config", str(config), "--repo", str(repo)], catch_exceptions=False)


def test_a_run_that_commits_sends_one_digest_with_pages_and_patch(
    tmp_path: Path, docs_server: FaultServer, site_v2: Path
) -> None:
    repo = tmp_path / "archive-repo"
    with Receiver() as rx:
        config = write_config(tmp_path / "sites.yaml", docs_server.url, [rx.url])
        assert run(config, repo).exit_code == 0
        assert len(rx.messages) == 1
        assert rx.messages[0]["title"] == "docs: first snapshot, 5 pages"
        docs_server.root = site_v2
        write_config(tmp_path / "sites.yaml", docs_server.url, [rx.url], new=True)  # v2's new page listed
        for _ in range(3):  # v2, then runs until nothing changes (a gone page may take a run more)
            result = run(config, repo)
            assert result.exit_code == 0, result.output
    # one digest per commit, none for a run that changed nothing
    assert [m["title"] for m in rx.messages] == git(repo, "log", "--reverse", "--format=%s").splitlines()
    digest = rx.messages[1]
    body = digest["message"]
    assert body.startswith(git(repo, "log", "-1", "--skip=" + str(len(rx.messages) - 2), "--format=%s").strip())
    assert "Changed:\n- guide/auth.md" in body and f"{docs_server.url}guide/auth.html" in body
    assert "Added:\n- new.md" in body and "sections: (new page)" in body
    assert "sections: # Authentication" in body
    [attachment] = digest["attachments"]
    assert attachment["filename"].startswith("docs-") and attachment["filename"].endswith(".patch")
    patch = base64.b64decode(attachment["base64"]).decode()
    assert "diff --git a/docs/guide/auth.md b/docs/guide/auth.md" in patch
    assert "+Send the `token` parameter" in patch


def test_failures_are_told_once_when_failing_and_once_when_fixed(tmp_path: Path, docs_server: FaultServer) -> None:
    repo = tmp_path / "archive-repo"
    url = f"{docs_server.url}guide/auth.html"
    with Receiver() as rx:
        config = write_config(tmp_path / "sites.yaml", docs_server.url, [rx.url], "notify_failures_after: 2\n")
        assert run(config, repo).exit_code == 0
        docs_server.set_page("/guide/auth.html", b"down", status=500)
        codes = [run(config, repo).exit_code for _ in range(3)]  # fails 1, 2 (alert), 3 (quiet)
        assert codes == [1, 1, 1]
        del docs_server.overrides["/guide/auth.html"]
        assert run(config, repo).exit_code == 0  # works again: one "no longer failing"
        assert run(config, repo).exit_code == 0  # and then nothing
    titles = [m["title"] for m in rx.messages]
    assert titles[1:] == ["docs: 1 page failing", "docs: 1 working again"]
    assert f"- {url}: " in rx.messages[1]["message"] and "HTTP 500" in rx.messages[1]["message"]
    assert f"No longer failing:\n- {url}" in rx.messages[2]["message"]
    state = StateStore(repo / ".git" / "archiver" / "state").load("docs")
    assert not state.pages[url].alerted and state.pages[url].failures == 0


def test_a_receiver_that_is_down_never_fails_the_run(tmp_path: Path, docs_server: FaultServer) -> None:
    down = f"json://127.0.0.1:{closed_port()}/hook"
    config = write_config(tmp_path / "sites.yaml", docs_server.url, [down, "notaservice://x"])
    started = time.monotonic()
    result = run(config, tmp_path / "archive-repo")
    assert result.exit_code == 0
    assert time.monotonic() - started < 20
    assert "docs: changes notification failed" in result.stderr
    assert "ignoring an invalid notification URL (notaservice://…)" in result.stderr


def test_a_slow_receiver_is_abandoned_after_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    with Receiver(delay=6.0) as slow:
        started = time.monotonic()
        message = notify.Message("docs", "changes", "docs: 1 page changed (+1 −1)", "body\n", b"patch\n", "x.patch")
        delivery = notify.send([slow.url + "?rto=2"], message, timeout=1.0)
        elapsed = time.monotonic() - started
        for thread in threading.enumerate():  # let the abandoned delivery end here, not in another test
            if thread.name.startswith("notify-"):
                thread.join(10)
    assert not delivery.ok and delivery.error == "timed out after 1 s"
    assert elapsed < 3
    assert "docs: changes notification failed: timed out after 1 s" in caplog.text
