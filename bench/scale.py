"""Scale benchmark: N documentation sites (default 50, ~20,000 pages) archived over many runs.

Sites are hard-linked copies of Debian's python3.11-doc and postgresql-doc-15 trees under /s1/, /s2/ …,
served by nginx on 127.0.0.1. Runs: first, no-change ×2, then 20 runs in each of which 1 % of the pages
change, then no-change ×2 again. Per run: wall s, pages/s, peak memory, commits, archive size.

Run with the project venv:  .venv/bin/python bench/scale.py [--sites N] [--runs-1pct M] [--limit-pages P]
See bench/README.md ("Scale benchmark").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from procmon import measure
from run import REPO, du_mb, machine_info, sh, tail, tool_env
from server import apt_install, nginx

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out" / "scale"
LOGS = OUT / "logs"
DOCROOT = OUT / "docroot"
WORK = OUT / "archiver"


@dataclass(frozen=True)
class Source:
    """A real docs tree, and where its main text is (for the edit: the first <p> between start and end)."""

    kind: str
    path: Path
    package: str
    main_start: str  # the main text starts after this marker ...
    main_after: str  # ... and after the next occurrence of this one ("" = right there)
    main_end: str  # and ends before this one

    def pages(self) -> list[str]:
        return sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*.html"))


SOURCES = (
    Source(
        "python", Path("/usr/share/doc/python3.11/html"), "python3.11-doc", 'role="main"', "", 'class="sphinxsidebar"'
    ),
    Source(
        "postgres",
        Path("/usr/share/doc/postgresql-doc-15/html"),
        "postgresql-doc-15",
        'class="navheader"',
        "</div>",
        'class="navfooter"',
    ),
)
PARAGRAPH = "<p>"
NOT_MAIN = ("noscript", "nav")  # elements whose paragraphs the archiver leaves out

# targets (printed as PASS/FAIL, never asserted)
FULL_SCALE_PAGES = 20_000
NO_CHANGE_MAX_S = 15.0
NO_CHANGE_MIN_PAGES_S = 1300.0
ONE_PCT_MAX_RATIO = 1.25
FLAT_MAX_RATIO = 1.10
PEAK_MAX_MB = 250.0


@dataclass
class Site:
    name: str
    kind: str
    pages: list[str]

    def file(self, page: str) -> str:
        """The archive's file for a page (as `archiver pages` maps it: .html becomes .md)."""
        stem = page[: -len(".html")] if page.endswith(".html") else page
        return f"{self.name}/{stem}.md"


@dataclass
class Row:
    run: str
    load_1min: float
    returncode: int
    timed_out: bool
    wall_s: float
    pages_per_s: float
    peak_tree_rss_mb: float
    maxrss_mb: float
    commits: int
    changed_pages: int
    changed_sites: int
    archive_mb: float
    expected_s: float | None = None  # 1 % runs: no-change time + changed pages × one page
    log: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@dataclass
class Results:
    config: dict[str, Any]
    machine: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    sizes: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- setup


def ensure_system_packages() -> None:
    missing = [s.package for s in SOURCES if not (s.path / "index.html").exists()]
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        missing.append("nginx-light")
    apt_install(missing)


def main_paragraph(source: Source, html: str) -> int:
    """Offset just inside the first <p> of the page's main text, or -1 if it has none."""
    start = html.find(source.main_start)
    if start < 0:
        return -1
    if source.main_after:
        start = html.find(source.main_after, start)
        if start < 0:
            return -1
    end = html.find(source.main_end, start)
    end = end if end >= 0 else len(html)
    while True:
        at = html.find(PARAGRAPH, start, end)
        if at < 0:
            return -1
        # not main text: a <noscript> (Sphinx's search page), a <nav> (the local "Contents" of the FAQ pages)
        hidden = [(i, tag) for tag in NOT_MAIN if (i := html.find(f"<{tag}", start, at)) >= 0]
        if not hidden:
            return at + len(PARAGRAPH)
        i, tag = min(hidden)
        start = html.find(f"</{tag}>", i)
        if start < 0:
            return -1


def editable_pages(source: Source) -> set[str]:
    return {
        page
        for page in source.pages()
        if main_paragraph(source, (source.path / page).read_text(encoding="utf-8", errors="replace")) >= 0
    }


