"""What every command shares: the Typer app, the consoles, option types, exit codes, error and
logging set-up, the progress bar and the run summary table.

The command modules import from here and register their commands on :data:`app`; nothing here
imports a command module, so imports flow one way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table
from typer.models import CommandFunctionType

from archiver.errors import ArchiverError, ConfigError, FetchError, HistoryError
from archiver.models import PageResult, PageStatus, SiteReport
from archiver.shards import Shard, parse_shard
from archiver.text import one_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORE = 0, 1, 2, 3


def _plain_help(params: list[Any]) -> None:
    """Help that shows what to type, not Python's types: a flag shows nothing after its name (no
    ``<bool>``), an option without a metavar of its own shows its name in capitals, an argument
    shows its name only (``SITE``, not ``{site} <str>`` or ``sites... <list[str]>``)."""
    for param in params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.param_type_name == "argument":
            param.metavar = param.metavar or (param.name or "value").upper()
            param.display_type_rich = lambda ctx: None  # the name says it; no type column
        elif param.metavar is None:
            param.metavar = (param.name or "value").upper()


def _usage_name(param: Any) -> str:
    """An argument in the usage line as man pages write it: ``SITE``, ``[REV]``, ``[SITES]...``."""
    name = str(param.metavar or param.name).upper()
    if "[" not in name and not param.required:
        name = f"[{name}]"
    return name + ("..." if param.nargs == -1 and not name.endswith("...") else "")


class _Command(typer.core.TyperCommand):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        _plain_help(self.get_params(ctx))
        super().format_help(ctx, formatter)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        params = self.get_params(ctx)
        _plain_help(params)
        arguments = [_usage_name(p) for p in params if p.param_type_name == "argument"]
        return [*([self.options_metavar] if self.options_metavar else []), *arguments]


class _Group(typer.core.TyperGroup):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        _plain_help(self.get_params(ctx))
        super().format_help(ctx, formatter)


class _App(typer.Typer):
    """The Typer app whose commands' help is :func:`_plain_help`'s."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[CommandFunctionType], CommandFunctionType]:
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


