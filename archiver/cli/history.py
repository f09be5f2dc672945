"""The read-side commands: ``log``, ``show``, ``diff``, ``history`` and ``report``.

Registered on :data:`archiver.cli.common.app` when ``archiver.cli`` imports this module. Like
every command, each parses its arguments, calls the library (``history``,
``revisions``, ``report``) and renders the result; everything shown is read from git.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from archiver.archive import history, revisions
from archiver.cli.common import ConfigOpt, RepoOpt, VerboseOpt, app, command, err, out, printable
from archiver.config import load_config
from archiver.errors import HistoryError
from archiver.models import Snapshot

STATUS_WORD = {"A": "added", "M": "changed", "D": "removed"}


def _lines(added: int, removed: int) -> str:
    return f"[green]+{added}[/green] [red]−{removed}[/red]"


def _sections_text(found: dict[str, list[str]]) -> str:
    return "; ".join(f"{path}: {', '.join(heads)}" for path, heads in found.items() if heads)


def _site_of(snap: Snapshot) -> str:
    return snap.files[0].path.split("/", 1)[0] if snap.files else ""


@app.command()
def log(
    site: Annotated[str | None, typer.Argument(help="Only this site's snapshots.")] = None,
    repo: RepoOpt = Path("archive-repo"),
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many snapshots.")] = 50,
    since: Annotated[
        str | None, typer.Option(help="Only snapshots since this date (2026-06-01, '2 weeks ago').")
    ] = None,
    page: Annotated[
        str | None, typer.Option(help="Only snapshots that changed this page (path or URL; needs SITE).")
    ] = None,
    sections: Annotated[
        bool, typer.Option("--sections", "-s", help="Also the Markdown sections each changed.")
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Snapshots, newest first: date, commit, files changed and lines added/removed."""
    with command(verbose):
        if page and not site:
            raise HistoryError("--page needs a SITE: archiver log SITE --page PATH")
        if site:
            revisions.site_commits(repo, site)  # an unknown site is an error, not an empty table
        rel = revisions.resolve_page(repo, site, page) if site and page else None
        snaps = history.snapshots(repo, site, limit=limit, since=revisions.check_since(since), page=rel)
        found = {s.sha: history.sections(repo, _site_of(s), s.sha, page=rel) for s in snaps} if sections else {}
    what = f"{site}/{rel}" if rel else site or "all sites"
    table = Table(title=f"snapshots of {what}" + (f" since {since}" if since else ""), title_justify="left")
    for col in ("date", "commit", "changes", "subject", *(["sections"] if sections else [])):
        table.add_column(col)
    for s in snaps:
        n = len(s.files)
        changes = f"{n} file{'s' if n != 1 else ''} changed {_lines(s.lines_added, s.lines_removed)}"
        row = [s.date.replace("T", " ")[:19], s.sha[:10], changes, escape(s.subject)]
        table.add_row(*row, *([escape(_sections_text(found[s.sha]))] if sections else []))
    out.print(table)
    if not snaps:
        err.print(printable(f"no snapshots of {what}" + (f" since {since}" if since else "")), highlight=False)


@app.command()
def show(
    snapshot: Annotated[
        str,
        typer.Argument(metavar="SITE[@REV]", help="A site, and optionally which snapshot: -1, -2, a date, a commit."),
    ],
    repo: RepoOpt = Path("archive-repo"),
    verbose: VerboseOpt = False,
) -> None:
    """One snapshot: the sections that changed, then its stat and patch (git show)."""
    with command(verbose):
        site, rev = revisions.split_site_rev(snapshot)
        sha = revisions.resolve_snapshot(repo, site, rev)
        found = history.sections(repo, site, sha)
        text = history.diff(repo, site, sha, color=out.is_terminal)
    out.print(f"[bold]Sections changed[/bold] in {site}@{sha[:10]}:", highlight=False)
    width = max((len(p) for p in found), default=0)
    for path, heads in found.items():
        out.print(f"  {escape(path.ljust(width))}  {escape(', '.join(heads)) or '(binary)'}", highlight=False)
    out.print()
    sys.stdout.flush()
    sys.stdout.write(text)


@app.command(context_settings={"ignore_unknown_options": True})  # so that -1 and -2..-1 are revisions
def diff(
    site: Annotated[str, typer.Argument(help="The site.")],
    rev: Annotated[
        str | None,
        typer.Argument(help="A snapshot (-1, -2, 2026-06-10, a commit; default: the latest) or a range FROM..TO."),
    ] = None,
    page: Annotated[str | None, typer.Argument(help="Only this page (path in the site folder, or its URL).")] = None,
    repo: RepoOpt = Path("archive-repo"),
    word_diff: Annotated[
        bool, typer.Option("--word-diff", help="Show changed words inline (git diff --word-diff).")
    ] = False,
    stat: Annotated[bool, typer.Option("--stat", help="Only the files changed and their line counts.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """What changed in a snapshot of SITE, or between two: the same patch as git show / git diff."""
    for value in (rev, page):
        if value and value.startswith("--"):
            raise typer.BadParameter(f"no such option: {value}")
    with command(verbose):
        text = revisions.diff(repo, site, rev, color=out.is_terminal, page=page, word_diff=word_diff, stat_only=stat)
    sys.stdout.write(text)


@app.command("history")
def history_cmd(
    site: Annotated[str, typer.Argument(help="The site.")],
    page: Annotated[str, typer.Argument(help="The page: its path in the site folder (guide/auth.md) or its URL.")],
    repo: RepoOpt = Path("archive-repo"),
    verbose: VerboseOpt = False,
) -> None:
    """Every version of one page, oldest first: date, commit, what happened, lines added/removed."""
    with command(verbose):
        rel = revisions.resolve_page(repo, site, page)
        versions = history.page_versions(repo, site, rel)
    table = Table(title=f"versions of {site}/{rel} (oldest first)", title_justify="left")
    for col in ("#", "date", "commit", "change", "lines"):
        table.add_column(col, justify="right" if col == "#" else "left")
    for n, v in enumerate(versions, 1):
        lines = "binary" if v.binary else _lines(v.added, v.removed)
        table.add_row(str(n), v.date.replace("T", " ")[:19], v.sha[:10], STATUS_WORD.get(v.status, v.status), lines)
    out.print(table)


@app.command()
def report(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the HTML site and feeds into.")],
    repo: RepoOpt = Path("archive-repo"),
    config: ConfigOpt = Path("sites.yaml"),
    base_url: Annotated[
        str | None, typer.Option(help="Where the report will be served (makes feed links absolute).")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Render every snapshot page again, not only new ones.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write a static HTML site of every change (timeline, diffs, page histories) and Atom feeds."""
    from archiver.report.build import build_report

    with command(verbose):
        web_url = load_config(config).web_url if config.exists() else None
        result = build_report(repo, out_dir, web_url=web_url, base_url=base_url, full=full)
    out.print(
        f"{result.sites} site(s), {result.snapshots} snapshot(s), {result.rendered} new page(s) in {out_dir}; "
        f"open {out_dir / 'index.html'}",
        highlight=False,
    )
