"""The ``archiver`` command: parse arguments, call one library function, render the result.

Exit codes: 0 all good; 1 some pages (or a site, or the push) failed; 2 bad config or usage; 3 the
archive repository could not be used (locked by another run, unwritable, not a repository).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from archiver import __version__, history
from archiver.config import load_config
from archiver.errors import ArchiverError, ConfigError, HistoryError
from archiver.models import PageResult, PageStatus, SiteReport
from archiver.state import StateStore
from archiver.store import ArchiveRepo

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORE = 0, 1, 2, 3
SAMPLE_CONFIG = Path(__file__).parent / "sample_sites.yaml"

app = typer.Typer(
    help="Track how documentation websites change: snapshot docs as Markdown into a git repository.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# off a terminal (cron, pipes, CI logs) lines are not wrapped and tables get room to breathe
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The sites file.")]
RepoOpt = Annotated[Path, typer.Option("--repo", "-r", help="The archive git repository.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging and full tracebacks.")]


def _setup_logging(verbose: bool) -> None:
    if verbose:
        logging.basicConfig(level=logging.DEBUG, handlers=[RichHandler(console=err, show_path=False)], force=True)
    else:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", force=True)


@contextlib.contextmanager
def _reported(verbose: bool) -> Iterator[None]:
    """Turn an ArchiverError into one red line on stderr and the right exit code."""
    try:
        yield
    except ArchiverError as exc:
        if verbose:
            err.print_exception()
        err.print(f"[red]{type(exc).__name__}[/red]: {exc}", highlight=False, markup=True, soft_wrap=True)
        code = EXIT_USAGE if isinstance(exc, ConfigError | HistoryError) else EXIT_STORE
        raise typer.Exit(code) from None


class _Progress:
    """A progress bar on a terminal; plain log lines (changes and failures only) otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: RichProgress | None = None
        self.tasks: dict[str, TaskID] = {}
        if not quiet and err.is_terminal:
            self.bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            self.bar.start()

    def site_started(self, site: str, total: int) -> None:
        if self.bar:
            self.tasks[site] = self.bar.add_task(site, total=total)
        elif not self.quiet:
            err.print(f"{site}: checking {total} pages", highlight=False)

    def page_done(self, site: str, result: PageResult) -> None:
        if self.bar:
            self.bar.advance(self.tasks[site])
        elif not self.quiet and result.status is not PageStatus.UNCHANGED:
            detail = f" ({result.error})" if result.error else ""
            err.print(f"{site}: {result.status.value} {result.path}{detail}", highlight=False, soft_wrap=True)

    def site_finished(self, report: SiteReport) -> None:
        if self.bar and report.site in self.tasks:
            self.bar.remove_task(self.tasks.pop(report.site))

    def stop(self) -> None:
        if self.bar:
            self.bar.stop()


def _summary_table(reports: list[SiteReport]) -> Table:
    table = Table(title="archiver run", title_justify="left")
    for col in ("site", "fetched", "unchanged", "changed", "added", "removed", "failed", "commit"):
        table.add_column(col, justify="left" if col in ("site", "commit") else "right")
    for r in reports:
        commit = r.commit[:10] if r.commit else ("[red]error[/red]" if r.error else "-")
        table.add_row(
            r.site,
            str(r.fetched),
            str(r.count(PageStatus.UNCHANGED)),
            str(r.count(PageStatus.CHANGED)),
            str(r.count(PageStatus.ADDED)),
            str(r.count(PageStatus.REMOVED)),
            str(r.count(PageStatus.FAILED)),
            commit,
        )
    return table


