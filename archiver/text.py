"""Text from outside (URLs, server messages, page paths) made safe to put on one line of a commit
message or a terminal: no control codes, no line breaks, nothing a terminal would act on."""

from __future__ import annotations

import re

# C0 and C1 control codes (ESC included), DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def has_control(text: str) -> bool:
    """True if ``text`` holds a control code or a line separator."""
    return _CONTROL.search(text) is not None


def one_line(text: str) -> str:
    """``text`` with every control code shown as an escape (``\\n``, ``\\x1b``), so it stays one line
    and a terminal or git sees only printable characters; ordinary text is returned as it is."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
