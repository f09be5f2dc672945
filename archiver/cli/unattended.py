"""The commands for running unattended: ``archiver daemon`` and ``archiver systemd``.

Registered on the shared Typer app (``cli.common.app``) when ``cli.main`` imports this module.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from archiver.cli.common import (
    EXIT_USAGE,
    ConfigOpt,
    RepoOpt,
    ShardOpt,
    VerboseOpt,
    WorkersOpt,
    app,
    command,
    err,
    out,
    printable,
    seconds,
)
from archiver.config import field_location, load_config
from archiver.errors import ConfigError


@app.command()
def daemon(
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    workers: WorkersOpt = 0,
    wait: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            parser=seconds,
            show_default=False,
            help="Seconds a scheduled run waits for another run's lock (default: 3600, an hour).",
        ),
    ] = 3600.0,
    report: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR", help="Keep 'archiver report' current in this folder (instead of report: in the file)."
        ),
    ] = None,
    shard: ShardOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Archive each site on its schedule until stopped (SIGTERM/SIGINT: finish the run, exit 0; SIGHUP: reload).

    Example: archiver daemon --config /etc/archiver/sites.yaml --repo /srv/archive-repo
    """
    from archiver.daemon.scheduler import Daemon

    with command(verbose, daemon=True):
        Daemon(config, repo, workers=workers or None, lock_wait=wait, report=report, shard=shard).run_forever()


@app.command()
def systemd(
    config: ConfigOpt = Path("sites.yaml"),
    repo: RepoOpt = Path("archive-repo"),
    install: Annotated[bool, typer.Option("--install", help="Write the units instead of printing them.")] = False,
    folder: Annotated[
        Path | None,
        typer.Option("--dir", metavar="DIR", help="Where --install writes (default: ~/.config/systemd/user)."),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Print (or --install) a systemd service + timer that run 'archiver run' on the config's schedule.

    Example: archiver systemd --install
    """
    from archiver.daemon.systemd import default_command, own_schedules, render_units, user_unit_dir, write_units

    with command(verbose):
        cfg = load_config(config)
        try:
            units = render_units(cfg, config, repo, default_command())
        except ValueError as exc:
            raise ConfigError(
                f"{field_location(config, ('schedule',))}: schedule {cfg.schedule!r} cannot be a systemd timer "
                f"({exc}); "
                "use 'every <n>h' or a simpler cron expression, or run archiver daemon"
            ) from None
        if others := own_schedules(cfg):
            which = "top-level" if "schedule" in cfg.model_fields_set else "default"
            sites = ", ".join(
                f"{s.name} {s.schedule!r} ({field_location(config, ('sites', i, 'schedule')).rsplit(':', 1)[0]})"
                for i, s in others
            )
            warning = f"the timer runs every site on the {which} schedule {cfg.schedule!r}; per-site schedules are "
            warning += f"honoured only by 'archiver daemon': {sites}"
            err.print(f"[yellow]warning[/yellow]: {printable(warning)}", highlight=False)
        if not install:
            for name, text in units.items():
                sys.stdout.write(f"# {name}\n{text}\n")
            return
        target = folder or user_unit_dir()
        try:
            written = write_units(units, target)
        except OSError as exc:
            err.print(f"[red]error[/red]: {printable(f'cannot write the units into {target}: {exc}')}", highlight=False)
            raise typer.Exit(EXIT_USAGE) from None
    for path in written:
        out.print(f"wrote {printable(str(path))}", highlight=False)
    out.print(
        "next: systemctl --user daemon-reload && systemctl --user enable --now archiver.timer\n"
        "(and loginctl enable-linger $USER so it runs while you are logged out)",
        highlight=False,
    )
