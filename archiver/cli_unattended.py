"""The commands for running unattended: ``archiver daemon`` and ``archiver systemd``.

They live apart from ``cli.py`` to keep that module small; ``cli.py`` imports this module at its
end, which registers the commands on the same Typer app.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler

from archiver.cli import EXIT_USAGE, ConfigOpt, RepoOpt, VerboseOpt, _reported, app, err, out
from archiver.config import load_config
from archiver.errors import ConfigError


def _setup_daemon_logging(verbose: bool) -> None:
    """INFO lines with a timestamp (the heartbeat); journald or a log file keeps them."""
    if verbose:
        logging.basicConfig(level=logging.DEBUG, handlers=[RichHandler(console=err, show_path=False)], force=True)
    else:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
        # APScheduler's "Running job …" lines would double the heartbeat; its warnings stay
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is for --verbose


@app.command()
def daemon(
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    workers: Annotated[int, typer.Option(help="Worker processes for fetch + convert (default: cores).")] = 0,
    wait: Annotated[float, typer.Option(help="Seconds a scheduled run waits for another run's lock.")] = 3600.0,
    verbose: VerboseOpt = False,
) -> None:
    """Archive each site on its schedule until stopped (SIGTERM/SIGINT: finish the run, exit 0; SIGHUP: reload)."""
    from archiver.scheduler import Daemon

    _setup_daemon_logging(verbose)
    with _reported(verbose):
        Daemon(config, repo, workers=workers or None, lock_wait=wait).run_forever()


@app.command()
def systemd(
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    install: Annotated[bool, typer.Option("--install", help="Write the units instead of printing them.")] = False,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Where --install writes (default: ~/.config/systemd/user).")
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Print (or --install) a systemd service + timer that run 'archiver run' on the config's schedule."""
    from archiver.systemd import default_command, render_units, user_unit_dir, write_units

    with _reported(verbose):
        cfg = load_config(config)
        try:
            units = render_units(cfg, config, repo, default_command())
        except ValueError as exc:
            raise ConfigError(
                f"{config}: schedule {cfg.schedule!r} cannot be a systemd timer ({exc}); "
                "use 'every <n>h' or a simpler cron expression, or run archiver daemon"
            ) from None
        if not install:
            for name, text in units.items():
                sys.stdout.write(f"# {name}\n{text}\n")
            return
        target = folder or user_unit_dir()
        try:
            written = write_units(units, target)
        except OSError as exc:
            err.print(f"[red]error[/red]: cannot write the units into {target}: {exc}", highlight=False)
            raise typer.Exit(EXIT_USAGE) from None
    for path in written:
        out.print(f"wrote {path}", highlight=False)
    out.print(
        "next: systemctl --user daemon-reload && systemctl --user enable --now archiver.timer\n"
        "(and loginctl enable-linger $USER so it runs while you are logged out)",
        highlight=False,
    )
