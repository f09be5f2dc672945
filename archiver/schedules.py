"""Schedules: the grammar (``every 6h`` or a 5-field cron expression), checked here for the config,
and APScheduler triggers with cron's meaning.

APScheduler 3's ``CronTrigger.from_crontab`` differs from cron in two ways that would silently
shift runs (see https://github.com/agronholm/apscheduler/issues/286): it counts weekdays from
Monday = 0, and it requires the day of month *and* the weekday to match where cron runs when
*either* matches. :func:`make_trigger` translates weekdays to names and builds an ``OrTrigger``
for the either-or case, so ``0 3 * * 0`` runs on Sundays, as it would under cron.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # APScheduler is imported when a trigger is built, not when this module is
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

_EVERY = re.compile(r"\Aevery\s+(?P<n>\d+)\s*(?P<unit>s|m|h|d)\Z")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(value: str) -> int | None:
    """Seconds for ``every 6h`` / ``every 30m`` / ``every 1d`` / ``every 90s``; None if not that form."""
    m = _EVERY.match(value.strip())
    return int(m.group("n")) * _UNIT_SECONDS[m.group("unit")] if m else None


_DURATION = re.compile(r"\A(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d)\Z")


def parse_duration(value: str) -> float | None:
    """Seconds for ``90s`` / ``30m`` / ``6h`` / ``1d`` (or a bare number of seconds); None otherwise."""
    text = value.strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    m = _DURATION.match(text)
    return float(m.group("n")) * _UNIT_SECONDS[m.group("unit")] if m else None


def check_schedule(value: str) -> str:
    """Accept ``every <n><s|m|h|d>`` or a 5-field cron expression (validated by APScheduler)."""
    every = parse_every(value)
    if every is not None:
        if every < 1:
            raise ValueError(f"schedule {value!r}: the interval must be at least 1 second")
        return value.strip()
    # the daemon's own trigger is built here too, so a typo is a config error at load time, not a
    # surprise when the daemon first schedules the job
    try:
        cron_trigger(value.strip())
    except ValueError as exc:
        raise ValueError(
            f"schedule {value!r} is neither 'every <n>s|m|h|d' nor a valid cron expression: {exc}"
        ) from None
    return value.strip()


DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron numbering: 0 (and 7) is Sunday


def _day_number(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token in DAY_NAMES:
        return DAY_NAMES.index(token)
    raise ValueError(f"bad day of week {token!r} (use 0-7, where 0 and 7 are Sunday, or sun-sat)")


def cron_weekdays(field: str) -> list[str]:
    """The days a cron weekday field selects, as names: ``1-5`` → mon … fri, ``0,7`` → sun."""
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        if step_text and not (step_text.isdigit() and int(step_text) > 0):
            raise ValueError(f"bad step in day of week {part!r}")
        step = int(step_text or 1)
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            first, last = span.split("-", 1)
            low, high = _day_number(first), _day_number(last)
        else:
            low = _day_number(span)
            high = 7 if step_text else low
        if low > high:
            raise ValueError(f"bad day-of-week range {part!r}: it runs backwards")
        days.update(day % 7 for day in range(low, high + 1, step))
    return [DAY_NAMES[day] for day in sorted(days)]


def cron_trigger(expression: str, jitter: float | None = None) -> CronTrigger | OrTrigger:
    """A trigger firing exactly when cron would run ``expression``; ValueError if it is not valid."""
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"a cron expression has 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    common: dict[str, Any] = {"minute": minute, "hour": hour, "month": month}
    if weekday == "*":
        return CronTrigger(day=day, jitter=jitter, **common)
    days = ",".join(cron_weekdays(weekday))
    if day.startswith("*") or weekday.startswith("*"):
        # cron ANDs the two day fields when either starts with '*'; CronTrigger always ANDs
        return CronTrigger(day=day, day_of_week=days, jitter=jitter, **common)
    return OrTrigger([CronTrigger(day=day, **common), CronTrigger(day_of_week=days, **common)], jitter=jitter)


def make_trigger(schedule: str, jitter: float = 0.0) -> IntervalTrigger | CronTrigger | OrTrigger:
    """The trigger for a schedule that :func:`check_schedule` accepted."""
    every = parse_every(schedule)
    if every is not None:
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(seconds=every, jitter=jitter or None)
    return cron_trigger(schedule, jitter or None)


def first_run(schedule: str, last_run: datetime | None, now: datetime) -> datetime:
    """When a site's job should first run after the daemon starts.

    Right away if the site was never archived or a scheduled run was missed since its last run
    (the daemon was down); otherwise at the slot that follows its last run, so restarting the
    daemon neither skips a run nor adds one.
    """
    if last_run is None:
        return now
    every = parse_every(schedule)
    if every is not None:
        due: datetime | None = last_run + timedelta(seconds=every)
    else:
        due = cron_trigger(schedule).get_next_fire_time(None, last_run)
    return now if due is None or due <= now else due


_PERIOD = re.compile(r"\A(?P<n>\d+)\s*(?P<unit>h|d|w)\Z")
_PERIOD_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400}
PERIOD_HINT = "write 24h, 7d, 2w or a date (2026-06-01)"


def period_start(value: str, now: datetime) -> datetime:
    """Where a period that ends ``now`` begins: ``24h``, ``7d``, ``2w`` back from ``now``, or a date
    (its midnight, UTC) or date and time (UTC unless it says its zone). ValueError otherwise."""
    text = value.strip().lower()
    m = _PERIOD.match(text)
    if m:
        return now - timedelta(seconds=int(m.group("n")) * _PERIOD_SECONDS[m.group("unit")])
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is no period: {PERIOD_HINT}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
