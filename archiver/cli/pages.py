"""The commands about a site's pages and rules: ``archiver pages`` and ``archiver rerender``.

Registered on the shared Typer app (``cli.common.app``) when ``cli.main`` imports this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import StateStore
from archiver.cli.common import (
    EXIT_FAILED,
    ConfigOpt,
    RepoOpt,
    VerboseOpt,
    WaitOpt,
    app,
    command,
    err,
    out,
    summary_table,
)
from archiver.config import load_config
from archiver.paths import assign_paths

_HOW = {
    "suffix": "<page>.md",
    "link": 'rel="alternate" links',
    "accept": "Accept: text/markdown",
}


@app.command()
def pages(
    site: Annotated[str, typer.Argument(help="The site.")],
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    verbose: VerboseOpt = False,
) -> None:
    """List the pages discovery finds for SITE and the file each goes to; archives nothing (dry run).

    Example: archiver pages mydocs
    """
    from archiver.run.pipeline import discover

    with command(verbose):
        cfg = load_config(config)
        target = cfg.select([site])[0]
        where = repo / site if cfg.per_site else repo  # (per site, the site's own repository)
        archive = ArchiveRepo.open(where) if (where / ".git").exists() else None
        found = discover(target, archive)
    mapping = assign_paths(target.base_url, found.urls)
    state = StateStore(archive.state_dir).load(target.name) if archive else None
    known = state.pages if state else {}
    # plain "url<TAB>file<TAB>source" lines: easy to grep, diff and count (a table would cut long
    # URLs); the source is where the page was last archived from: "markdown <twin>", "html", or
    # "rendered" (HTML an app shell's scripts built in a browser), or "new" for a page not archived yet
    for url, rel in mapping.items():
        ps = known.get(url)
        if ps is None or not ps.path:
            source = "new"
        elif ps.twin:
            source = f"markdown {ps.twin_url or ''}".strip()
        else:
            source = "rendered" if ps.rendered else "html"  # rendered: the DOM a browser built (an app shell)
        typer.echo(f"{url}\t{target.name}/{rel}\t{source}")
    note = f"{len(mapping)} pages"
    twins = sum(1 for url in mapping if url in known and known[url].twin)
    if twins:
        note += f", {twins} from their Markdown source"
    if state and state.source.get("mode") == "markdown":
        note += f" (the site publishes it: {_HOW.get(state.source.get('how', ''), 'found')})"
    rendered = sum(1 for url in mapping if url in known and known[url].rendered)
    if rendered:
        note += f", {rendered} rendered in a browser (app shells)"
    if found.excluded:
        note += f"; {found.excluded} more left out by include/exclude or robots.txt"
    err.print(note, highlight=False)


@app.command()
def rerender(
    site: Annotated[str, typer.Argument(help="The site.")],
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    wait: WaitOpt = 0.0,
    verbose: VerboseOpt = False,
) -> None:
    """Re-apply SITE's current rules to its stored pages without fetching; one commit marked as a rules change.

    Example: archiver rerender mydocs
    """
    from archiver.run.pipeline import rerender as rerender_site

    with command(verbose):
        cfg = load_config(config)
        where = repo / site if cfg.per_site else repo  # (per site, the site's own repository)
        report = rerender_site(ArchiveRepo.open(where, cfg.identity), cfg.select([site])[0], wait=wait)
    out.print(summary_table([report]))
    if report.commit is None:
        out.print("nothing changed: the stored pages already match the rules")
    if report.failed:
        raise typer.Exit(EXIT_FAILED)
