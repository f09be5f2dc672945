"""Benchmark: archiver vs urlwatch vs markdownify alone, over the Python 3.11 docs served by nginx locally.

Run with the project venv:  .venv/bin/python bench/run.py [--limit N] [--only archiver,urlwatch,markdownify]
See bench/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from procmon import MB, Measured, measure
from server import apt_install, nginx

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
LOGS = OUT / "logs"
DOCS_SRC = Path("/usr/share/doc/python3.11/html")
URLWATCH_VENV = BENCH / ".venv-urlwatch"
URLWATCH_PINS = ["urlwatch==2.29", "html2text"]
TOOLS = ("archiver", "urlwatch", "markdownify")
RUNS = ("first", "no-change", "edit")
EDIT_MARK = "<p>"
EDIT_WORD = "Edited "


@dataclass
class Row:
    tool: str
    run: str
    pages: int
    returncode: int
    wall_s: float
    pages_per_s: float
    peak_tree_rss_mb: float
    maxrss_mb: float
    store_mb: float | None
    timed_out: bool
    log: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Results:
    pages: int
    edit_page: str
    machine: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    markdownify: dict[str, Any] = field(default_factory=dict)
    ratios: list[dict[str, Any]] = field(default_factory=list)


def sh(cmd: list[str]) -> str:
    out: str = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
    return out


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(var, None)
    # Start-up counts: a tool caches its bytecode, as a pip-installed one has it (this machine turns it off).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", EDITOR="true", VISUAL="true")
    return env


def du_mb(path: Path) -> float:
    return int(sh(["du", "-sb", str(path)]).split()[0]) / MB


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# ---------------------------------------------------------------- setup


def ensure_system_packages() -> None:
    missing = []
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        missing.append("nginx-light")
    if not (DOCS_SRC / "index.html").exists():
        missing.append("python3.11-doc")
    apt_install(missing)


def ensure_urlwatch() -> Path:
    exe = URLWATCH_VENV / "bin" / "urlwatch"
    if exe.exists():
        ok = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
        if ok.returncode == 0 and ok.stdout.split()[-1:] == ["2.29"]:
            return exe
    print(f"setup: creating {URLWATCH_VENV.relative_to(REPO)} with {' '.join(URLWATCH_PINS)}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(URLWATCH_VENV)], check=True)
    subprocess.run([str(URLWATCH_VENV / "bin" / "pip"), "install", "-q", *URLWATCH_PINS], check=True)
    return exe


def prepare_docroot(limit: int | None) -> tuple[Path, list[str]]:
    docroot = OUT / "docroot"
    if docroot.exists():
        shutil.rmtree(docroot)
    shutil.copytree(DOCS_SRC, docroot, ignore_dangling_symlinks=True)
    pages = sorted(p.relative_to(docroot).as_posix() for p in docroot.rglob("*.html"))
    return docroot, pages[:limit]


def edit_page(docroot: Path, page: str) -> None:
    """Add a word at the start of the first paragraph of the page's main text."""
    path = docroot / page
    html = path.read_text(encoding="utf-8")
    main = html.find('role="main"')
    at = html.find(EDIT_MARK, max(main, 0))
    if at < 0:
        raise RuntimeError(f"no {EDIT_MARK!r} in {page} to edit")
    at += len(EDIT_MARK)
    path.write_text(html[:at] + EDIT_WORD + html[at:], encoding="utf-8")  # new mtime and size: new ETag


# ---------------------------------------------------------------- tools


class Tool:
    name = ""

    def __init__(self, work: Path, pages: list[str], timeout: float) -> None:
        self.work = work
        self.pages = pages
        self.timeout = timeout
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)

    def command(self) -> list[str]:
        raise NotImplementedError

    def store_mb(self) -> float | None:
        raise NotImplementedError

    def checks(self, run: str) -> list[Check]:
        return []

    def run(self, run: str) -> Row:
        log = LOGS / f"{self.name}-{run}.log"
        for n in itertools.count(2):
            if not log.exists():
                break
            log = LOGS / f"{self.name}-{run}-{n}.log"
        print(f"  {self.name:<9} {run:<9} ...", end="", flush=True)
        m: Measured = measure(self.command(), log=log, timeout=self.timeout, cwd=self.work, env=tool_env())
        row = Row(
            tool=self.name,
            run=run,
            pages=len(self.pages),
            returncode=m.returncode,
            wall_s=m.wall_s,
            pages_per_s=len(self.pages) / m.wall_s,
            peak_tree_rss_mb=m.peak_tree_rss_mb,
            maxrss_mb=m.maxrss_mb,
            store_mb=self.store_mb(),
            timed_out=m.timed_out,
            log=str(log.relative_to(BENCH)),
        )
        status = "ok" if row.ok else ("TIMED OUT" if m.timed_out else f"FAILED (exit {m.returncode})")
        print(f" {m.wall_s:8.2f} s  {m.peak_tree_rss_mb:7.1f} MB  {status}", flush=True)
        if not row.ok:
            print(f"--- last lines of {log}:\n{tail(log)}\n---", flush=True)
        return row


