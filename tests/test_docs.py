"""The README keeps up with the CLI: every command and every long option is documented."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from archiver.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_is_in_the_readme_and_has_help(name: str) -> None:
    assert f"archiver {name}" in README
    assert COMMANDS[name].help


@pytest.mark.parametrize(
    "option",
    sorted({opt for cmd in COMMANDS.values() for p in cmd.params for opt in p.opts if opt.startswith("--")}),
)
def test_long_option_is_in_the_readme(option: str) -> None:
    assert option in README


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci/run").read_text()
    assert "scripts/test" in README and "exec bash scripts/test" in ci


PACKAGE = Path(__file__).resolve().parents[1] / "archiver"
ARCHITECTURE = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text()


@pytest.mark.parametrize(
    "module",
    sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "__main__.py"
        and (p.name != "__init__.py" or p.parent.name == "demo")
        and p.parent != PACKAGE / "config"
    )
    + ["config/"],
)
def test_every_module_is_in_the_architecture_doc(module: str) -> None:
    """docs/architecture.md is what a newcomer reads: a module it does not name is a module lost."""
    assert f"`{module}`" in ARCHITECTURE


def test_the_checkouts_sites_yaml_is_a_real_file_and_the_sample() -> None:
    """Issue 12, item 13: a symlink into the package breaks on some checkouts (Windows, zips) and an
    edit of it would edit the package; archiver init writes the same sample."""
    checkout = PACKAGE.parent / "sites.yaml"
    assert not checkout.is_symlink()
    assert checkout.read_text() == (PACKAGE / "cli" / "sample_sites.yaml").read_text()
