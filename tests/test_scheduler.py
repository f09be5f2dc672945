"""archiver daemon: triggers with cron's meaning, runs that never overlap, reload, faults, SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import FaultServer, commit_count, git, wait_for
from typer.testing import CliRunner

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import SCHEDULE_FILE, read_next_runs
from archiver.cli import app
from archiver.config import parse_config
from archiver.daemon.scheduler import Daemon, SiteRun
from archiver.errors import ConfigError
from archiver.schedules import cron_trigger, cron_weekdays, first_run

NOW = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)  # a Wednesday


def write_sites(path: Path, server: FaultServer, sites: dict[str, str], *, remote: Path | None = None) -> Path:
    """A sites.yaml with one site per entry: name → "schedule | page, page…"."""
    lines = [f"remote: {remote}"] if remote else []
    lines.append("sites:")
    for name, spec in sites.items():
        schedule, pages = (part.strip() for part in spec.split("|"))
        lines += [
            f"  - name: {name}",
            f"    base_url: {server.url}",
            f"    pages: [{pages}]",
            f"    schedule: {schedule}",
            "    retries: 0",
            "    timeout: 20",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def runs() -> list[SiteRun]:
    return []


@pytest.fixture
def started(tmp_path: Path, runs: list[SiteRun]) -> Iterator[Callable[..., Daemon]]:
    """Start a Daemon on tmp_path/sites.yaml (written by the test) and always stop it."""
    daemons: list[Daemon] = []

    def start(**options: object) -> Daemon:
        daemon = Daemon(tmp_path / "sites.yaml", tmp_path / "archive-repo", on_run=runs.append, **options)  # type: ignore[arg-type]
        daemons.append(daemon)
        daemon.start()
        return daemon

    yield start
    for daemon in daemons:
        daemon.stop()


# --- schedules -----------------------------------------------------------------------------------


def test_invalid_cron_is_a_config_error_naming_the_site() -> None:
    text = (
        "sites:\n  - name: good\n    base_url: http://127.0.0.1:1/\n    schedule: every 6h\n"
        "  - name: bad\n    base_url: http://127.0.0.1:1/\n    schedule: '61 */6 * * *'\n"
    )
    with pytest.raises(ConfigError, match=r"sites\.yaml:7: sites\[1\]\.schedule: schedule '61 \*/6 \* \* \*'"):
        parse_config(text)


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("0", ["sun"]),
        ("7", ["sun"]),
        ("1-5", ["mon", "tue", "wed", "thu", "fri"]),
        ("5-7", ["sun", "fri", "sat"]),
        ("*/3", ["sun", "wed", "sat"]),
        ("MON,wed", ["mon", "wed"]),
    ],
)
def test_cron_weekdays_count_from_sunday_like_cron(field: str, days: list[str]) -> None:
    assert cron_weekdays(field) == days


def test_cron_trigger_keeps_crons_meaning() -> None:
    sunday = cron_trigger("0 3 * * 0").get_next_fire_time(None, NOW)
    assert sunday == datetime(2026, 6, 7, 3, 0, tzinfo=UTC)  # APScheduler's own from_crontab says Monday
    # cron runs when the day of month OR the weekday matches
    either = cron_trigger("0 0 1,4 * 1")
    assert either.get_next_fire_time(None, NOW) == datetime(2026, 6, 4, tzinfo=UTC)  # the 4th, a Thursday
    assert either.get_next_fire_time(None, NOW + timedelta(days=2)) == datetime(2026, 6, 8, tzinfo=UTC)  # Monday


def test_first_run_catches_up_but_never_doubles() -> None:
    assert first_run("every 6h", None, NOW) == NOW  # never archived: now
    assert first_run("every 6h", NOW - timedelta(hours=2), NOW) == NOW + timedelta(hours=4)
    assert first_run("every 6h", NOW - timedelta(hours=7), NOW) == NOW  # a run was missed
    later = NOW + timedelta(minutes=30)
    assert first_run("0 */6 * * *", NOW + timedelta(minutes=5), later) == NOW + timedelta(hours=6)
    assert first_run("0 */6 * * *", NOW - timedelta(hours=1), later) == later  # the 12:00 run was missed


# --- the daemon in this process ------------------------------------------------------------------


def test_runs_happen_are_pushed_and_logged_and_status_shows_the_next_run(
    docs_server: FaultServer,
    tmp_path: Path,
    runs: list[SiteRun],
    started: Callable[..., Daemon],
    caplog: pytest.LogCaptureFixture,
    cli: CliRunner,
) -> None:
    caplog.set_level(logging.INFO, logger="archiver")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    config = write_sites(
        tmp_path / "sites.yaml", docs_server, {"docs": "every 1s | index.html, guide/auth.html"}, remote=remote
    )
    repo = tmp_path / "archive-repo"

    daemon = started()
    wait_for(lambda: len(runs) >= 2)
    status = cli.invoke(app, ["status", "--config", str(config), "--repo", str(repo)])
    next_runs = read_next_runs(ArchiveRepo.open(repo).meta)
    daemon.stop()

    first, second = runs[0], runs[1]
    assert first.report is not None and first.report.commit and first.push and first.push.pushed
    assert second.report is not None and second.report.commit is None and second.push and second.push.ok
    assert second.started >= first.finished
    assert git(remote, "rev-parse", "main") == git(repo, "rev-parse", "HEAD")
    assert commit_count(repo) == 1
    heartbeat = [r.getMessage() for r in caplog.records if r.getMessage().startswith("docs: fetched=")]
    assert heartbeat[0] == (
        f"docs: fetched=2 changed=0 added=2 removed=0 failed=0 commit={first.report.commit[:10]} push=ok"
        f" in {(first.finished - first.started).total_seconds():.1f} s"
    )
    assert len(heartbeat) >= 2  # one line per run
    assert next_runs is not None and set(next_runs) == {"docs"}
    assert status.exit_code == 0 and "next run" in status.stdout
    assert not (repo / ".git/archiver" / SCHEDULE_FILE).exists()  # a stopped daemon leaves no schedule
    assert read_next_runs(ArchiveRepo.open(repo).meta) is None


def test_a_run_longer_than_its_interval_never_overlaps(
    docs_server: FaultServer,
    tmp_path: Path,
    runs: list[SiteRun],
    started: Callable[..., Daemon],
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_sites(tmp_path / "sites.yaml", docs_server, {"docs": "every 1s | index.html, slow"})
    daemon = started()
    wait_for(lambda: len(runs) >= 2, timeout=30)
    daemon.request_stop()
    hits = docs_server.hits.get("/slow", 0)
    daemon.stop()

    assert all(r.report and r.report.error is None for r in runs)
    assert all(later.started >= earlier.finished for earlier, later in zip(runs, runs[1:], strict=False))
    assert all((r.finished - r.started).total_seconds() >= 3 for r in runs)  # each run outlasted 1 s
    assert hits <= len(runs) + 1  # /slow was fetched once per run: no second run alongside
    assert "maximum number of running instances reached" in caplog.text  # APScheduler skipped the extra firings


def test_reload_on_request_keeps_old_jobs_on_a_bad_config_and_picks_up_a_changed_file(
    docs_server: FaultServer, tmp_path: Path, runs: list[SiteRun], caplog: pytest.LogCaptureFixture
) -> None:
    config = write_sites(tmp_path / "sites.yaml", docs_server, {"docs": "every 1h | index.html"})
    daemon = Daemon(config, tmp_path / "archive-repo", on_run=runs.append)
    thread = threading.Thread(target=daemon.run_forever, kwargs={"handle_signals": False})
    thread.start()
    try:
        wait_for(lambda: len(runs) == 1)  # never archived: runs at once, then not for an hour

        config.write_text("sites:\n  - name: docs\n    base_url: nope\n")
        daemon.request_reload()  # what SIGHUP does
        wait_for(lambda: "config not reloaded, the current schedule stays" in caplog.text)
        assert daemon.config is not None and daemon.config.sites[0].base_url == docs_server.url

        write_sites(config, docs_server, {"docs": "every 1h | index.html", "more": "every 1s | index.html"})
        daemon.request_reload()
        wait_for(lambda: any(r.site == "more" for r in runs))
        assert [r.site for r in runs].count("docs") == 1  # docs kept its slot

        # no signal this time: the changed file is noticed before the next run
        write_sites(config, docs_server, {"docs": "every 1h | index.html", "more": "every 1s | index.html, guide/"})
        os.utime(config, ns=(time.time_ns(), time.time_ns() + 10**9))
        wait_for(lambda: any(r.site == "more" and r.report and r.report.fetched == 2 for r in runs))
    finally:
        daemon.request_stop()
        thread.join(30)
    assert not thread.is_alive()


def test_a_broken_site_folder_or_a_deleted_archive_is_logged_and_the_daemon_keeps_going(
    docs_server: FaultServer,
    tmp_path: Path,
    runs: list[SiteRun],
    started: Callable[..., Daemon],
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_sites(tmp_path / "sites.yaml", docs_server, {"a": "every 1s | index.html", "b": "every 1s | guide/auth.html"})
    repo = tmp_path / "archive-repo"
    started()
    wait_for(lambda: {r.site for r in runs} == {"a", "b"})

    with ArchiveRepo.open(repo).lock(wait=10):  # the daemon's runs wait meanwhile
        # a's folder becomes a file, committed so that recovery cannot bring the folder back
        git(repo, "rm", "-r", "--quiet", "a")
        (repo / "a").write_text("not a folder\n")
        git(repo, "add", "a")
        git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "break a")
    docs_server.set_page("/guide/auth.html", b"<main><h1>Auth v2</h1></main>")  # b has news
    mark = len(runs)
    wait_for(lambda: any(r.site == "a" and r.report and r.report.error for r in runs[mark:]))
    wait_for(lambda: any(r.site == "b" and r.report and r.report.commit for r in runs[mark:]))
    assert "a: fetched=" in caplog.text and "error:" in caplog.text

    shutil.rmtree(repo)  # the whole archive goes away
    mark = len(runs)
    wait_for(lambda: len([r for r in runs[mark:] if r.error]) >= 2)
    assert "no archive repository here" in (runs[-1].error or "")
    assert not repo.exists()  # the daemon never recreates a deleted archive behind your back


# --- the daemon as a process: SIGTERM in the middle of a run --------------------------------------


def test_sigterm_mid_run_finishes_the_commit_and_exits_0(docs_server: FaultServer, tmp_path: Path) -> None:
    config = write_sites(
        tmp_path / "sites.yaml", docs_server, {"docs": "every 1h | index.html, reference/api.html, slow"}
    )
    repo = tmp_path / "archive-repo"
    command = [sys.executable, "-m", "archiver", "daemon", "--config", str(config), "--repo", str(repo)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (repo / "docs/index.md").exists() and (repo / "docs/reference/api.md").exists())
        assert docs_server.hits.get("/slow") == 1 and commit_count(repo) == 0  # mid-run: /slow is in flight
        proc.send_signal(signal.SIGTERM)
        _, log = proc.communicate(timeout=30)
    finally:
        proc.kill()

    assert proc.returncode == 0, log
    assert "SIGTERM received" in log and "archiver daemon stopped" in log
    assert "docs: fetched=3 changed=0 added=3" in log  # the heartbeat of the run it let finish
    assert commit_count(repo) == 1  # the whole run's commit: never a partial one
    assert git(repo, "status", "--porcelain") == ""
    subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], check=True, capture_output=True)
    assert json.loads((repo / ".git/archiver/state/docs.json").read_text())["last_run"]["commit"]

    docs_server.set_page("/slow", b"<main><p>slow</p></main>")  # same page, without the wait
    again = subprocess.run(
        [sys.executable, "-m", "archiver", "run", "--config", str(config), "--repo", str(repo)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert "recover" not in git(repo, "log", "--format=%s")  # the next start found nothing to repair
    assert commit_count(repo) == 1


def test_the_daemon_sends_the_digest_after_a_run_that_committed(
    docs_server: FaultServer, tmp_path: Path, runs: list[SiteRun], started: Callable[..., Daemon]
) -> None:
    from test_notify import Receiver

    with Receiver() as receiver:
        config = write_sites(tmp_path / "sites.yaml", docs_server, {"docs": "every 1s | index.html, guide/auth.html"})
        config.write_text(f"notify: [{receiver.url}]\n" + config.read_text())
        daemon = started()
        wait_for(lambda: len(runs) >= 2 and receiver.messages)
        daemon.stop()
    assert runs[0].report is not None and runs[0].report.commit
    digests = [m for m in receiver.messages if "docs" in json.dumps(m)]
    assert len(digests) == 1  # the first run committed; the second had nothing to tell
    assert "guide/auth.md" in json.dumps(digests[0])


# --- the report the daemon keeps -----------------------------------------------------------------


def test_the_daemon_keeps_the_report_current_after_each_committed_run(
    docs_server: FaultServer, tmp_path: Path, runs: list[SiteRun], started: Callable[..., Daemon]
) -> None:
    config = write_sites(tmp_path / "sites.yaml", docs_server, {"docs": "every 1s | index.html, guide/auth.html"})
    config.write_text("report: changes\nreport_base_url: https://example.org/docs-changes\n" + config.read_text())
    report = tmp_path / "changes"  # relative to the folder of sites.yaml, not to the current directory
    started()
    wait_for(lambda: runs and runs[0].report and runs[0].report.commit)
    first = runs[0].report.commit if runs[0].report else None
    feed = report / "docs/feed.xml"  # (a build writes the snapshot pages first, the feeds after them)
    wait_for(lambda: (report / "docs/snap" / f"{first}.html").exists() and feed.exists() and first in feed.read_text())
    assert "https://example.org/docs-changes/docs/feed.xml" in feed.read_text()

    docs_server.set_page("/guide/auth.html", b"<main><h1>Auth v2</h1><p>Tokens now expire.</p></main>")
    wait_for(lambda: any(r.report and r.report.commit not in (None, first) for r in runs))
    second = next(r.report.commit for r in runs if r.report and r.report.commit not in (None, first))
    wait_for(lambda: (report / "docs/snap" / f"{second}.html").exists() and second in feed.read_text())
    assert "Tokens now expire." in (report / "docs/snap" / f"{second}.html").read_text()
    wait_for(lambda: second in (report / "docs/index.html").read_text())
    assert not (Path.cwd() / "changes").exists()


def test_the_report_option_overrides_the_file_and_the_report_is_built_at_start(
    docs_server: FaultServer, tmp_path: Path, runs: list[SiteRun], started: Callable[..., Daemon], cli: CliRunner
) -> None:
    config = write_sites(tmp_path / "sites.yaml", docs_server, {"docs": "every 1h | index.html"})
    repo = tmp_path / "archive-repo"
    assert cli.invoke(app, ["run", "--config", str(config), "--repo", str(repo)]).exit_code == 0
    sha = git(repo, "rev-parse", "HEAD").strip()
    config.write_text("report: from-the-file\n" + config.read_text())

    started(report=tmp_path / "given")  # archived a moment ago: the next run is in an hour
    wait_for(lambda: (tmp_path / "given/docs/snap" / f"{sha}.html").exists())
    assert runs == [] and not (tmp_path / "from-the-file").exists()


def test_a_report_that_cannot_be_written_is_logged_and_the_runs_go_on(
    docs_server: FaultServer,
    tmp_path: Path,
    runs: list[SiteRun],
    started: Callable[..., Daemon],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = write_sites(tmp_path / "sites.yaml", docs_server, {"docs": "every 1s | index.html"})
    (tmp_path / "taken").write_text("a file, not a folder\n")
    config.write_text("report: taken\n" + config.read_text())
    started()
    wait_for(lambda: len(runs) >= 3)
    assert runs[0].report and runs[0].report.commit
    assert all(r.report and r.report.error is None for r in runs)
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("report not updated")]
    assert failures and failures[0].startswith(f"report not updated in {tmp_path / 'taken'}: ")
    assert "\n" not in failures[0]


def test_a_report_inside_the_archive_is_refused_at_start(docs_server: FaultServer, tmp_path: Path) -> None:
    config = write_sites(tmp_path / "sites.yaml", docs_server, {"docs": "every 1h | index.html"})
    config.write_text("report: archive-repo/report\n" + config.read_text())
    with pytest.raises(ConfigError, match=r"sites\.yaml:1: report: .* is inside the archive repository"):
        Daemon(config, tmp_path / "archive-repo").start()


def test_a_report_added_by_a_reload_is_built_at_once(
    docs_server: FaultServer, tmp_path: Path, runs: list[SiteRun], started: Callable[..., Daemon]
) -> None:
    config = write_sites(tmp_path / "sites.yaml", docs_server, {"docs": "every 1h | index.html"})
    daemon = started()
    wait_for(lambda: len(runs) == 1)  # committed, and no report asked for yet
    assert not (tmp_path / "later").exists()
    config.write_text("report: later\n" + config.read_text())
    assert daemon.reload()
    sha = runs[0].report.commit if runs[0].report else None
    wait_for(lambda: (tmp_path / "later/docs/snap" / f"{sha}.html").exists())
    assert len(runs) == 1  # built without waiting for the next run


def test_a_sharded_daemon_schedules_and_runs_only_its_shards_sites(
    docs_server: FaultServer, tmp_path: Path, runs: list[SiteRun], started: Callable[..., Daemon]
) -> None:
    from archiver.shards import Shard

    names = [f"site{i}" for i in range(6)]
    write_sites(tmp_path / "sites.yaml", docs_server, dict.fromkeys(names, "every 1h | index.html"))
    shard = Shard(2, 3)
    mine = {n for n in names if shard.takes(n)}
    assert mine and mine != set(names)  # (fixed by the names: some, not all)
    daemon = started(shard=shard)
    assert daemon.config is not None and {s.name for s in daemon.config.sites} == mine
    wait_for(lambda: {r.site for r in runs} == mine)  # never archived: each runs at once
    time.sleep(0.5)
    assert sorted(r.site for r in runs) == sorted(mine)  # and no other shard's site ever ran


def test_a_per_site_daemon_runs_each_site_into_its_own_repository(
    docs_server: FaultServer, tmp_path: Path, runs: list[SiteRun], started: Callable[..., Daemon], cli: CliRunner
) -> None:
    config = write_sites(tmp_path / "sites.yaml", docs_server, {"a": "every 1h | index.html", "b": "every 1h | guide/"})
    config.write_text("layout: per-site\n" + config.read_text())
    started()
    wait_for(lambda: {r.site for r in runs} == {"a", "b"})
    root = tmp_path / "archive-repo"
    assert not (root / ".git").exists()
    for run in runs:
        assert run.report is not None and run.report.commit
        assert git(root / run.site, "rev-parse", "HEAD").strip() == run.report.commit
        assert git(root / run.site, "ls-tree", "--name-only", "HEAD").split() == [run.site]
    status = cli.invoke(app, ["status", "--config", str(config), "--repo", str(root)])
    assert status.exit_code == 0, status.stderr
    assert "next run" in status.stdout  # the daemon's schedule, kept beside the site repositories
