"""Every run tells the truth (issue 12, items 1-8), through the real command line.

Each test is one way a new user's first minutes went silently wrong: a site that cannot be reached,
a typo in ``pages:``, an archive that cannot be written, brackets eaten by the terminal's markup,
``status`` hiding a failed run, files only their owner can read, a ``base_url`` copied from the
address bar, ``--repo`` pointed at a folder full of something else.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

from helpers import FaultServer, git
from typer.testing import CliRunner

from archiver.cli import app


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(path: Path, body: str) -> Path:
    path.write_text("sites:\n" + body)
    return path


def test_a_first_run_whose_every_page_fails_says_so(tmp_path: Path) -> None:
    port = closed_port()
    cfg = config(
        tmp_path / "sites.yaml",
        f"  - name: offline\n    base_url: http://127.0.0.1:{port}/\n    pages: [a.html, b.html]\n    retries: 0\n",
    )
    repo = tmp_path / "archive-repo"
    result = invoke("run", "--config", str(cfg), "--repo", str(repo), "--quiet")
    assert result.exit_code == 1
    assert "git add" not in result.output and "pathspec" not in result.output
    assert result.stderr.count(f"cannot reach 127.0.0.1:{port} (connection refused)") == 2  # each page, once
    row = next(line for line in result.stdout.splitlines() if "offline" in line)
    assert row.split("│")[-3].strip() == "2"  # the failed column
    data = json.loads(invoke("run", "--config", str(cfg), "--repo", str(repo), "--json").stdout)
    assert len(data["sites"][0]["failures"]) == 2 and data["exit_code"] == 1
    status = invoke("status", "--config", str(cfg), "--repo", str(repo))
    assert "never" not in status.stdout
    assert f"offline: failing http://127.0.0.1:{port}/a.html" in status.stdout


def test_an_unreachable_host_is_not_blamed_on_robots_txt(tmp_path: Path) -> None:
    port = closed_port()
    cfg = config(
        tmp_path / "sites.yaml",
        f"  - name: down\n    base_url: http://127.0.0.1:{port}/\n    crawl: {{}}\n    retries: 0\n",
    )
    repo = tmp_path / "archive-repo"
    result = invoke("run", "--config", str(cfg), "--repo", str(repo))
    assert result.exit_code == 1
    assert f"down: cannot reach 127.0.0.1:{port} (connection refused); nothing changed" in result.stderr
    assert "robots" not in result.stderr
    assert result.stderr.count("cannot reach") == 1  # said once
    status = invoke("status", "--config", str(cfg), "--repo", str(repo))  # the failed run, not "never"
    assert "error" in status.stdout and "down: last run failed: cannot reach" in status.stdout


def test_status_shows_a_failed_run_after_a_good_one(docs_server: FaultServer, tmp_path: Path) -> None:
    cfg = config(
        tmp_path / "sites.yaml",
        f"  - name: docs\n    base_url: {docs_server.url}\n    sitemap: {docs_server.url}sitemap.xml\n"
        "    retries: 0\n    robots: false\n",
    )
    docs_server.set_page(
        "/sitemap.xml",
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{docs_server.url}index.html</loc>'
        "</url></urlset>".encode(),
        "application/xml",
    )
    repo = tmp_path / "archive-repo"
    assert invoke("run", "--config", str(cfg), "--repo", str(repo)).exit_code == 0
    docs_server.set_page("/sitemap.xml", b"down", status=503)
    assert invoke("run", "--config", str(cfg), "--repo", str(repo)).exit_code == 1
    status = invoke("status", "--config", str(cfg), "--repo", str(repo))
    assert "docs: last run failed: page discovery failed" in status.stdout


def test_a_hand_listed_page_that_was_never_there_is_a_failure(docs_server: FaultServer, tmp_path: Path) -> None:
    cfg = config(
        tmp_path / "sites.yaml",
        f"  - name: docs\n    base_url: {docs_server.url}\n    pages: [index.html, idnex.html]\n",
    )
    result = invoke("run", "--config", str(cfg), "--repo", str(tmp_path / "r"))
    assert result.exit_code == 1
    assert f"failed {docs_server.url}idnex.html" in result.stderr and "HTTP 404: check the URL" in result.stderr


def test_an_archive_that_cannot_be_written_is_one_line_and_exit_3(docs_server: FaultServer, tmp_path: Path) -> None:
    cfg = config(tmp_path / "sites.yaml", f"  - name: docs\n    base_url: {docs_server.url}\n    pages: [index.html]\n")
    repo = tmp_path / "archive-repo"
    git(tmp_path, "init", "-q", str(repo))
    (repo / ".git" / "archiver").write_text("not a folder")  # what a read-only disk does to the lock: OSError
    result = invoke("run", "--config", str(cfg), "--repo", str(repo))
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot write to the archive {repo}" in lines[0]


def test_square_brackets_survive_in_messages(tmp_path: Path) -> None:
    cfg = config(tmp_path / "sites.yaml", "  - name: Bad Name\n    base_url: https://docs.example.com/\n")
    result = invoke("run", "--config", str(cfg), "--repo", str(tmp_path / "r"))
    assert result.exit_code == 2 and "[a-z0-9][a-z0-9._-]*" in result.stderr


def test_content_selector_note_keeps_its_brackets(docs_server: FaultServer, tmp_path: Path) -> None:
    cfg = config(
        tmp_path / "sites.yaml",
        f"  - name: docs\n    base_url: {docs_server.url}\n    pages: [index.html]\n    content: ['[role=nope]']\n",
    )
    result = invoke("run", "--config", str(cfg), "--repo", str(tmp_path / "r"))
    assert "content selectors ['[role=nope]'] matched nothing" in result.stderr


def test_files_follow_the_umask(docs_server: FaultServer, tmp_path: Path) -> None:
    """In a real process with umask 002: pages, state and report pages are 0664, not 0600."""
    cfg = config(tmp_path / "sites.yaml", f"  - name: docs\n    base_url: {docs_server.url}\n    pages: [index.html]\n")
    repo = tmp_path / "archive-repo"
    code = "import os, sys; os.umask(0o002); from archiver.cli import main; sys.argv = sys.argv[1:]; main()"
    for args in (
        ["run", "--config", str(cfg), "--repo", str(repo)],
        ["report", "--repo", str(repo), "--out", str(tmp_path / "site")],
    ):
        subprocess.run(
            [sys.executable, "-c", code, "archiver", *args], check=True, capture_output=True, env=os.environ.copy()
        )
    for path in (repo / "docs/index.md", tmp_path / "site/index.html"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o664, path


def test_a_base_url_ending_in_a_file_is_a_did_you_mean(tmp_path: Path) -> None:
    cfg = config(tmp_path / "sites.yaml", "  - name: docs\n    base_url: https://docs.example.com/guide/index.html\n")
    result = invoke("run", "--config", str(cfg), "--repo", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert f"{cfg}:3: sites[0].base_url:" in result.stderr
    assert "Did you mean base_url: https://docs.example.com/guide/ with pages: [index.html]" in result.stderr


def test_repo_must_not_be_a_folder_of_something_else(docs_server: FaultServer, tmp_path: Path) -> None:
    cfg = config(tmp_path / "sites.yaml", f"  - name: docs\n    base_url: {docs_server.url}\n    pages: [index.html]\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    result = invoke("run", "--config", str(cfg), "--repo", str(home))
    assert result.exit_code == 3 and "a folder with files in it but no git repository" in result.stderr
    assert not (home / ".git").exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = invoke("run", "--config", str(cfg), "--repo", str(afile))
    assert result.exit_code == 3 and "is a file, not a folder" in result.stderr


def test_a_rules_commit_is_said_badged_and_kept_out_of_the_feeds(docs_server: FaultServer, tmp_path: Path) -> None:
    """Issue 12, item 15: a re-render under new rules is archiver's change, not the docs'."""
    cfg = config(tmp_path / "sites.yaml", f"  - name: docs\n    base_url: {docs_server.url}\n    pages: [index.html]\n")
    repo = tmp_path / "archive-repo"
    assert invoke("run", "--config", str(cfg), "--repo", str(repo)).exit_code == 0
    cfg.write_text(cfg.read_text() + "    strip: [img]\n")  # new rules: the logo goes
    result = invoke("run", "--config", str(cfg), "--repo", str(repo))
    rules_sha = git(repo, "log", "-1", "--format=%H", "--grep=Change-Kind: rules").strip()
    assert rules_sha and f"docs: re-rendered under new rules (or new site chrome) in {rules_sha[:10]}" in result.stderr
    out = tmp_path / "site"
    assert invoke("report", "--repo", str(repo), "--out", str(out)).exit_code == 0
    timeline = (out / "docs/index.html").read_text()
    row = next(line for line in timeline.split("<li>") if rules_sha in line)
    assert 'class="badge"' in row and ">rules<" in row
    for feed in (out / "docs/feed.xml", out / "feed.xml"):
        text = feed.read_text()
        assert rules_sha not in text and "re-rendered" not in text
        assert "first snapshot" in text  # the docs' own snapshot is there
