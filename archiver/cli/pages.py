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
    known = StateStore(archive.state_dir).load(target.name).pages if archive else {}
    rendered = {url for url, ps in known.items() if ps.rendered}
    # plain "url<TAB>file" lines: easy to grep, diff and count (a table would cut long URLs); a page
    # last archived from a browser's DOM says so in a third column
    for url, rel in mapping.items():
        typer.echo(f"{url}\t{target.name}/{rel}" + ("\trendered" if url in rendered else ""))
    note = f"{len(mapping)} pages"
    if rendered & set(mapping):
        note += f", {len(rendered & set(mapping))} rendered in a browser (app shells)"
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