class Archiver(Tool):
    name = "archiver"

    def __init__(self, work: Path, pages: list[str], timeout: float, exe: Path, port: int) -> None:
        super().__init__(work, pages, timeout)
        self.exe = exe
        self.config = work / "sites.yaml"
        self.repo = work / "archive-repo"
        lines = [
            "sites:",
            "  - name: pydocs",
            f"    base_url: {json.dumps(f'http://127.0.0.1:{port}/')}",
            "    pages:",
        ]
        lines += [f"      - {json.dumps(page)}" for page in pages]
        self.config.write_text("\n".join(lines) + "\n")
        self.head: str | None = None

    def command(self) -> list[str]:
        return [str(self.exe), "run", "--config", str(self.config), "--repo", str(self.repo)]

    def store_mb(self) -> float | None:
        return du_mb(self.repo) if self.repo.exists() else None

    def git(self, *args: str) -> str:
        return sh(["git", "-C", str(self.repo), *args])

    def checks(self, run: str) -> list[Check]:
        before, self.head = self.head, self.git("rev-parse", "HEAD").strip()
        if run == "first":
            files = len(self.git("ls-files").splitlines())
            return [
                Check(
                    "archiver first run: files in the archive",
                    files >= len(self.pages),
                    f"{files} files tracked for {len(self.pages)} pages",
                )
            ]
        if run == "no-change":
            return [
                Check("archiver no-change run: no new commit", self.head == before, f"HEAD {self.head[:12]}"),
            ]
        stat = self.git("show", "--stat", "--format=%h %s", "HEAD")
        changed = self.git("show", "--name-only", "--format=", "HEAD").split()
        print(
            "  git show --stat HEAD:",
            *[f"    {line}" for line in stat.splitlines() if line.strip()],
            sep="\n",
        )
        return [
            Check(
                "archiver edit run: exactly one file changed in the last commit",
                len(changed) == 1 and self.head != before,
                ", ".join(changed) or "(none)",
            )
        ]


class Urlwatch(Tool):
    name = "urlwatch"

    def __init__(
        self,
        work: Path,
        pages: list[str],
        timeout: float,
        exe: Path,
        port: int,
        method: str,
    ) -> None:
        super().__init__(work, pages, timeout)
        self.exe = exe
        self.urls = work / "urls.yaml"
        self.config = work / "urlwatch.yaml"
        self.cache = work / "cache.db"
        jobs = [
            {
                "name": page,
                "url": f"http://127.0.0.1:{port}/{page}",
                "filter": [{"html2text": {"method": method}}],
            }
            for page in pages
        ]
        # JSON is valid YAML: one YAML document per job.
        self.urls.write_text("\n---\n".join(json.dumps(job) for job in jobs) + "\n")
        # Defaults are merged in by urlwatch; switch off every reporter that is on by default.
        reporters_off = {"stdout": {"enabled": False}, "email": {"enabled": False}}
        self.config.write_text(json.dumps({"report": reporters_off}))
        self.rows = 0

    def command(self) -> list[str]:
        return [
            str(self.exe),
            "--urls",
            str(self.urls),
            "--config",
            str(self.config),
            "--hooks",
            str(self.work / "no-hooks.py"),
            "--cache",
            str(self.cache),
        ]

    def store_mb(self) -> float | None:
        names = [self.cache.name + suffix for suffix in ("", "-wal", "-journal", "-shm")]
        return sum(f.stat().st_size for f in map(self.cache.with_name, names) if f.exists()) / MB

    def checks(self, run: str) -> list[Check]:
        before = self.rows
        with sqlite3.connect(self.cache) as db:
            self.rows = db.execute("SELECT count(*) FROM CacheEntry").fetchone()[0]
        want = {"first": len(self.pages), "no-change": before, "edit": before + 1}[run]
        return [
            Check(
                f"urlwatch {run} run: snapshots in its cache",
                self.rows == want,
                f"{self.rows} rows (expected {want})",
            )
        ]


