"""The report's words: dates as people read them, subjects without their line counts, and why a
page went in a word or two.

Pure functions of text. What a commit's message says about each page is read by
:func:`archiver.archive.history.message_pages`, and a section said as words by
:func:`archiver.archive.patch.section_words`, for the report and the command line alike.
"""

from __future__ import annotations

import re
from datetime import datetime

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LONG_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LONG_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_STAT = re.compile(r" \(\+\d+ −\d+\)\Z")


def _date(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def strip_label(iso: str) -> str:
    """A snapshot in a day strip: ``Fri 12 18:02``."""
    d = _date(iso)
    return f"{DAYS[d.weekday()]} {d.day} {d:%H:%M}"


def day_heading(iso: str) -> str:
    """A day of the timeline: ``Friday 12 June 2026``."""
    d = _date(iso)
    return f"{LONG_DAYS[d.weekday()]} {d.day} {LONG_MONTHS[d.month - 1]} {d.year}"


def month(iso: str) -> str:
    """``June 2026``."""
    d = _date(iso)
    return f"{LONG_MONTHS[d.month - 1]} {d.year}"


def day(iso: str) -> str:
    """``Fri 12 Jun 2026``."""
    d = _date(iso)
    return f"{DAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]} {d.year}"


def when(iso: str) -> str:
    """``Fri 12 Jun 2026 18:02 UTC`` (or the commit's own offset, ``+02:00``)."""
    d = _date(iso)
    offset = d.strftime("%z")
    zone = "UTC" if offset in ("", "+0000") else f"{offset[:3]}:{offset[3:]}"
    return f"{day(iso)} {d:%H:%M} {zone}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def headline(site: str, subject: str) -> str:
    """A commit subject as a title on the site's own pages: no ``docs:`` prefix, no line counts
    (they are shown apart, without ``+0``/``−0``)."""
    return _STAT.sub("", subject.removeprefix(f"{site}: ")) or subject


def short_reason(reason: str | None) -> str:
    """Why a page went, in a word or two: ``HTTP 404``, ``HTTP 410``, ``unlisted``; else as said."""
    if not reason:
        return ""
    why = reason.removeprefix("gone: ")
    if m := re.match(r"HTTP \d{3}", why):
        return m.group()
    if why.startswith(("no longer listed", "no page lists it")):
        return "unlisted"
    return why
