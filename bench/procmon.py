"""Run a command as a subprocess and measure wall time and the peak memory of its whole process tree."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


@dataclass
class Measured:
    returncode: int
    wall_s: float
    peak_tree_rss_mb: float  # highest sum of RSS over the process and all its descendants, sampled
    maxrss_mb: float  # ru_maxrss from wait4(): the largest single process of the tree that was waited for
    timed_out: bool


def _children(pid: int) -> list[int]:
    """Direct children of pid, from /proc/PID/task/*/children (every thread may have forked)."""
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(k) for k in f.read().split())
        except OSError:
            continue
    return kids


def tree_rss(root: int) -> int:
    """Sum of the resident set sizes (bytes) of root and all of its descendants."""
    total = 0
    stack = [root]
    seen: set[int] = set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            continue
        stack.extend(_children(pid))
    return total


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self.stopped.wait(self.interval)


def measure(
    cmd: list[str],
    *,
    log: Path,
    timeout: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    interval: float = 0.02,
) -> Measured:
    """Run cmd (stdout and stderr to log, no stdin) and measure it; kill its whole session on timeout."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        sampler = _Sampler(proc.pid, interval)
        sampler.start()
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            # wait4 rather than proc.wait(): it also gives the rusage of this child (and what it reaped).
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
        except BaseException:
            kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
            sampler.stopped.set()
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    # Leftover descendants (daemonised workers...) must not outlive the measurement.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return Measured(
        returncode=proc.returncode,
        wall_s=wall,
        peak_tree_rss_mb=sampler.peak / MB,
        maxrss_mb=usage.ru_maxrss * 1024 / MB,  # ru_maxrss is in KiB on Linux
        timed_out=timed_out.is_set(),
    )
