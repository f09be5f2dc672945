"""Fixtures, all real: a loopback HTTP server, a git repository in tmp_path, the CLI runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import DATA, V1_PAGES, FaultServer
from typer.testing import CliRunner

from archiver.archive.repo import ArchiveRepo
from archiver.config import parse_config


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config, no proxies, a fixed timezone: tests behave the same anywhere."""
    home = tmp_path_factory.mktemp("home")
    empty = home / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("TZ", "UTC")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def site_v1() -> Path:
    return DATA / "site_v1"


@pytest.fixture
def site_v2() -> Path:
    return DATA / "site_v2"


@pytest.fixture
def docs_server(site_v1: Path) -> Iterator[FaultServer]:
    """A real HTTP server on 127.0.0.1 serving tests/data/site_v1; set ``.root`` to switch."""
    with FaultServer(site_v1) as server:
        yield server


@pytest.fixture
def archive(tmp_path: Path) -> ArchiveRepo:
    return ArchiveRepo.open_or_init(tmp_path / "archive-repo")


@pytest.fixture
def sites_yaml(tmp_path: Path, docs_server: FaultServer) -> Path:
    """A sites.yaml pointing at the test server, listing site_v1's pages (add new.html for v2)."""
    path = tmp_path / "sites.yaml"
    pages = ", ".join(V1_PAGES)
    path.write_text(
        f"sites:\n  - name: docs\n    base_url: {docs_server.url}\n    pages: [{pages}]\n"
        "    retries: 0\n    remove_after: 1\n"
    )
    parse_config(path.read_text(), str(path))  # the fixture itself must be valid
    return path


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()
