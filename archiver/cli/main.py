"""The ``archiver`` command: the app with every command registered, and the console-script entry.

Importing the command modules registers their commands on :data:`archiver.cli.common.app`.
Exit codes: 0 all good; 1 some pages (or a site, or the push) failed; 2 bad config or usage; 3 the
archive repository could not be used (locked by another run, unwritable, not a repository).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from archiver import __version__
from archiver.cli import history, pages, run, unattended  # noqa: F401 - each registers its commands
from archiver.cli.common import app, out


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


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("GIT_TERMINAL_PROMPT", "0")
    app()