def run_markdownify(
    python: Path, pages: list[str], docroot: Path, processes: int, timeout: float
) -> tuple[Row, dict[str, Any]] | None:
    listing = OUT / "markdownify-files.txt"
    listing.write_text("\n".join(str(docroot / page) for page in pages) + "\n")
    log = LOGS / "markdownify.log"
    print(f"  markdownify alone, Pool({processes}) ...", end="", flush=True)
    m = measure(
        [str(python), str(BENCH / "md_baseline.py"), str(listing), str(processes)],
        log=log,
        timeout=timeout,
        env=tool_env(),
    )
    if m.returncode != 0 or m.timed_out:
        print(f" FAILED\n{tail(log)}")
        return None
    data = json.loads(log.read_text().strip().splitlines()[-1])
    convert_s = data["convert_s"]
    print(f" {convert_s:8.2f} s converting ({m.wall_s:.2f} s whole process)  {m.peak_tree_rss_mb:7.1f} MB")
    row = Row(
        tool="markdownify",
        run=f"Pool({processes})",
        pages=len(pages),
        returncode=0,
        wall_s=data["convert_s"],
        pages_per_s=len(pages) / data["convert_s"],
        peak_tree_rss_mb=m.peak_tree_rss_mb,
        maxrss_mb=m.maxrss_mb,
        store_mb=None,
        timed_out=False,
        log=str(log.relative_to(BENCH)),
    )
    per_page = {str(Path(path).relative_to(docroot)): secs for path, secs in data["per_page_s"].items()}
    return row, {
        "process_wall_s": m.wall_s,
        "markdown_chars": data["markdown_chars"],
        "version": data["markdownify_version"],
        "per_page_s": per_page,
    }


# ---------------------------------------------------------------- report


def wall(res: Results, tool: str, run: str) -> float | None:
    """Wall seconds of that run; the median when it was repeated."""
    walls = [r.wall_s for r in res.rows if r.tool == tool and r.run == run and r.ok]
    return statistics.median(walls) if walls else None


