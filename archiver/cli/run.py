"""The commands that archive: ``init``, ``run``, ``status`` and ``demo``.

Exit codes: 0 all good; 1 some pages (or a site, or the push) failed; 2 bad config or usage; 3 the
archive repository could not be used (locked by another run, unwritable, not a repository).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from archiver.archive import history, layout, revisions
from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import StateStore, read_next_runs
from archiver.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    ConfigOpt,
    RepoOpt,
    ShardOpt,
    TermProgress,
    VerboseOpt,
    WaitOpt,
    WorkersOpt,
    app,
    colour,
    command,
    err,
    out,
    printable,
    summary_table,
)
from archiver.config import load_config
from archiver.errors import StoreError
from archiver.models import PageStatus, RunReport

SAMPLE_CONFIG = Path(__file__).parent / "sample_sites.yaml"


@app.command()
def init(
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    verbose: VerboseOpt = False,
) -> None:
    """Create a sample sites.yaml (if missing) and an empty archive repository.

    Example: archiver init --config sites.yaml --repo archive-repo
    """
    with command(verbose):
        if config.exists():
            out.print(f"{printable(str(config))} exists; left as it is")
        else:
            config.write_text(SAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
            out.print(f"wrote {printable(str(config))}: edit it to list the docs you want to track")
        per_site = load_config(config).per_site
        if per_site:  # a folder for the site repositories that archiver run makes
            layout.prepare(repo, True)
        else:
            ArchiveRepo.open_or_init(repo)
        what = "archive folder (one repository per site)" if per_site else "archive repository"
        out.print(f"{what} ready at {printable(str(repo))}; next: archiver run")


@app.command("run")
def run_cmd(
    sites: Annotated[list[str] | None, typer.Argument(help="Sites to archive (default: all).")] = None,
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    workers: WorkersOpt = 0,
    wait: WaitOpt = 0.0,
    shard: ShardOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary and errors.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary instead of the table.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Fetch every page of the sites, store them as Markdown, commit once per changed site, push.

    Example: archiver run mydocs --quiet
    """
    from archiver.run.publish import archive_into  # heavy imports only for commands that need them

    with command(verbose):
        cfg = load_config(config).for_shard(shard)
        selected = cfg.select(sites or [], shard)
        if not selected:  # (a shard smaller than its share; nothing to do is not a failure)
            err.print(
                f"shard {shard} takes none of the {len(cfg.select(sites or []))} sites asked for", highlight=False
            )
            raise typer.Exit(EXIT_OK)
        progress = TermProgress(quiet or as_json)
        try:
            report = archive_into(cfg, repo, selected, workers=workers or None, progress=progress, wait=wait)
        finally:
            progress.stop()
    code = EXIT_FAILED if report.failed or report.push_failed else EXIT_OK
    _show_run(report, code, quiet=quiet, as_json=as_json)
    raise typer.Exit(code)


def _show_run(report: RunReport, code: int, *, quiet: bool, as_json: bool) -> None:
    """The run's summary on stdout (table or JSON); its push, notes and failures on stderr."""
    if as_json:
        sys.stdout.write(json.dumps({**report.to_dict(), "exit_code": code}, indent=2) + "\n")
    else:
        out.print(summary_table(report.sites))
    for push in report.pushes:
        if push.ok and not (quiet or as_json):
            pushed = f"sent {push.commit[:10]}" if push.pushed and push.commit else "up to date"
            out.print(f"pushed to {printable(push.remote)}: {pushed}", highlight=False)
        if push.error:
            err.print(f"[red]push[/red]: {printable(push.error)}", highlight=False, soft_wrap=True)
    for site in report.sites:
        if site.rules_commit and not as_json:
            sha = site.rules_commit[:10]
            rerendered = f"re-rendered under new rules (or new site chrome) in {sha}, marked Change-Kind: rules"
            err.print(f"[yellow]{site.site}[/yellow]: {rerendered}", highlight=False, soft_wrap=True)
        for note in site.notes:
            err.print(f"[yellow]{site.site}[/yellow]: note: {printable(note)}", highlight=False, soft_wrap=True)
        if site.error:
            err.print(f"[red]{site.site}[/red]: {printable(site.error)}", highlight=False, soft_wrap=True)
        for r in site.results:
            if r.status is PageStatus.FAILED:
                failed = printable(f"failed {r.url}: {r.error}")
                err.print(f"[red]{site.site}[/red]: {failed}", highlight=False, soft_wrap=True)


