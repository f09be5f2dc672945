"""The fault-injection suite: many runs of a site that really changes, served by a chaos server,
with SIGKILLs at random moments and runs started two at a time.

Every request is answered normally or with one fault class (5xx, 429, a reset, a truncated body, a
stall, garbage bytes, a bot challenge, an empty page, a maintenance notice), decided from the seed,
the run, the path and how often that path was asked in that run, so a seed replays the same faults.
After every run each page's file, and every version of it in every commit, must be the archiver's
Markdown of a version the server really served; after a fault-free catch-up run the archive equals
one built without faults; ``git fsck --strict`` is clean, the lock is free, no temp file is left.

``CHAOS_SEED`` picks the seed (CI uses the fixed default), ``CHAOS_SEEDS=20`` runs that many seeds
in a row from it; each prints its figure line (runs, kills, pages lost, garbage commits).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import git

from archiver.config import load_config
from archiver.convert import page_markdown
from archiver.paths import relative_path
from archiver.run.worker import rules_of

pytestmark = pytest.mark.faults

SEED = int(os.environ.get("CHAOS_SEED", "20261201"))
SEEDS = int(os.environ.get("CHAOS_SEEDS", "1"))
PAGES = [f"p{n}.html" for n in range(10)]
RUNS = 12
FAULTS = ["500", "429", "reset", "truncated", "stall", "garbage", "challenge", "empty", "maintenance"]
FAULT_RATE = 0.3


def page_html(path: str, version: int) -> bytes:
    lines = "".join(f"<p>Section {n} of {path}: the limit is {version * 10 + n} calls.</p>" for n in range(6))
    return f"<html><body><nav>menu</nav><main><h1>{path} v{version}</h1>{lines}</main></body></html>".encode()


class ChaosSite:
    """The truth: each page's version per generation, and which versions were ever served."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.run = 0
        self.versions = dict.fromkeys(PAGES, 1)
        self.served: dict[str, set[int]] = {p: {1} for p in PAGES}
        self.asked: dict[str, int] = {}
        self.faults = True
        self.lock = threading.Lock()

    def next_run(self) -> None:
        """A new deploy: a few pages really change."""
        with self.lock:
            self.run += 1
            self.asked.clear()
            rng = random.Random(f"{self.seed}:deploy:{self.run}")
            for path in rng.sample(PAGES, 3):
                self.versions[path] += 1

    def decide(self, path: str) -> tuple[str | None, int]:
        with self.lock:
            n = self.asked[path] = self.asked.get(path, 0) + 1
            version = self.versions.get(path, 0)
            rng = random.Random(f"{self.seed}:{self.run}:{path}:{n}")
            fault = rng.choice(FAULTS) if self.faults and rng.random() < FAULT_RATE else None
            if fault is None and version:
                self.served[path].add(version)
            return fault, version


class ChaosHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ChaosServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def answer(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("ctype", "text/html; charset=utf-8"))
        self.send_header("Content-Length", headers.pop("length", str(len(body))))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.lstrip("/").split("?", 1)[0]
        if path == "robots.txt" or path not in PAGES:
            self.answer(404, b"no")
            return
        fault, version = self.server.site.decide(path)
        body = page_html(path, version)
        etag = f'"{path}-{version}"'
        try:
            if fault is None:
                if self.headers.get("If-None-Match") == etag:
                    self.answer(304, b"", ETag=etag)
                else:
                    self.answer(200, body, ETag=etag)
            elif fault in ("500", "429"):
                self.answer(int(fault), b"busy", Retry_After="0")
            elif fault in ("reset", "truncated"):
                self.answer(200, body[: len(body) // 3], length=str(len(body)))
                self.close_connection = True
            elif fault == "stall":
                time.sleep(2.5)  # past the site's timeout
                self.answer(200, body, ETag=etag)
            elif fault == "garbage":
                self.answer(200, bytes(range(0x80, 0x100)) * 8, ETag='"garbage"')
            elif fault == "challenge":
                self.answer(200, b"<html><title>Just a moment...</title></html>", cf_mitigated="challenge")
            elif fault == "empty":
                self.answer(200, b"<html><body></body></html>", ETag='"empty"')
            else:
                self.answer(200, b"<main><h1>Down for maintenance</h1><p>Back soon.</p></main>", ETag='"m"')
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class ChaosServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client SIGKILLed mid-request resets its connection: expected here, not news

    def __init__(self, site: ChaosSite) -> None:
        super().__init__(("127.0.0.1", 0), ChaosHandler)
        self.site = site
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"


def _run(config: Path, repo: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "archiver", "run", "--config", str(config), "--repo", str(repo), "-q", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _acceptable(config: Path, site: ChaosSite) -> dict[str, set[str]]:
    """Each page's file → every Markdown it may hold: a version the server really served."""
    s = load_config(config).sites[0]
    out: dict[str, set[str]] = {}
    for path in PAGES:
        url = s.base_url + path
        rel = f"{s.name}/{relative_path(s.base_url, url)}"
        out[rel] = {
            page_markdown(page_html(path, v), "text/html; charset=utf-8", url, rules_of(s)).markdown
            for v in site.served[path]
        }
    return out


def _check_history(repo: Path, acceptable: dict[str, set[str]]) -> int:
    """Garbage versions in any commit of the archive (0 when every committed file was served)."""
    garbage = 0
    for sha in git(repo, "rev-list", "HEAD").split():
        for rel in git(repo, "ls-tree", "-r", "--name-only", sha).split():
            if git(repo, "show", f"{sha}:{rel}") not in acceptable.get(rel, set()):
                garbage += 1
    return garbage


def chaos(seed: int, tmp_path: Path) -> str:
    site = ChaosSite(seed)
    server = ChaosServer(site)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    config, repo = tmp_path / "sites.yaml", tmp_path / "archive-repo"
    config.write_text(
        f"sites:\n  - name: chaos\n    base_url: {server.url}\n    pages: [{', '.join(PAGES)}]\n"
        "    retries: 1\n    timeout: 1\n    robots: false\n"
    )
    rng = random.Random(f"{seed}:runs")
    kills = 0
    try:
        for _ in range(RUNS):
            site.next_run()
            mode = rng.choice(["plain", "plain", "kill", "two"])
            if mode == "kill":
                proc = _run(config, repo)
                time.sleep(rng.uniform(0.05, 1.2))
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                kills += 1
            elif mode == "two":
                first, second = _run(config, repo), _run(config, repo, "--wait", "60")
                assert first.wait(timeout=120) in (0, 1, 3) and second.wait(timeout=120) in (0, 1, 3)
            else:
                assert _run(config, repo).wait(timeout=120) in (0, 1)
            if (repo / ".git").exists() and git(repo, "rev-list", "--all").strip():
                acceptable = _acceptable(config, site)
                for rel in git(repo, "ls-files").split():
                    assert (repo / rel).read_text() in acceptable[rel], f"run {site.run}: {rel} is not a served version"
        site.faults = False  # the catch-up run: no faults
        site.next_run()
        assert _run(config, repo).wait(timeout=120) == 0
        acceptable = _acceptable(config, site)
        s = load_config(config).sites[0]
        lost = 0
        for path in PAGES:
            url = s.base_url + path
            rel = f"chaos/{relative_path(s.base_url, url)}"
            expected = page_markdown(
                page_html(path, site.versions[path]), "text/html; charset=utf-8", url, rules_of(s)
            ).markdown
            if not (repo / rel).exists() or (repo / rel).read_text() != expected:
                lost += 1
        garbage = _check_history(repo, acceptable)
        subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], check=True, capture_output=True)
        assert git(repo, "status", "--porcelain") == ""
        meta = repo / ".git" / "archiver"
        left = [p for pattern in ("*.msg", "tmp/.tmp-*", "state/.tmp-*", "bodies/*/.tmp-*") for p in meta.glob(pattern)]
        assert _run(config, repo).wait(timeout=60) == 0  # the lock is free
    finally:
        server.shutdown()
        server.server_close()
    line = f"chaos seed={seed}: runs {RUNS + 1}, kills {kills}, pages lost {lost}, garbage commits {garbage}"
    print(line)
    assert lost == 0 and garbage == 0 and left == [], line
    return line


@pytest.mark.parametrize("seed", [SEED + i for i in range(SEEDS)])
def test_chaos(seed: int, tmp_path: Path) -> None:
    chaos(seed, tmp_path)