def build_sites(count: int, limit: int, seed: int) -> list[Site]:
    """Site i is a hard-linked copy of source (i-1) % 2 under /s<i>/; its pages a seeded sample of the tree."""
    if DOCROOT.exists():
        shutil.rmtree(DOCROOT)
    DOCROOT.mkdir(parents=True)
    all_pages = {s.kind: s.pages() for s in SOURCES}
    sites = []
    for i in range(1, count + 1):
        source = SOURCES[(i - 1) % len(SOURCES)]
        name = f"s{i}"
        subprocess.run(["cp", "-al", f"{source.path}/.", str(DOCROOT / name)], check=True)
        pages = all_pages[source.kind]
        if 0 < limit < len(pages):
            pages = sorted(random.Random(f"{seed}-site-{i}").sample(pages, limit))
        sites.append(Site(name, source.kind, pages))
    return sites


def write_config(sites: list[Site], port: int) -> Path:
    config = WORK / "sites.yaml"
    lines = ["sites:"]
    for site in sites:
        lines += [
            f"  - name: {site.name}",
            f"    base_url: {json.dumps(f'http://127.0.0.1:{port}/{site.name}/')}",
            "    pages:",
            *[f"      - {json.dumps(page)}" for page in site.pages],
        ]
    config.write_text("\n".join(lines) + "\n")
    return config


# ---------------------------------------------------------------- the 1 % change


class Changer:
    """Picks pages to change (seeded) and adds a sentence to the first paragraph of their main text."""

    def __init__(self, sites: list[Site], pct: float, seed: int) -> None:
        self.sites = sites
        self.seed = seed
        editable = {s.kind: editable_pages(s) for s in SOURCES}
        self.candidates = [(site, page) for site in sites for page in site.pages if page in editable[site.kind]]
        total = sum(len(s.pages) for s in sites)
        self.count = min(len(self.candidates), max(1, round(total * pct / 100)))

    def change(self, run: int) -> dict[str, set[str]]:
        """Change this run's pages in the docroot; return {site name: archive files expected to change}."""
        chosen = random.Random(f"{self.seed}-change-{run}").sample(self.candidates, self.count)
        by_kind = {s.kind: s for s in SOURCES}
        expected: dict[str, set[str]] = {}
        now = time.time()
        for n, (site, page) in enumerate(chosen):
            path = DOCROOT / site.name / page
            html = path.read_text(encoding="utf-8")
            at = main_paragraph(by_kind[site.kind], html)
            sentence = f"Scale benchmark change {run}.{n}: this sentence is new. "
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(html[:at] + sentence + html[at:], encoding="utf-8")
            os.replace(tmp, path)  # a new inode: the hard link to the other sites' copies is broken
            os.utime(path, (now, now))  # new mtime (and size): nginx's ETag changes
            expected.setdefault(site.name, set()).add(site.file(page))
        return expected


# ---------------------------------------------------------------- checks from git


class Archive:
    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.head: str | None = None

    def git(self, *args: str) -> str:
        return sh(["git", "-C", str(self.repo), *args])

    def new_commits(self) -> list[tuple[str, str, set[str]]]:
        """(sha, subject, files) of each commit since the last call, oldest first."""
        try:
            head = self.git("rev-parse", "HEAD").strip()
        except subprocess.CalledProcessError:
            return []
        span = f"{self.head}..{head}" if self.head else head
        self.head = head
        out = self.git("log", "--reverse", "--name-only", "--format=%x00%H %s", span)
        commits = []
        for chunk in out.split("\0")[1:]:
            first, *files = chunk.strip("\n").split("\n")
            sha, _, subject = first.partition(" ")
            commits.append((sha, subject, {f for f in files if f}))
        return commits

    def sizes(self) -> dict[str, float]:
        git_dir = self.repo / ".git"
        total = du_mb(self.repo)
        git = du_mb(git_dir)
        meta = du_mb(git_dir / "archiver") if (git_dir / "archiver").exists() else 0.0
        objects = {k: v for k, _, v in (line.partition(": ") for line in self.git("count-objects", "-v").splitlines())}
        return {
            "archive_mb": total,
            "markdown_mb": total - git,  # the work tree without .git
            "git_dir_mb": git,
            "raw_bodies_and_state_mb": meta,  # .git/archiver/
            "git_objects_mb": git - meta,
            "loose_objects": int(objects.get("count", 0)),
            "packs": int(objects.get("packs", 0)),
        }


