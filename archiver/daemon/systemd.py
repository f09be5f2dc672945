"""``archiver systemd``: a systemd user service + timer that run ``archiver run`` on the config's schedule.

The timer follows the top-level ``schedule:`` of ``sites.yaml``; per-site schedules are for
``archiver daemon`` (:func:`own_schedules` lists those the timer does not follow, for a warning).
One timer running every site, rather than one per schedule with its sites named in the unit, so
a site added to ``sites.yaml`` later is archived without installing the units again.

A cron expression becomes ``OnCalendar=`` (with ``Persistent=true``, so a run missed while the
machine was off happens at the next boot), ``every 6h`` becomes ``OnUnitActiveSec=``.
The largest site ``jitter`` becomes ``RandomizedDelaySec=``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from archiver.config import Config, Site
from archiver.schedules import cron_weekdays, parse_every

SERVICE = "archiver.service"
TIMER = "archiver.timer"
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_PLAIN_FIELD = re.compile(r"\A(\*|\d+(-\d+)?)(/\d+)?\Z")


def _calendar_field(value: str, first: int, what: str) -> str:
    """One cron field (minute, hour, day or month) in systemd's calendar syntax."""
    out = []
    for part in value.lower().split(","):
        if what == "month":
            for number, name in enumerate(MONTHS, start=1):
                part = part.replace(name, str(number))
        if not _PLAIN_FIELD.match(part):
            raise ValueError(f"the {what} field {value!r} has no simple systemd equivalent")
        span, _, step = part.partition("/")
        if span == "*":
            span = str(first) if step else "*"  # cron '*/6' is systemd '0/6' (or '1/6' for days)
        out.append(span.replace("-", "..") + (f"/{step}" if step else ""))
    return ",".join(out)


def on_calendar(expression: str) -> str:
    """The systemd ``OnCalendar=`` value for a cron expression; ValueError if it has no simple one.

    >>> on_calendar("0 */6 * * *")
    '*-*-* 0/6:0:00'
    >>> on_calendar("30 2 * * 1-5")
    'Mon,Tue,Wed,Thu,Fri *-*-* 2:30:00'
    """
    minute, hour, day, month, weekday = expression.split()
    if not day.startswith("*") and not weekday.startswith("*"):
        # cron runs when either day field matches; systemd needs both: no single equivalent
        raise ValueError(f"{expression!r} restricts both the day of month and the weekday")
    days = "" if weekday == "*" else ",".join(d.capitalize() for d in cron_weekdays(weekday)) + " "
    month = _calendar_field(month, 1, "month")
    day = _calendar_field(day, 1, "day")
    return f"{days}*-{month}-{day} {_calendar_field(hour, 0, 'hour')}:{_calendar_field(minute, 0, 'minute')}:00"


def _quote(arg: str) -> str:
    """One ExecStart= argument: specifiers (%) and variables ($) escaped, quoted if it has spaces."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if re.search(r"[\s\"'\\;]", arg):
        arg = '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return arg


def default_command() -> list[str]:
    """How to start this archiver: the ``archiver`` script beside the interpreter, else ``python -m archiver``."""
    script = Path(sys.executable).with_name("archiver")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "archiver"]


def render_units(config: Config, config_path: Path, repo_path: Path, command: Sequence[str]) -> dict[str, str]:
    """``archiver.service`` and ``archiver.timer``, by file name; ValueError for an unmappable schedule."""
    config_path, repo_path = config_path.absolute(), repo_path.absolute()
    args = [*command, "run", "--quiet", "--wait", "600", "--config", str(config_path), "--repo", str(repo_path)]
    description = f"archiver: snapshot documentation sites into {repo_path}".replace("%", "%%")
    service = [
        "[Unit]",
        f"Description={description}",
        "",
        "[Service]",
        "Type=oneshot",
        f"WorkingDirectory={str(config_path.parent).replace('%', '%%')}",
        f"ExecStart={' '.join(_quote(a) for a in args)}",
        "Environment=GIT_TERMINAL_PROMPT=0",
        "Nice=10",
        "",
    ]
    every = parse_every(config.schedule)
    if every is not None:
        when = ["OnActiveSec=1min", f"OnUnitActiveSec={every}s"]  # first run a minute after the timer starts
    else:
        when = [f"OnCalendar={on_calendar(config.schedule)}", "Persistent=true"]
    jitter = max((site.jitter for site in config.sites), default=0.0)
    if jitter > 0:
        when.append(f"RandomizedDelaySec={int(jitter)}s")
    timer = ["[Unit]", f"Description={description} ({config.schedule})", "", "[Timer]", *when, ""]
    timer += ["[Install]", "WantedBy=timers.target", ""]
    return {SERVICE: "\n".join(service), TIMER: "\n".join(timer)}


def own_schedules(config: Config) -> list[tuple[int, Site]]:
    """The sites (with their index) whose own ``schedule:`` the timer does not follow."""
    return [(i, s) for i, s in enumerate(config.sites) if s.schedule is not None and s.schedule != config.schedule]


def user_unit_dir() -> Path:
    """Where systemd looks for a user's own units: ``$XDG_CONFIG_HOME/systemd/user``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def write_units(units: dict[str, str], folder: Path) -> list[Path]:
    """Write the units into ``folder`` (created if missing); the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units.items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written