app = _App(
    cls=_Group,
    help="Track how documentation websites change: snapshot docs as Markdown into a git repository.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# off a terminal (cron, pipes, CI logs) lines are not wrapped and tables get room to breathe
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", metavar="FILE", help="The sites file.")]
RepoOpt = Annotated[Path, typer.Option("--repo", "-r", metavar="DIR", help="The archive git repository.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging and full tracebacks.")]


def whole_number(text: str | int) -> int:
    """An option's value that must be a whole number ≥ 0, refused in our words (not pydantic's)."""
    try:
        value = int(text.strip() if isinstance(text, str) else text)
    except ValueError:
        raise typer.BadParameter(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise typer.BadParameter(f"expected 0 or more, got {value}")
    return value


def seconds(text: str | float) -> float:
    """An option's value in seconds (``30``, ``2.5``), ≥ 0."""
    try:
        value = float(text.strip() if isinstance(text, str) else text)
    except ValueError:
        raise typer.BadParameter(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0:  # (also refuses nan)
        raise typer.BadParameter(f"expected 0 seconds or more, got {text}")
    return value


def shard_spec(text: str | Shard | None) -> Shard | None:
    """``--shard K/N``, refused in a sentence that says what to write."""
    if text is None or isinstance(text, Shard):
        return text
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


ShardOpt = Annotated[
    Shard | None,
    typer.Option(
        metavar="K/N",
        parser=shard_spec,
        envvar="ARCHIVER_SHARD",
        help="Only the sites of shard K of N (by a stable hash of each name), to share them among N machines.",
    ),
]
WaitOpt = Annotated[
    float,
    typer.Option(
        metavar="SECONDS",
        parser=seconds,
        show_default=False,
        help="Seconds to wait for another run's lock (default: 0, give up at once).",
    ),
]
WorkersOpt = Annotated[
    int,
    typer.Option(
        metavar="N",
        parser=whole_number,
        show_default=False,
        help="Worker processes for fetch + convert (default: 0, one per core).",
    ),
]


NoPagerOpt = Annotated[
    bool, typer.Option("--no-pager", help="Print straight out, not through the pager ($PAGER, else less -FRX).")
]


def pager_command() -> str | None:
    """The pager to show long output in, as git picks one: ``$ARCHIVER_PAGER``, else ``$PAGER``,
    else ``less -FRX`` (quit at once if it fits one screen, keep colours, leave the text on the
    screen); None if it is set empty or to ``cat``. Like git's, it is a shell command."""
    chosen = os.environ.get("ARCHIVER_PAGER", os.environ.get("PAGER", "less -FRX")).strip()
    return None if chosen in ("", "cat") else chosen


def paged(text: str, *, no_pager: bool = False) -> None:
    """Write ``text`` to stdout, through the pager when stdout is a terminal (and not ``--no-pager``).

    A pager that cannot be started, or quits before reading everything, is not an error."""
    command = None if no_pager or not sys.stdout.isatty() else pager_command()
    if command is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    env = {**os.environ, "LESS": os.environ.get("LESS", "FRX"), "LV": os.environ.get("LV", "-c")}
    try:
        proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, env=env)  # noqa: S602 - the user's own $PAGER
    except OSError:
        sys.stdout.write(text)
        return
    assert proc.stdin is not None
    try:
        proc.stdin.write(text.encode("utf-8", errors="replace"))
        proc.stdin.close()
    except (BrokenPipeError, KeyboardInterrupt):  # the reader quit the pager early
        pass
    while True:
        try:
            proc.wait()
            break
        except KeyboardInterrupt:  # Ctrl-C belongs to the pager (less ignores it), as with git
            continue


def colour() -> bool:
    """Colour what we print (and what git prints for us): on a terminal, unless ``NO_COLOR`` or
    ``TERM=dumb`` says not to."""
    return out.is_terminal and not out.no_color and out.color_system is not None


def rendered(*lines: object) -> str:
    """What printing ``lines`` on :data:`out` would show (colours included on a terminal), as text."""
    with out.capture() as captured:
        for line in lines:
            out.print(line, highlight=False)
    return captured.get()


def printable(text: str) -> str:
    """Outside text (URLs, errors, paths) for one terminal line: control codes escaped, and rich
    markup escaped too, so ``[role=main]`` prints as written."""
    return escape(one_line(text))


def setup_logging(verbose: bool, *, daemon: bool = False) -> None:
    """``--verbose``: debug lines through rich. Otherwise warnings only, or for the daemon INFO lines
    with a timestamp (its heartbeat, which journald or a log file keeps)."""
    if verbose:
        logging.basicConfig(level=logging.DEBUG, handlers=[RichHandler(console=err, show_path=False)], force=True)
    elif daemon:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
        # APScheduler's "Running job …" lines would double the heartbeat; its warnings stay
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is for --verbose
    else:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", force=True)


@contextlib.contextmanager
def reported(verbose: bool) -> Iterator[None]:
    """Turn an ArchiverError into one red line on stderr and the right exit code."""
    try:
        yield
    except ArchiverError as exc:
        if verbose:
            err.print_exception()
        err.print(f"[red]{type(exc).__name__}[/red]: {printable(str(exc))}", highlight=False, soft_wrap=True)
        code = EXIT_STORE
        if isinstance(exc, ConfigError | HistoryError):
            code = EXIT_USAGE
        elif isinstance(exc, FetchError):  # a site's discovery failed (archiver pages)
            code = EXIT_FAILED
        raise typer.Exit(code) from None


@contextlib.contextmanager
def command(verbose: bool, *, daemon: bool = False) -> Iterator[None]:
    """How every command's body runs: logging set up, then errors :func:`reported`."""
    setup_logging(verbose, daemon=daemon)
    with reported(verbose):
        yield


class TermProgress:
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
            line = one_line(f"{site}: {result.status.value} {result.path}{detail}")
            err.print(line, highlight=False, markup=False, soft_wrap=True)

    def site_finished(self, report: SiteReport) -> None:
        if self.bar and report.site in self.tasks:
            self.bar.remove_task(self.tasks.pop(report.site))

    def stop(self) -> None:
        if self.bar:
            self.bar.stop()


def summary_table(reports: list[SiteReport]) -> Table:
    """The per-site table every archiving command ends with: fetched is the sum of the columns after
    it (gone, moved and skipped get a column when some site has one)."""
    table = Table(title="archiver run", title_justify="left")
    extra = [s for s in (PageStatus.MOVED, PageStatus.GONE, PageStatus.SKIPPED) if any(r.count(s) for r in reports)]
    statuses = [PageStatus.UNCHANGED, PageStatus.CHANGED, PageStatus.ADDED, *extra, PageStatus.REMOVED]
    rendered = any(r.rendered for r in reports)  # (a column only when some page needed the browser)
    columns = ["site", "fetched", *(s.value for s in statuses), *(["rendered"] if rendered else []), "failed", "commit"]
    for col in columns:
        table.add_column(col, justify="left" if col in ("site", "commit") else "right")
    for r in reports:
        commit = r.commit[:10] if r.commit else ("[red]error[/red]" if r.error else "-")
        failed = r.count(PageStatus.FAILED)
        table.add_row(
            r.site,
            str(r.fetched),
            *(str(r.count(s)) for s in statuses),
            *([str(r.rendered)] if rendered else []),
            f"[red]{failed}[/red]" if failed else "0",
            commit,
        )
    return table
