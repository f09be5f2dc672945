"""The "API changes" a commit message says of each API spec it touches: written by the run
(``run.commits``), read back by ``archiver show``, the report and the digest, so git and every
view agree. Pure text, no git.

::

    API changes in openapi.yaml (2 breaking):
    - BREAKING operation removed: DELETE /pets/{id}
    - BREAKING parameter now required: GET /pets query limit
    - operation added: POST /pets
    - … and 12 more
"""

from __future__ import annotations

import re

from archiver.models import ApiChange
from archiver.text import one_line

MAX_LISTED = 40  # changes listed per spec; the rest are counted ("… and N more")
BREAKING = "BREAKING "
_HEAD = re.compile(r"^API changes in (.+?)(?: \((\d+) breaking\))?:$")
_MORE = re.compile(r"^- … and (\d+) more$")


def summary(path: str, changes: list[ApiChange], limit: int = MAX_LISTED) -> list[str]:
    """The lines of one spec's summary (none for no change), breaking changes first, capped."""
    if not changes:
        return []
    breaking = sum(1 for c in changes if c.breaking)
    head = f"API changes in {path}" + (f" ({breaking} breaking)" if breaking else "") + ":"
    ordered = [c for c in changes if c.breaking] + [c for c in changes if not c.breaking]
    lines = [one_line(head)]
    lines += [one_line(f"- {BREAKING if c.breaking else ''}{c.what}: {c.where}") for c in ordered[:limit]]
    if len(ordered) > limit:
        lines.append(f"- … and {len(ordered) - limit} more")
    return lines


class SpecSummary:
    """One spec's summary as a commit message says it."""

    __slots__ = ("breaking", "changes", "more", "path")

    def __init__(self, path: str, breaking: int) -> None:
        self.path = path
        self.breaking = breaking  # how many breaking changes (all of them, listed or not)
        self.changes: list[ApiChange] = []
        self.more = 0  # changes not listed


def parse(message: str) -> list[SpecSummary]:
    """Every "API changes in …" section of a commit message, in order."""
    out: list[SpecSummary] = []
    current: SpecSummary | None = None
    for line in message.splitlines():
        head = _HEAD.match(line)
        if head:
            current = SpecSummary(head.group(1), int(head.group(2) or 0))
            out.append(current)
        elif current is not None and line.startswith("- "):
            more = _MORE.match(line)
            if more:
                current.more = int(more.group(1))
                continue
            text = line[2:]
            breaking = text.startswith(BREAKING)
            what, _, where = text.removeprefix(BREAKING).partition(": ")
            current.changes.append(ApiChange(what, where, breaking))
        else:
            current = None
    return out
