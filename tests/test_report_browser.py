"""The report in a real headless browser (Debian's chromium): it loads from file:// with no console
errors, the known change is in the rendered DOM, and a screenshot of a snapshot page is kept."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from helpers import DATA, Built, FaultServer, build

from archiver.report.build import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--window-size=1280,2000",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with pytest.MonkeyPatch.context() as mp, FaultServer(DATA / "site_v1") as server:
        yield build(tmp_path_factory.mktemp("browser"), server, mp)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


def test_snapshot_page_in_a_browser(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_report(built.repo, out)
    page = out / "docs" / "snap" / f"{built.docs[3]}.html"

    dumped = chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    console = [line for line in dumped.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []  # no console messages at all: no script, nothing failed to load
    dom = lxml.html.fromstring(dumped.stdout)
    assert len(dom.cssselect("h1")) == 1 and dom.get("lang") == "en"
    added = [tr.text_content() for tr in dom.cssselect("tr.add")]
    assert any("Error 401 means the token has expired or was revoked." in row for row in added)
    assert any("Error 401 means the token expired." in tr.text_content() for tr in dom.cssselect("tr.del"))
    assert not dom.cssselect("script")
    assert dom.cssselect("details.fold")  # collapsed context, openable without JavaScript

    shot = tmp_path / "snapshot-page.png"
    taken = chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    print(f"screenshot of a snapshot page: {shot}")
