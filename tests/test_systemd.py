"""archiver systemd: the service + timer it prints or installs, checked by systemd's own tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archiver.cli import app
from archiver.config import parse_config
from archiver.daemon.systemd import SERVICE, TIMER, on_calendar, render_units

ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def config_text(schedule: str, jitter: int = 0) -> str:
    return f"schedule: '{schedule}'\nsites:\n  - name: docs\n    base_url: http://127.0.0.1:1/\n    jitter: {jitter}\n"


@pytest.mark.parametrize(
    ("cron", "calendar"),
    [
        ("0 */6 * * *", "*-*-* 0/6:0:00"),
        ("30 2 * * 1-5", "Mon,Tue,Wed,Thu,Fri *-*-* 2:30:00"),
        ("*/15 * * * *", "*-*-* *:0/15:00"),
        ("0 0 1 * *", "*-*-1 0:0:00"),
        ("5 4 * jan-mar 7", "Sun *-1..3-* 4:5:00"),
        ("0,30 8-18 */2 * *", "*-*-1/2 8..18:0,30:00"),
    ],
)
def test_cron_becomes_on_calendar(cron: str, calendar: str) -> None:
    assert on_calendar(cron) == calendar
    if ANALYZE:
        checked = subprocess.run([ANALYZE, "calendar", calendar], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


def test_cron_with_both_day_fields_has_no_timer_equivalent() -> None:
    with pytest.raises(ValueError, match="both the day of month and the weekday"):
        on_calendar("0 0 1 * 1")


def test_cron_schedule_gives_a_persistent_calendar_timer(tmp_path: Path) -> None:
    config = parse_config(config_text("0 */6 * * *", jitter=300))
    units = render_units(config, tmp_path / "sites.yaml", tmp_path / "archive-repo", ["/opt/venv/bin/archiver"])
    timer, service = units[TIMER], units[SERVICE]
    assert "OnCalendar=*-*-* 0/6:0:00\nPersistent=true\nRandomizedDelaySec=300s\n" in timer
    assert "WantedBy=timers.target" in timer
    assert "Type=oneshot" in service
    assert f"WorkingDirectory={tmp_path}\n" in service
    assert (
        f"ExecStart=/opt/venv/bin/archiver run --quiet --wait 600 --config {tmp_path}/sites.yaml "
        f"--repo {tmp_path}/archive-repo\n"
    ) in service


def test_every_schedule_gives_a_monotonic_timer(tmp_path: Path) -> None:
    units = render_units(parse_config(config_text("every 6h")), Path("sites.yaml"), Path("repo"), ["archiver"])
    assert "OnActiveSec=1min\nOnUnitActiveSec=21600s\n" in units[TIMER]
    assert "OnCalendar" not in units[TIMER] and "RandomizedDelaySec" not in units[TIMER]
    assert f"--config {Path.cwd()}/sites.yaml" in units[SERVICE]  # relative paths made absolute


def test_print_then_install_and_systemd_accepts_the_units(cli: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "odd dir 100%"  # spaces and a % must be escaped for systemd
    folder.mkdir()
    config = folder / "sites.yaml"
    config.write_text(config_text("30 2 * * 1-5", jitter=60))

    printed = cli.invoke(app, ["systemd", "--config", str(config), "--repo", str(folder / "archive-repo")])
    assert printed.exit_code == 0, printed.stderr
    assert printed.stderr == ""  # no per-site schedule: nothing to warn about
    assert printed.stdout.startswith(f"# {SERVICE}\n[Unit]\n") and f"# {TIMER}\n[Unit]" in printed.stdout
    assert f'--config "{folder}/sites.yaml"'.replace("%", "%%") in printed.stdout

    units = tmp_path / "units"
    installed = cli.invoke(
        app,
        ["systemd", "--config", str(config), "--repo", str(folder / "archive-repo"), "--install", "--dir", str(units)],
    )
    assert installed.exit_code == 0, installed.stderr
    assert sorted(p.name for p in units.iterdir()) == [SERVICE, TIMER]
    assert "systemctl --user enable --now archiver.timer" in installed.stdout
    assert (units / SERVICE).read_text() + "\n" in printed.stdout

    if ANALYZE:  # verify needs the ExecStart binary to exist: the default command is this archiver
        verified = subprocess.run(
            [ANALYZE, "verify", str(units / SERVICE), str(units / TIMER)], capture_output=True, text=True
        )
        assert verified.returncode == 0, verified.stderr
        assert "archiver" not in verified.stderr, verified.stderr  # no warning about our units


@needs_systemd
def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above means something: systemd-analyze does reject a bad unit here."""
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nType=oneshot\nExecStart=relative/path run\n")
    assert subprocess.run([ANALYZE or "", "verify", str(bad)], capture_output=True).returncode != 0


def test_unmappable_schedule_is_a_usage_error(cli: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "sites.yaml"
    config.write_text(config_text("0 0 1 * 1"))
    result = cli.invoke(app, ["systemd", "--config", str(config)])
    assert result.exit_code == 2
    assert "cannot be a systemd timer" in result.stderr and "archiver daemon" in result.stderr


def test_unmappable_schedule_names_its_file_and_line(cli: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "sites.yaml"
    config.write_text("author: a <a@b.c>\n\nschedule: '0 0 1 * 1'\n" + config_text("every 6h").split("\n", 1)[1])
    result = cli.invoke(app, ["systemd", "--config", str(config)])
    assert result.exit_code == 2
    assert f"{config}:3: schedule: schedule '0 0 1 * 1' cannot be a systemd timer" in result.stderr


def test_per_site_schedules_the_timer_cannot_follow_are_warned_about(cli: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "sites.yaml"
    config.write_text(
        "schedule: every 6h\nsites:\n"
        "  - name: fast\n    base_url: http://127.0.0.1:1/\n    schedule: every 1h\n"
        "  - name: same\n    base_url: http://127.0.0.1:1/\n    schedule: every 6h\n"
        "  - name: plain\n    base_url: http://127.0.0.1:1/\n"
        "  - name: weekly\n    base_url: http://127.0.0.1:1/\n    schedule: '0 0 1 * 1'\n"
    )
    result = cli.invoke(app, ["systemd", "--config", str(config)])
    assert result.exit_code == 0, result.stderr
    assert "OnUnitActiveSec=21600s" in result.stdout  # the units are still printed, on the top-level schedule
    warning = " ".join(result.stderr.split())
    assert warning == (
        "warning: the timer runs every site on the top-level schedule 'every 6h'; per-site schedules are "
        f"honoured only by 'archiver daemon': fast 'every 1h' ({config}:5), weekly '0 0 1 * 1' ({config}:13)"
    )


def test_per_site_schedules_without_a_top_level_one_name_the_default(cli: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "sites.yaml"
    config.write_text("sites:\n  - name: docs\n    base_url: http://127.0.0.1:1/\n    schedule: every 1d\n")
    result = cli.invoke(app, ["systemd", "--config", str(config)])
    assert result.exit_code == 0, result.stderr
    assert "the default schedule '0 */6 * * *'" in " ".join(result.stderr.split())
