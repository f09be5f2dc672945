"""The command line: Typer and rich live here only. Each command parses its arguments, calls the
library once and renders the result (``common`` holds what they share; ``main`` wires them up)."""

from __future__ import annotations

from archiver.cli.common import app
from archiver.cli.main import main

__all__ = ["app", "main"]