@app.command()
def init(
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    verbose: VerboseOpt = False,
) -> None:
    """Create a sample sites.yaml (if missing) and an empty archive repository."""
    _setup_logging(verbose)
    with _reported(verbose):
        if config.exists():
            out.print(f"{config} exists; left as it is")
        else:
            config.write_text(SAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
            out.print(f"wrote {config}: edit it to list the docs you want to track")
        ArchiveRepo.open_or_init(repo)
        out.print(f"archive repository ready at {repo}; next: archiver run")


@app.command("run")
def run_cmd(
    sites: Annotated[list[str] | None, typer.Argument(help="Sites to archive (default: all).")] = None,
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    workers: Annotated[int, typer.Option(help="Worker processes for fetch + convert (default: cores).")] = 0,
    wait: Annotated[float, typer.Option(help="Seconds to wait for another run's lock.")] = 0.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary and errors.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary instead of the table.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Fetch every page of the sites, store them as Markdown, commit once per changed site, push."""
    from archiver.notify import notify_run
    from archiver.publish import run_and_push  # heavy imports only for commands that need them

    _setup_logging(verbose)
    with _reported(verbose):
        cfg = load_config(config)
        selected = cfg.select(sites or [])
        archive = ArchiveRepo.open_or_init(repo)
        progress = _Progress(quiet or as_json)
        try:
            report = run_and_push(cfg, archive, selected, workers=workers or None, progress=progress, wait=wait)
        finally:
            progress.stop()
        notify_run(cfg, archive, report)  # digests and failure alerts; never fails the run
    code = EXIT_FAILED if report.failed or report.push_failed else EXIT_OK
    if as_json:
        sys.stdout.write(json.dumps({**report.to_dict(), "exit_code": code}, indent=2) + "\n")
    else:
        out.print(_summary_table(report.sites))
    if report.push and report.push.ok and not (quiet or as_json):
        pushed = f"sent {report.push.commit[:10]}" if report.push.pushed and report.push.commit else "up to date"
        out.print(f"pushed to {report.push.remote}: {pushed}", highlight=False)
    if report.push and report.push.error:
        err.print(f"[red]push[/red]: {report.push.error}", highlight=False, soft_wrap=True)
    for site in report.sites:
        for note in site.notes:
            err.print(f"[yellow]{site.site}[/yellow]: note: {note}", highlight=False, soft_wrap=True)
        if site.error:
            err.print(f"[red]{site.site}[/red]: {site.error}", highlight=False, soft_wrap=True)
        for r in site.results:
            if r.status is PageStatus.FAILED:
                err.print(f"[red]{site.site}[/red]: failed {r.url}: {r.error}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def status(
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    verbose: VerboseOpt = False,
) -> None:
    """The last run of each site and the pages that are failing."""
    _setup_logging(verbose)
    with _reported(verbose):
        cfg = load_config(config)
        archive = ArchiveRepo.open(repo)
        store = StateStore(archive.state_dir)
        table = Table(title="archiver status", title_justify="left")
        for col in ("site", "last run (UTC)", "pages", "changed", "failed", "last commit"):
            table.add_column(col)
        from archiver.scheduler import read_next_runs

        next_runs = read_next_runs(archive)  # only while archiver daemon runs
        if next_runs is not None:
            table.add_column("next run (UTC)")
        failing: list[tuple[str, str, str]] = []
        for site in cfg.sites:
            state = store.load(site.name)
            last = state.last_run
            changed = sum(int(last.get(k, 0) or 0) for k in ("added", "changed", "removed"))
            commit = history.snapshots(repo, site.name, limit=1)
            table.add_row(
                site.name,
                str(last.get("finished", "never")),
                str(last.get("pages", 0)),
                str(changed),
                str(last.get("failed", 0)),
                commit[0].sha[:10] + " " + commit[0].date[:10] if commit else "-",
                *([next_runs.get(site.name, "-")[:19].replace("T", " ")] if next_runs is not None else []),
            )
            failing += [(site.name, url, p.error or "") for url, p in sorted(state.pages.items()) if p.failures]
        out.print(table)
        for name, url, error in failing:
            out.print(f"{name}: failing {url}: {error}", highlight=False, soft_wrap=True)


@app.command()
def demo(
    repo: Annotated[Path | None, typer.Option("--repo", "-r", help="Keep the demo archive here.")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Offline quick start: archive a bundled docs site at two versions and show the diff."""
    from archiver.demo import run_demo

    _setup_logging(verbose)
    with _reported(verbose), contextlib.ExitStack() as stack:
        target = repo or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="archiver-demo-"))) / "repo"
        out.print("[bold]archiver demo[/bold]: serving a small docs site on 127.0.0.1, v1 then v2\n")
        reports = run_demo(target)
        out.print(_summary_table(reports))
        snaps = history.snapshots(target, "acme")
        out.print(f"\n[bold]archiver log acme[/bold]  (the same as: git -C {target} log --numstat -- acme/)")
        for s in snaps:
            n = len(s.files)
            out.print(
                f"{s.date[:19]}  {s.sha[:10]}  {n} files changed +{s.lines_added} −{s.lines_removed}  {s.subject}"
            )
        out.print(f"\n[bold]archiver diff acme[/bold]  (the same as: git -C {target} show HEAD -- acme/)\n")
        sys.stdout.flush()
        sys.stdout.write(history.diff(target, "acme", color=out.is_terminal))
        if repo:
            out.print(f"\nthe archive is in {repo}; try: git -C {repo} log -p")


def _version(value: bool) -> None:
    if value:
        out.print(f"archiver {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Track how documentation websites change: snapshot docs as Markdown into a git repository."""


# the commands for running unattended (daemon, systemd) live in their own module and register on ``app``
from archiver import cli_unattended  # noqa: E402, F401, I001

# the read-side commands (log, show, diff, history, report) too
from archiver import cli_history  # noqa: E402, F401, I001

# and the commands about a site's pages and rules (pages, rerender)
from archiver import cli_pages  # noqa: E402, F401, I001


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("GIT_TERMINAL_PROMPT", "0")
    app()
