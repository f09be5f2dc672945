"""Pushing the archive to a remote: real bare repositories in tmp_path, good, rejecting and missing."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
from helpers import FaultServer, commit_count, git
from typer.testing import CliRunner

from archiver.archive.push import push, redact_url
from archiver.archive.repo import ArchiveRepo
from archiver.cli import app
from archiver.config import parse_config
from archiver.errors import ConfigError


def bare(path: Path, *, reject: bool = False) -> Path:
    git(path.parent, "init", "--quiet", "--bare", str(path))
    if reject:
        hook = path / "hooks/pre-receive"
        hook.write_text("#!/bin/sh\necho 'archive is read-only today' >&2\nexit 1\n")
        hook.chmod(0o755)
    return path


def config_with_remote(tmp_path: Path, server: FaultServer, remote: str) -> Path:
    path = tmp_path / "sites.yaml"
    path.write_text(
        f"remote: {remote}\nsites:\n  - name: docs\n    base_url: {server.url}\n"
        "    pages: [index.html, guide/auth.html]\n    retries: 0\n"
    )
    return path


def run_json(cli: CliRunner, config: Path, repo: Path):  # type: ignore[no-untyped-def]
    result = cli.invoke(app, ["run", "--json", "--config", str(config), "--repo", str(repo)])
    return result, json.loads(result.stdout)


def committed(archive: ArchiveRepo) -> str:
    archive.write_page("s", "a.md", "x\n")
    archive.stage_site("s")
    return archive.commit("s: test\n")


def test_run_pushes_to_a_url_remote_and_reports_it_in_json(
    cli: CliRunner, docs_server: FaultServer, tmp_path: Path
) -> None:
    remote = bare(tmp_path / "remote.git")
    config = config_with_remote(tmp_path, docs_server, str(remote))
    repo = tmp_path / "archive-repo"

    result, data = run_json(cli, config, repo)

    assert result.exit_code == 0, result.stderr
    head = git(repo, "rev-parse", "HEAD").strip()
    assert data["ok"] is True and data["exit_code"] == 0
    assert data["push"] == {"remote": str(remote), "ok": True, "pushed": True, "commit": head, "error": None}
    site = data["sites"][0]
    assert (site["site"], site["fetched"], site["added"], site["failed"], site["commit"]) == ("docs", 2, 2, 0, head)
    assert git(remote, "rev-parse", "main").strip() == head
    assert git(repo, "remote", "get-url", "archive").strip() == str(remote)  # the remote archiver manages

    again, data = run_json(cli, config, repo)  # nothing new: the push finds the remote up to date
    assert again.exit_code == 0 and data["push"]["ok"] and not data["push"]["pushed"]

    moved = bare(tmp_path / "moved.git")
    config.write_text(config.read_text().replace(str(remote), str(moved)))
    third, data = run_json(cli, config, repo)  # remote: changed: the 'archive' remote follows
    assert third.exit_code == 0 and data["push"]["pushed"]
    assert git(moved, "rev-parse", "main").strip() == head


def test_a_rejected_push_keeps_the_commit_exits_1_and_the_next_run_pushes_it(
    cli: CliRunner, docs_server: FaultServer, tmp_path: Path
) -> None:
    remote = bare(tmp_path / "remote.git", reject=True)
    config = config_with_remote(tmp_path, docs_server, str(remote))
    repo = tmp_path / "archive-repo"

    result = cli.invoke(app, ["run", "--config", str(config), "--repo", str(repo)])

    assert result.exit_code == 1
    assert commit_count(repo) == 1  # the local commit is kept
    assert "push to" in result.stderr and "[remote rejected] (pre-receive hook declined)" in result.stderr
    assert "the remote said: archive is read-only today" in result.stderr
    assert git(remote, "for-each-ref").strip() == ""

    (remote / "hooks/pre-receive").unlink()  # the remote accepts again
    result, data = run_json(cli, config, repo)
    assert result.exit_code == 0 and data["push"]["pushed"]  # a run with nothing new still pushes
    assert commit_count(repo) == 1
    assert git(remote, "rev-parse", "main") == git(repo, "rev-parse", "HEAD")


def test_an_unreachable_remote_is_retried_then_reported_and_pushed_once_it_is_back(
    archive: ArchiveRepo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    head = committed(archive)
    later = tmp_path / "later.git"

    result = push(archive, str(later), attempts=3, backoff=0.01)

    assert not result.ok and result.commit == head and not result.pushed
    assert result.error and "does not appear to be a git repository" in result.error
    retries = [r for r in caplog.records if r.levelno == logging.WARNING and "retrying in" in r.getMessage()]
    assert len(retries) == 2  # three attempts in all
    assert git(archive.path, "rev-parse", "HEAD").strip() == head

    bare(later)
    back = push(archive, str(later), attempts=1)
    assert back.ok and back.pushed and git(later, "rev-parse", "main").strip() == head


def test_the_remote_moved_on_is_rejected_never_forced(archive: ArchiveRepo, tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    committed(archive)
    assert push(archive, str(remote)).pushed
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", "--branch", "main", str(remote), str(other))
    git(other, "-c", "user.name=o", "-c", "user.email=o@o", "commit", "--quiet", "--allow-empty", "-m", "theirs")
    git(other, "push", "--quiet", "origin", "main")
    archive.write_page("s", "b.md", "y\n")
    archive.stage_site("s")
    ours = archive.commit("s: ours\n")

    result = push(archive, str(remote), attempts=3, backoff=0.01)

    assert not result.ok and result.error and "rejected" in result.error
    assert git(remote, "log", "-1", "--format=%s", "main").strip() == "theirs"  # nothing overwritten
    assert git(archive.path, "rev-parse", "HEAD").strip() == ours


def test_credentials_never_reach_messages_or_the_config(archive: ArchiveRepo) -> None:
    committed(archive)
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    git(archive.path, "remote", "add", "origin", f"http://user:s3cret@127.0.0.1:{port}/x.git")

    result = push(archive, "origin", attempts=1)

    assert not result.ok and result.error
    assert "s3cret" not in result.error and "user" not in result.error
    assert redact_url("see https://me:tok@example.com/r.git and ssh://git@host/x") == (
        "see https://example.com/r.git and ssh://host/x"
    )
    with pytest.raises(ConfigError, match="remote must not contain a password"):
        parse_config("remote: https://me:tok@example.com/r.git\nsites:\n  - {name: d, base_url: 'https://x.org/'}\n")


def test_a_remote_name_that_does_not_exist_is_reported(archive: ArchiveRepo) -> None:
    committed(archive)
    result = push(archive, "backup")
    assert not result.ok and result.error and "has no git remote named 'backup'" in result.error


def test_nothing_to_push_before_the_first_commit(archive: ArchiveRepo, tmp_path: Path) -> None:
    result = push(archive, str(bare(tmp_path / "remote.git")))
    assert result.ok and not result.pushed and result.commit is None