@app.command()
def status(
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    verbose: VerboseOpt = False,
) -> None:
    """The last run of each site and the pages that are failing.

    Example: archiver status --repo archive-repo
    """
    with command(verbose):
        cfg = load_config(config)
        if cfg.per_site:  # each site's state in its own repository; the daemon's schedule beside them
            meta = repo / layout.META
            stores = {s.name: StateStore(layout.site_meta(repo / s.name) / "state") for s in cfg.sites}
            if not repo.is_dir():
                raise StoreError(f"{repo}: no archive here (archiver run creates it)")
        else:
            archive = ArchiveRepo.open(repo)
            meta = archive.meta
            stores = {s.name: StateStore(archive.state_dir) for s in cfg.sites}
        table = Table(title="archiver status", title_justify="left")
        for col in ("site", "last run (UTC)", "pages", "changed", "failed", "last commit"):
            table.add_column(col)
        next_runs = read_next_runs(meta)  # only while archiver daemon runs
        if next_runs is not None:
            table.add_column("next run (UTC)")
        problems: list[tuple[str, str]] = []
        for site in cfg.sites:
            state = stores[site.name].load(site.name)
            last = state.last_run
            changed = sum(int(last.get(k, 0) or 0) for k in ("added", "changed", "removed"))
            site_repo = repo / site.name if cfg.per_site else repo
            commit = history.snapshots(site_repo, site.name, limit=1) if (site_repo / ".git").exists() else []
            if last.get("error"):
                problems.append((site.name, f"last run failed: {last['error']}"))
            table.add_row(
                site.name,
                str(last.get("finished", "never")),
                str(last.get("pages", 0)),
                str(changed),
                "[red]error[/red]" if last.get("error") else str(last.get("failed", 0)),
                commit[0].sha[:10] + " " + commit[0].date[:10] if commit else "-",
                *([next_runs.get(site.name, "-")[:19].replace("T", " ")] if next_runs is not None else []),
            )
            problems += [
                (site.name, f"failing {url}: {p.error}") for url, p in sorted(state.pages.items()) if p.failures
            ]
        out.print(table)
        for name, problem in problems:
            out.print(f"{name}: {printable(problem)}", highlight=False, soft_wrap=True)


@app.command()
def demo(
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            "-r",
            metavar="DIR",
            help="Keep the demo archive here (default: a temporary folder, deleted at the end).",
        ),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Offline quick start: archive a bundled docs site at two versions and show the diff.

    Example: archiver demo --repo demo-archive
    """
    from archiver.demo import run_demo

    with command(verbose), contextlib.ExitStack() as stack:
        target = repo or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="archiver-demo-"))) / "repo"
        out.print("[bold]archiver demo[/bold]: serving a small docs site on 127.0.0.1, v1 then v2\n")
        reports = run_demo(target)
        # one row per version, not two rows both named acme
        labelled = [dataclasses.replace(r, site=f"{r.site} v{i}") for i, r in enumerate(reports, 1)]
        out.print(summary_table(labelled))
        snaps = history.snapshots(target, "acme")
        # (a temporary archive is deleted on the way out: no hint may point into it)
        where = printable(str(target))
        same = f"  (the same as: git -C {where} log --numstat -- acme/)" if repo else ""
        out.print(f"\n[bold]archiver log acme[/bold]{same}")
        for s in snaps:
            n = len(s.files)
            out.print(
                f"{s.date[:19]}  {s.sha[:10]}  {n} files changed +{s.lines_added} −{s.lines_removed}  {s.subject}"
            )
        same = f"  (the same as: git -C {where} show HEAD -- acme/)" if repo else ""
        out.print(f"\n[bold]archiver diff acme[/bold]{same}\n")
        sys.stdout.flush()
        sys.stdout.write(revisions.diff(target, "acme", color=colour()))
        if repo:
            out.print(f"\nthe archive is in {printable(str(repo))}; try: git -C {printable(str(repo))} log -p")