def check_run(run: str, commits: list[tuple[str, str, set[str]]], expected: dict[str, set[str]]) -> list[str]:
    """Mismatches between the commits a run made and what it should have made: one per site in
    ``expected``, touching exactly those files (for the first run: every page of the site)."""
    problems = []
    per_site: dict[str, list[set[str]]] = {}
    for sha, subject, files in commits:
        sites = {f.split("/", 1)[0] for f in files}
        if len(sites) != 1:
            problems.append(f"{run}: commit {sha[:12]} ({subject}) touches {len(sites)} sites: {sorted(sites)[:5]}")
        for s in sites:
            per_site.setdefault(s, []).append({f for f in files if f.startswith(s + "/")})
    for name in sorted(set(per_site) | set(expected)):
        got = per_site.get(name, [])
        want = expected.get(name)
        if want is None:
            problems.append(f"{run}: {name} made {len(got)} commit(s), expected none")
            continue
        if len(got) != 1:
            problems.append(f"{run}: {name} made {len(got)} commits, expected 1")
        files = set().union(*got) if got else set()
        if files != want:
            extra, lost = sorted(files - want), sorted(want - files)
            problems.append(f"{run}: {name} changed {len(files)} files, expected {len(want)}; ")
            problems[-1] += f"unexpected {extra[:5]}, missing {lost[:5]}"
    return problems


# ---------------------------------------------------------------- runs


def run_once(label: str, cmd: list[str], timeout: float, pages: int, archive: Archive) -> tuple[Row, list]:
    load = os.getloadavg()[0]
    log = LOGS / f"{label}.log"
    print(f"  {label:<18} load {load:5.2f} ...", end="", flush=True)
    m = measure(cmd, log=log, timeout=timeout, cwd=WORK, env=tool_env())
    commits = archive.new_commits()
    row = Row(
        run=label,
        load_1min=load,
        returncode=m.returncode,
        timed_out=m.timed_out,
        wall_s=m.wall_s,
        pages_per_s=pages / m.wall_s,
        peak_tree_rss_mb=m.peak_tree_rss_mb,
        maxrss_mb=m.maxrss_mb,
        commits=len(commits),
        changed_pages=0,
        changed_sites=0,
        archive_mb=du_mb(archive.repo) if archive.repo.exists() else 0.0,
        log=str(log.relative_to(BENCH)),
    )
    status = "ok" if row.ok else ("TIMED OUT" if m.timed_out else f"exit {m.returncode}")
    print(
        f" {m.wall_s:8.2f} s {row.pages_per_s:7.1f} p/s {m.peak_tree_rss_mb:6.1f} MB {len(commits):3} commits  {status}"
    )
    if not row.ok:
        print(f"--- last lines of {log}:\n{tail(log)}\n---", flush=True)
    return row, commits


def report(res: Results) -> None:
    c = res.config
    print(f"\n{c['sites']} sites, {c['pages']} pages, {c['changed_per_run']} pages changed per 1 % run;")
    print(f"{res.machine['cpus']} CPUs ({res.machine['cpu']}), load at start {res.machine['load_average_at_start']}")
    heads = ("run", "load", "wall s", "pages/s", "peak MB", "commits", "changed", "archive MB", "vs expected")
    print("{:<18} {:>5} {:>8} {:>8} {:>8} {:>7} {:>8} {:>10} {:>11}".format(*heads))
    for r in res.rows:
        vs = f"{r.wall_s / r.expected_s:11.2f}" if r.expected_s else f"{'':>11}"
        changed = f"{r.changed_pages}/{r.changed_sites}s" if r.changed_pages else "-"
        flag = "" if r.ok else "  FAILED"
        print(
            f"{r.run:<18} {r.load_1min:5.2f} {r.wall_s:8.2f} {r.pages_per_s:8.1f} {r.peak_tree_rss_mb:8.1f} "
            f"{r.commits:7} {changed:>8} {r.archive_mb:10.1f} {vs}{flag}"
        )
    s = res.sizes
    if s:
        print(
            f"\narchive {s['archive_mb']:.1f} MB = Markdown (work tree) {s['markdown_mb']:.1f} MB"
            f" + .git {s['git_dir_mb']:.1f} MB (git objects {s['git_objects_mb']:.1f} MB,"
            f" {s['loose_objects']} loose, {s['packs']} packs; raw bodies and state in .git/archiver/"
            f" {s['raw_bodies_and_state_mb']:.1f} MB)"
        )
    print()
    for t in res.targets:
        mark = {True: "PASS", False: "FAIL", None: "    "}[t["pass"]]
        print(f"{mark}  {t['name']:<58} {t['value']:9.2f}  {t['target']}")
    for m in res.mismatches:
        print(f"MISMATCH  {m}")


