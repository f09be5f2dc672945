"""The archive repository: writes, commits, the lock, and recovery after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import FaultServer, commit_count, git, wait_for

from archiver.archive.repo import ArchiveRepo
from archiver.errors import LockedError, StoreError
from archiver.models import PageStatus


def test_init_creates_a_repository_on_main(tmp_path: Path) -> None:
    repo = ArchiveRepo.open_or_init(tmp_path / "a" / "b")
    assert (tmp_path / "a/b/.git").is_dir()
    assert git(repo.path, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert ArchiveRepo.open_or_init(tmp_path / "a" / "b").path == repo.path  # opening again is fine


def test_open_missing_repository_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no archive repository"):
        ArchiveRepo.open(tmp_path / "nope")


def test_write_reports_added_changed_unchanged(archive: ArchiveRepo) -> None:
    assert archive.write_page("s", "a/b.md", "one\n") is PageStatus.ADDED
    assert archive.write_page("s", "a/b.md", "one\n") is PageStatus.UNCHANGED
    assert archive.write_page("s", "a/b.md", "two\n") is PageStatus.CHANGED
    assert (archive.path / "s/a/b.md").read_text() == "two\n"
    assert not list((archive.meta / "tmp").iterdir())  # no temporary files left behind


@pytest.mark.parametrize("bad", ["../escape.md", "/etc/passwd", "a/../../x.md", "", "a\\b.md"])
def test_paths_outside_the_site_folder_are_refused(archive: ArchiveRepo, bad: str) -> None:
    with pytest.raises(StoreError, match="refusing"):
        archive.write_page("s", bad, "x\n")


def test_commit_uses_the_given_identity_and_stats(tmp_path: Path) -> None:
    archive = ArchiveRepo.open_or_init(tmp_path / "archive-repo", ("Tester", "tester@example.com"))
    archive.write_page("s", "a.md", "1\n2\n")
    stats = archive.stage_site("s")
    assert [(f.path, f.added, f.removed) for f in stats] == [("s/a.md", 2, 0)]
    sha = archive.commit("s: 1 page changed (+2 −0)\n")
    assert git(archive.path, "log", "-1", "--format=%H|%an|%ae|%cn|%s").strip() == (
        f"{sha}|Tester|tester@example.com|Tester|s: 1 page changed (+2 −0)"
    )
    assert archive.stage_site("s") == []  # nothing left to commit


def test_commit_ignores_user_hooks_and_signing(archive: ArchiveRepo, tmp_path: Path) -> None:
    hook = archive.path / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    git(archive.path, "config", "commit.gpgsign", "true")
    archive.write_page("s", "a.md", "x\n")
    archive.stage_site("s")
    archive.commit("s: test\n")
    assert commit_count(archive.path) == 1


def test_remove_page_prunes_empty_folders(archive: ArchiveRepo) -> None:
    archive.write_page("s", "deep/er/x.md", "x\n")
    archive.write_page("s", "deep/y.md", "y\n")
    assert archive.remove_page("s", "deep/er/x.md")
    assert not (archive.path / "s/deep/er").exists()
    assert (archive.path / "s/deep").is_dir()
    assert not archive.remove_page("s", "deep/er/x.md")
    assert archive.page_files("s") == {"deep/y.md"}


def test_lock_excludes_a_second_holder(archive: ArchiveRepo) -> None:
    other = ArchiveRepo.open(archive.path)
    busy = rf"in use by another archiver run \(pid {os.getpid()}\)"
    with archive.lock(), pytest.raises(LockedError, match=busy), other.lock(wait=0.3):
        pass
    with other.lock():  # released when the first holder is done
        pass


def test_a_stop_cuts_a_lock_wait_short(archive: ArchiveRepo) -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with archive.lock(), pytest.raises(LockedError), ArchiveRepo.open(archive.path).lock(wait=60, stop=stop):
        pass
    assert time.monotonic() - started < 5  # not the 60 s asked for


def test_recover_commits_written_files_and_restores_deleted_ones(archive: ArchiveRepo) -> None:
    archive.write_page("s", "keep.md", "v1\n")
    archive.write_page("s", "gone.md", "v1\n")
    archive.stage_site("s")
    archive.commit("s: first\n")
    # an interrupted run: one file rewritten, one new, one deleted, nothing committed
    archive.write_page("s", "keep.md", "v2\n")
    archive.write_page("s", "new.md", "new\n")
    archive.remove_page("s", "gone.md")

    sha, touched = archive.recover("s")

    assert sha is not None and touched == {"keep.md", "new.md", "gone.md"}
    assert "recover 2 files left by an interrupted run" in git(archive.path, "log", "-1", "--format=%s")
    assert set(git(archive.path, "ls-files").split()) == {"s/keep.md", "s/gone.md", "s/new.md"}
    assert (archive.path / "s/gone.md").read_text() == "v1\n"
    assert git(archive.path, "status", "--porcelain") == ""
    assert archive.recover("s") == (None, set())


def test_stale_index_lock_is_cleared_under_the_run_lock(archive: ArchiveRepo) -> None:
    (archive.path / ".git/index.lock").write_text("")
    with archive.lock():
        archive.write_page("s", "a.md", "x\n")
        archive.stage_site("s")
        archive.commit("s: after a crash\n")
    assert not (archive.path / ".git/index.lock").exists()


def _start_run(config: Path, repo: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "archiver", "run", "--config", str(config), "--repo", str(repo), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _slow_site(tmp_path: Path, server: FaultServer) -> Path:
    config = tmp_path / "slow.yaml"
    config.write_text(
        f"sites:\n  - name: docs\n    base_url: {server.url}\n"
        "    pages: [index.html, guide/auth.html, reference/api.html, slow]\n    retries: 0\n    timeout: 20\n"
    )
    return config


def test_kill_9_mid_run_then_next_run_recovers(docs_server: FaultServer, tmp_path: Path) -> None:
    repo = tmp_path / "archive-repo"
    config = _slow_site(tmp_path, docs_server)
    proc = _start_run(config, repo)
    # the fast pages are written while /slow keeps the run from reaching its commit
    wait_for(lambda: (repo / "docs/reference/api.md").exists() and (repo / "docs/index.md").exists())
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert commit_count(repo) == 0

    done = subprocess.run(
        [sys.executable, "-m", "archiver", "run", "--config", str(config), "--repo", str(repo)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    subjects = git(repo, "log", "--format=%s").splitlines()
    assert subjects[-1].startswith("docs: recover ")  # the killed run's files, kept
    files = set(git(repo, "ls-files").split())
    assert {"docs/index.md", "docs/guide/auth.md", "docs/reference/api.md", "docs/slow.md"} == files
    assert git(repo, "status", "--porcelain") == ""
    subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], check=True, capture_output=True)


def test_two_runs_at_once_the_second_exits_with_a_clear_message(docs_server: FaultServer, tmp_path: Path) -> None:
    repo = tmp_path / "archive-repo"
    config = _slow_site(tmp_path, docs_server)
    first = _start_run(config, repo)
    wait_for(lambda: (repo / "docs/index.md").exists())

    second = _start_run(config, repo)
    _, err = second.communicate(timeout=60)
    out, first_err = first.communicate(timeout=60)

    assert second.returncode == 3
    assert "LockedError" in err and "in use by another archiver run" in err
    assert "Traceback" not in err
    assert first.returncode == 0, first_err
    assert commit_count(repo) == 1
    subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], check=True, capture_output=True)


def test_second_run_with_wait_runs_after_the_first(docs_server: FaultServer, tmp_path: Path) -> None:
    repo = tmp_path / "archive-repo"
    config = _slow_site(tmp_path, docs_server)
    first = _start_run(config, repo)
    wait_for(lambda: (repo / "docs/index.md").exists())
    second = _start_run(config, repo, "--wait", "30")
    second.communicate(timeout=60)
    first.communicate(timeout=60)
    assert (first.returncode, second.returncode) == (0, 0)
    assert commit_count(repo) == 1  # the second found nothing new
