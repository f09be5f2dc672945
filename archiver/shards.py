"""Share the sites among N machines: ``--shard K/N`` takes the sites whose name hashes to slot K.

The slot is a hash of the site's name alone (BLAKE2b, 64 bits, modulo N), so it is the same on
every machine and in every run, and a site keeps its shard when other sites are added to or
removed from ``sites.yaml``. Changing N moves sites between shards; each shard then archives its
new sites from scratch in its own repository. Shards are counted from 1, as people say them
(``1/4`` … ``4/4``); in a Kubernetes Indexed Job that is ``$((JOB_COMPLETION_INDEX + 1))/4``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SPEC = re.compile(r"\A\s*(\d+)\s*/\s*(\d+)\s*\Z")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def takes(self, name: str) -> bool:
        """True if the site called ``name`` belongs to this shard."""
        return slot(name, self.count) == self.index - 1

    @property
    def label(self) -> str:
        """The shard in a file or repository name: ``2-of-4``."""
        return f"{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def slot(name: str, count: int) -> int:
    """The 0-based slot of site ``name`` among ``count`` shards."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def parse_shard(text: str) -> Shard:
    """``"2/4"`` → Shard(2, 4); a ValueError saying what to write otherwise."""
    match = _SPEC.match(text)
    if not match:
        raise ValueError(f"expected K/N such as 1/4 (shard K of N), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise ValueError(f"shard {index}/{count} does not exist: N is at least 1")
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count} does not exist: K goes from 1 to N (1/{count} … {count}/{count})")
    return Shard(index, count)