def targets(res: Results, page_cost: float | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, value: float | None, target: str = "", ok: bool | None = None) -> None:
        if value is not None:
            out.append({"name": name, "value": value, "target": target, "pass": ok})

    def walls(prefix: str) -> list[tuple[str, float]]:
        return [(r.run, r.wall_s) for r in res.rows if r.run.startswith(prefix) and r.ok]

    pages = res.config["pages"]
    before = [w for name, w in walls("no-change-") if not name.startswith("no-change-after")]
    after = [w for _, w in walls("no-change-after")]
    pct = [w for _, w in walls("1pct-")]
    if before:
        nc = statistics.median(before)
        add("no-change run, pages/s (start-up included)", pages / nc, f">= {NO_CHANGE_MIN_PAGES_S:.0f}",
            pages / nc >= NO_CHANGE_MIN_PAGES_S)  # fmt: skip
        if pages >= FULL_SCALE_PAGES:
            add("no-change run, wall s", nc, f"<= {NO_CHANGE_MAX_S:.0f}", nc <= NO_CHANGE_MAX_S)
        else:
            add(f"no-change run, wall s ({pages} pages; the 15 s target is for 20,000)", nc)
    ratios = [r.wall_s / r.expected_s for r in res.rows if r.expected_s and r.ok]
    if ratios:
        med = statistics.median(ratios)
        add("1 % run / (no-change + changed x one page), median", med, f"<= {ONE_PCT_MAX_RATIO}",
            med <= ONE_PCT_MAX_RATIO)  # fmt: skip
        add("1 % run / (no-change + changed x one page), worst", max(ratios), f"<= {ONE_PCT_MAX_RATIO}",
            max(ratios) <= ONE_PCT_MAX_RATIO)  # fmt: skip
        if page_cost:
            add("  one page, s (first run wall / pages)", page_cost)
    if len(pct) >= 2:
        add(f"last 1 % run / first 1 % run (run {len(pct)} vs 1)", pct[-1] / pct[0], f"<= {FLAT_MAX_RATIO}",
            pct[-1] / pct[0] <= FLAT_MAX_RATIO)  # fmt: skip
        k = min(5, len(pct) // 2)
        if k:
            v = statistics.mean(pct[-k:]) / statistics.mean(pct[:k])
            add(f"1 % runs, mean of last {k} / mean of first {k}", v, f"<= {FLAT_MAX_RATIO}", v <= FLAT_MAX_RATIO)
    if before and after:
        v = statistics.median(after) / statistics.median(before)
        add("no-change after the 1 % runs / before", v, f"<= {FLAT_MAX_RATIO}", v <= FLAT_MAX_RATIO)
    peaks = [r.peak_tree_rss_mb for r in res.rows if r.ok]
    if peaks:
        add("peak memory, MB (summed RSS of the process tree)", max(peaks), f"<= {PEAK_MAX_MB:.0f}",
            max(peaks) <= PEAK_MAX_MB)  # fmt: skip
        add("  largest single process, MB (ru_maxrss)", max(r.maxrss_mb for r in res.rows if r.ok))
    s = res.sizes
    if s:
        add("archive MB (repository, .git included)", s["archive_mb"])
        add("  Markdown alone MB (work tree without .git)", s["markdown_mb"])
        add("  raw bodies and state MB (.git/archiver/)", s["raw_bodies_and_state_mb"])
        add("  git objects MB", s["git_objects_mb"])
    return out


def profile(exe: Path, argv: list[str], timeout: float, pages: int, archive: Archive) -> None:
    """A no-change run under cProfile (the main process; forked workers are not profiled)."""
    python = exe.with_name("python")
    stats = OUT / "profile.pstats"
    cmd = [str(python), "-m", "cProfile", "-o", str(stats), "-m", "archiver", *argv]
    row, commits = run_once("profile", cmd, timeout, pages, archive)
    if not row.ok or commits or not stats.exists():
        print(f"    profile run: exit {row.returncode}, {len(commits)} commits; no profile")
        return
    import io
    import pstats

    buf = io.StringIO()
    st = pstats.Stats(str(stats), stream=buf).strip_dirs()
    st.sort_stats("tottime").print_stats(25)
    st.sort_stats("cumulative").print_stats(40)
    (LOGS / "profile.txt").write_text(buf.getvalue())
    print(f"    profile (main process, sorted by own time) in {(LOGS / 'profile.txt').relative_to(REPO)}:")
    lines = buf.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print("\n".join("    " + line for line in lines[start : start + 16]))


def save(res: Results) -> None:
    (OUT / "results.json").write_text(json.dumps(asdict(res), indent=2) + "\n")


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sites", type=int, default=50, help="number of sites (default 50)")
    p.add_argument(
        "--limit-pages",
        type=int,
        default=400,
        help="pages per site, a seeded sample of its tree (default 400: 50 sites give 20,000 pages; 0 = all)",
    )
    p.add_argument("--runs-1pct", type=int, default=20, help="runs that each change 1 %% of the pages (default 20)")
    p.add_argument("--pct", type=float, default=1.0, help="percentage of pages changed per run (default 1)")
    p.add_argument("--no-change", type=int, default=2, help="no-change runs before and after the 1 %% runs")
    p.add_argument("--seed", type=int, default=13, help="seed of the page samples and of the changes")
    p.add_argument("--archiver", type=Path, default=REPO / ".venv" / "bin" / "archiver", help="archiver CLI")
    p.add_argument("--timeout", type=float, default=7200, help="seconds allowed for each run (default 7200)")
    p.add_argument(
        "--profile",
        action="store_true",
        help="at the end, one more no-change run under cProfile (main process only); top functions printed",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="minutes: start no more 1 %% runs after this (the last no-change runs still happen)",
    )
    return p.parse_args()


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that nginx is stopped on the way out
    args = parse_args()
    started = time.monotonic()
    if not os.access(args.archiver, os.X_OK):
        sys.exit(f"error: the archiver CLI is not installed at {args.archiver} (run scripts/setup --dev)")
    ensure_system_packages()
    if OUT.exists():
        shutil.rmtree(OUT)
    LOGS.mkdir(parents=True)
    WORK.mkdir(parents=True)

    print(f"setup: {args.sites} sites, hard-linked copies under {DOCROOT.relative_to(REPO)}", flush=True)
    sites = build_sites(args.sites, args.limit_pages, args.seed)
    changer = Changer(sites, args.pct, args.seed)
    pages = sum(len(s.pages) for s in sites)
    kinds = {k: sum(1 for s in sites if s.kind == k) for k in (src.kind for src in SOURCES)}
    res = Results(
        config={
            "sites": args.sites,
            "pages": pages,
            "limit_pages": args.limit_pages,
            "kinds": kinds,
            "runs_1pct": args.runs_1pct,
            "pct": args.pct,
            "changed_per_run": changer.count,
            "no_change_runs": args.no_change,
            "seed": args.seed,
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        },
        machine=machine_info(),
    )
    print(f"{pages} pages ({', '.join(f'{n} {k} sites' for k, n in kinds.items())}); {changer.count} change per run")

    archive = Archive(WORK / "archive-repo")
    with nginx(DOCROOT, OUT / "nginx") as port:
        config = write_config(sites, port)
        cmd = [str(args.archiver), "run", "--config", str(config), "--repo", str(archive.repo), "--json"]
        print(f"nginx on http://127.0.0.1:{port}/; each run: {' '.join(cmd)}", flush=True)
        every = {s.name: {s.file(p) for p in s.pages} for s in sites}

        def one(label: str, expected: dict[str, set[str]]) -> Row | None:
            row, commits = run_once(label, cmd, args.timeout, pages, archive)
            row.changed_pages = sum(len(v) for v in expected.values()) if label.startswith("1pct") else 0
            row.changed_sites = len(expected) if label.startswith("1pct") else 0
            res.rows.append(row)
            problems = [] if row.ok else [f"{label}: archiver failed (exit {row.returncode}), see {row.log}"]
            problems += check_run(label, commits, expected)
            for p in problems:
                print(f"    MISMATCH  {p}", flush=True)
            res.mismatches += problems
            save(res)
            return row if row.ok else None

        first = one("first", every)
        page_cost = first.wall_s / pages if first else None
        no_change = [one(f"no-change-{i + 1}", {}) for i in range(args.no_change)]
        nc_walls = [r.wall_s for r in no_change if r]
        nc = statistics.median(nc_walls) if nc_walls else None
        for run in range(1, args.runs_1pct + 1):
            if args.budget is not None and time.monotonic() - started > args.budget * 60:
                print(f"  budget of {args.budget:g} minutes spent: stopping after {run - 1} 1 % runs", flush=True)
                break
            expected = changer.change(run)
            row = one(f"1pct-{run}", expected)
            if row and nc is not None and page_cost is not None:
                row.expected_s = nc + row.changed_pages * page_cost
        for i in range(args.no_change):
            one(f"no-change-after-{i + 1}", {})
        if args.profile:
            profile(args.archiver, cmd[1:], args.timeout, pages, archive)

    if archive.repo.exists():
        res.sizes = archive.sizes()
    res.targets = targets(res, page_cost)
    save(res)
    report(res)
    print(f"\nresults written to {(OUT / 'results.json').relative_to(REPO)}; logs in {LOGS.relative_to(REPO)}/")
    print(f"total {(time.monotonic() - started) / 60:.1f} minutes")
    return 1 if res.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
