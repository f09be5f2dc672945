"""The report in a real headless browser (Debian's chromium), at 1400 and 400 px wide: every page
loads with no console errors, none is wider than the screen at 400 px (``scrollWidth``, measured
by a test-only harness page that holds the report's pages in iframes), the known change is in the
rendered DOM, and screenshots of each kind of page are kept in ``test-artifacts/report/``."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import lxml.html
import pytest
from helpers import DATA, Built, FaultServer, build

from archiver.report.build import build_report
from archiver.report.sitedata import history_file, version_file

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "report"
WIDTHS = (1400, 400)
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
    "--hide-scrollbars",
]
# measures each iframe's page once all have loaded; only the harness has a script, never the report
HARNESS = """<!doctype html><html><head><meta charset="utf-8"></head><body>{frames}<pre id="out">pending</pre>
<script>
window.addEventListener("load", () => {{
  const found = [];
  for (const frame of document.querySelectorAll("iframe")) {{
    const root = frame.contentDocument.documentElement;
    const wide = [...root.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > root.clientWidth + 0.5)
      .slice(0, 5).map((el) => el.tagName + "." + el.className);
    found.push({{page: frame.getAttribute("src"), width: frame.width,
                scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, wide}});
  }}
  document.getElementById("out").textContent = JSON.stringify(found);
}});
</script></body></html>"""
WIDE = b'<!doctype html><meta name="viewport" content="width=device-width"><pre>' + b"x" * 600 + b"</pre>"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with pytest.MonkeyPatch.context() as mp, FaultServer(DATA / "site_v1") as server:
        yield build(tmp_path_factory.mktemp("browser"), server, mp)


@pytest.fixture(scope="module")
def report(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "site"
    build_report(built.repo, out, web_url="https://git.example/c/{sha}")
    return out


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def kinds_of_page(built: Built, report: Path) -> dict[str, Path]:
    """One page of each kind (the snapshot with a removed page, the page with most versions)."""
    auth = "docs/guide/auth.md"
    blob = subprocess.run(
        ["git", "-C", str(built.repo), "rev-parse", f"{built.docs[3]}:{auth}"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "index": report / "index.html",
        "timeline": report / "docs" / "index.html",
        "snapshot": report / "docs" / "snap" / f"{built.docs[1]}.html",
        "snapshot-diff": report / "docs" / "snap" / f"{built.docs[3]}.html",
        "page-history": report / "docs" / history_file(auth),
        "page-version": report / "docs" / version_file(auth, blob),
    }


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_screenshots_of_each_kind_of_page_at_1400_and_400_px(built: Built, report: Path, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    jobs = [(name, page, width) for name, page in kinds_of_page(built, report).items() for width in WIDTHS]

    def shoot(job: tuple[str, Path, int]) -> Path:
        name, page, width = job
        shot = ARTIFACTS / f"{name}-{width}.png"
        shot.unlink(missing_ok=True)
        taken = chromium(
            tmp_path / f"profile-{name}-{width}", f"--screenshot={shot}", f"--window-size={width},2000", page.as_uri()
        )
        assert taken.returncode == 0, taken.stderr[-2000:]
        return shot

    with ThreadPoolExecutor(4) as pool:
        shots = list(pool.map(shoot, jobs))
    for (_, _, width), shot in zip(jobs, shots, strict=True):
        assert png_size(shot) == (width, 2000) and shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")


def test_no_page_is_wider_than_the_screen_and_none_logs_to_the_console(report: Path, tmp_path: Path) -> None:
    pages = sorted(p.relative_to(report).as_posix() for p in report.rglob("*.html"))
    assert len(pages) > 20
    frames = "".join(
        f'<iframe src="/{page}" width="{width}" height="900"></iframe>'
        for width in WIDTHS
        for page in [*pages, "_wide.html"]
    )
    with FaultServer(report) as server:  # same origin as the harness, so it may read the frames' layout
        server.set_page("/_harness.html", HARNESS.format(frames=frames).encode())
        server.set_page("/_wide.html", WIDE)  # the control: a page that does overflow
        dumped = chromium(
            tmp_path / "profile",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1600,1000",
            "--virtual-time-budget=15000",
            "--dump-dom",
            server.url + "_harness.html",
        )
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_lines(dumped.stderr) == []  # no page logged anything: no script, nothing failed to load
    found = json.loads(lxml.html.fromstring(dumped.stdout).get_element_by_id("out").text)
    assert len(found) == 2 * (len(pages) + 1)
    control = [f for f in found if f["page"] == "/_wide.html"]
    assert all(f["scrollWidth"] > f["clientWidth"] + 100 for f in control)  # the measurement can fail
    too_wide = [f for f in found if f["page"] != "/_wide.html" and f["scrollWidth"] > f["clientWidth"]]
    assert too_wide == []
    assert {f["clientWidth"] for f in found if f["width"] == "400"} <= set(range(360, 401))  # a 400 px screen


def test_snapshot_page_from_file_in_a_browser(built: Built, report: Path, tmp_path: Path) -> None:
    page = report / "docs" / "snap" / f"{built.docs[3]}.html"
    dumped = chromium(tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_lines(dumped.stderr) == []
    dom = lxml.html.fromstring(dumped.stdout)
    assert len(dom.cssselect("h1")) == 1 and dom.get("lang") == "en"
    added = [tr.text_content() for tr in dom.cssselect("tr.add")]
    assert any("Error 401 means the token has expired or was revoked." in row for row in added)
    assert any("Error 401 means the token expired." in tr.text_content() for tr in dom.cssselect("tr.del"))
    assert not dom.cssselect("script")
    assert dom.cssselect("details.fold")  # collapsed context, openable without JavaScript