def compare(res: Results, page_cost: float | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(
        name: str,
        num: float | None,
        den: float | None,
        target: str = "",
        ok: Callable[[float], bool] | None = None,
    ) -> None:
        if num is not None and den:
            value = num / den
            out.append({"name": name, "value": value, "target": target, "pass": ok(value) if ok else None})

    a = {run: wall(res, "archiver", run) for run in RUNS}
    u = {run: wall(res, "urlwatch", run) for run in RUNS}
    md = next((r.wall_s for r in res.rows if r.tool == "markdownify"), None)
    if page_cost is None and a["first"] is not None:
        page_cost = a["first"] / res.pages
    add("archiver first / urlwatch first", a["first"], u["first"], "<= 1.00", lambda v: v <= 1.0)
    add("archiver first / markdownify alone", a["first"], md, "<= 1.15", lambda v: v <= 1.15)
    add(
        "urlwatch no-change / archiver no-change",
        u["no-change"],
        a["no-change"],
        ">= 2.00",
        lambda v: v >= 2.0,
    )
    if a["no-change"] is not None and page_cost is not None:
        add(
            "archiver edit / (archiver no-change + one page)",
            a["edit"],
            a["no-change"] + page_cost,
            "<= 1.25",
            lambda v: v <= 1.25,
        )
    peaks = [r.peak_tree_rss_mb for r in res.rows if r.tool == "archiver" and r.ok]
    if peaks:
        add("archiver peak memory, MB (process tree RSS)", max(peaks), 1.0, "< 300", lambda v: v < 300)
    add("archiver no-change / urlwatch no-change", a["no-change"], u["no-change"])
    add("archiver edit / archiver no-change", a["edit"], a["no-change"])
    add("urlwatch first / markdownify alone", u["first"], md)
    add("urlwatch edit / urlwatch no-change", u["edit"], u["no-change"])
    stores = {r.tool: r.store_mb for r in res.rows if r.run == "edit" and r.ok}
    add("archiver store / urlwatch store", stores.get("archiver"), stores.get("urlwatch"))
    return out


def report(res: Results) -> None:
    print(f"\n{res.pages} pages, {res.machine['cpus']} CPUs ({res.machine['cpu']})")
    heads = ("tool", "run", "wall s", "pages/s", "peak MB", "maxrss MB", "store MB")
    print("{:<12} {:<10} {:>8} {:>8} {:>8} {:>9} {:>9}".format(*heads))
    for r in res.rows:
        store = f"{r.store_mb:9.2f}" if r.store_mb is not None else f"{'-':>9}"
        flag = "" if r.ok else "  FAILED"
        print(
            f"{r.tool:<12} {r.run:<10} {r.wall_s:8.2f} {r.pages_per_s:8.1f} {r.peak_tree_rss_mb:8.1f} "
            f"{r.maxrss_mb:9.1f} {store}{flag}"
        )
    print()
    for c in res.ratios:
        mark = {True: "PASS", False: "FAIL", None: ""}[c["pass"]]
        print(f"{c['name']:<50} {c['value']:8.2f}  {c['target']:<8} {mark}")
    if res.checks:
        print()
    for ch in res.checks:
        print(f"{'PASS' if ch.ok else 'FAIL'}  {ch.name}: {ch.detail}")


def machine_info() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=None, help="only the first N pages (sorted); default: all")
    p.add_argument("--only", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    p.add_argument("--archiver", type=Path, default=REPO / ".venv" / "bin" / "archiver", help="archiver CLI")
    p.add_argument(
        "--python",
        type=Path,
        default=REPO / ".venv" / "bin" / "python",
        help="python with markdownify, for the markdownify-alone baseline",
    )
    p.add_argument("--processes", type=int, default=2, help="processes for markdownify alone (default 2)")
    p.add_argument(
        "--urlwatch-method",
        default="pyhtml2text",
        help="method of urlwatch's html2text filter (default pyhtml2text: the html2text module)",
    )
    p.add_argument("--repeat", type=int, default=3, help="no-change runs per tool; the median is compared")
    p.add_argument("--edit-page", default="library/os.html", help="page edited before the last run")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed for each run")
    return p.parse_args()


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that nginx is stopped on the way out
    args = parse_args()
    only = {t.strip() for t in args.only.split(",") if t.strip()}
    if only - set(TOOLS):
        sys.exit(f"error: unknown tool(s) in --only: {', '.join(sorted(only - set(TOOLS)))}")
    if "archiver" in only and not os.access(args.archiver, os.X_OK):
        sys.exit(
            f"error: the archiver CLI is not installed at {args.archiver}.\n"
            f"Install the project into its venv (.venv/bin/pip install -e .), pass --archiver PATH, "
            f"or leave the archiver out: --only urlwatch,markdownify"
        )
    if "markdownify" in only and not os.access(args.python, os.X_OK):
        sys.exit(f"error: no python at {args.python} (needed for the markdownify baseline; see --python)")

    ensure_system_packages()
    urlwatch_exe = ensure_urlwatch() if "urlwatch" in only else None
    if LOGS.exists():
        shutil.rmtree(LOGS)
    LOGS.mkdir(parents=True)
    docroot, pages = prepare_docroot(args.limit)
    edit = args.edit_page if args.edit_page in pages else pages[len(pages) // 2]
    res = Results(pages=len(pages), edit_page=edit, machine=machine_info())
    print(f"{len(pages)} pages from {DOCS_SRC}; the edit run changes {edit}")
    if os.getloadavg()[0] > 0.5:
        print(f"warning: the machine is busy (load average {os.getloadavg()[0]:.2f}): expect noisy figures")

    page_cost = None
    if "markdownify" in only:
        baseline = run_markdownify(args.python, pages, docroot, args.processes, args.timeout)
        if baseline:
            row, extra = baseline
            res.rows.append(row)
            per_page = extra.pop("per_page_s")
            page_cost = per_page.get(edit)
            slowest = sorted(per_page.items(), key=lambda kv: -kv[1])[:5]
            res.markdownify = {**extra, "edit_page_s": page_cost, "slowest_pages_s": dict(slowest)}

    with nginx(docroot, OUT / "nginx") as port:
        print(f"nginx serving {docroot.relative_to(BENCH)} on http://127.0.0.1:{port}/")
        tools: list[Tool] = []
        if "archiver" in only:
            tools.append(Archiver(OUT / "archiver", pages, args.timeout, args.archiver, port))
        if urlwatch_exe is not None:
            method = args.urlwatch_method
            tools.append(Urlwatch(OUT / "urlwatch", pages, args.timeout, urlwatch_exe, port, method))
        failed: set[str] = set()
        for run in ("first", *["no-change"] * args.repeat, "edit"):
            if run == "edit" and tools:
                edit_page(docroot, edit)
                print(f"  edited {edit}")
            for tool in tools:
                if tool.name in failed:
                    continue
                row = tool.run(run)
                res.rows.append(row)
                if not row.ok:
                    failed.add(tool.name)
                    continue
                try:
                    checks = tool.checks(run)
                except (subprocess.SubprocessError, sqlite3.Error) as e:
                    checks = [Check(f"{tool.name} {run} run: checks", False, f"could not check: {e}")]
                for check in checks:
                    res.checks.append(check)
                    print(f"    {'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")

    res.ratios = compare(res, page_cost)
    report(res)
    out = OUT / "results.json"
    out.write_text(json.dumps(asdict(res), indent=2) + "\n")
    print(f"\nresults written to {out.relative_to(REPO)}")
    failures = [r for r in res.rows if not r.ok] + [c for c in res.checks if not c.ok]
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
