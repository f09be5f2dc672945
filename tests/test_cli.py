"""Every command through Typer's CliRunner: exit codes, stdout vs stderr, messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import FaultServer, commit_count, git
from typer.testing import CliRunner

from archiver.cli import app


def invoke(cli: CliRunner, *args: str):  # type: ignore[no-untyped-def]
    return cli.invoke(app, list(args), catch_exceptions=False)


COMMANDS = sorted(
    ["init", "run", "status", "log", "show", "diff", "history", "report", "pages", "rerender", "demo", "daemon"]
    + ["systemd", "when", "digest"]
)


def test_the_help_lists_every_command(cli: CliRunner) -> None:
    import typer.main

    registered = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert registered == COMMANDS  # a new command gets a --help test below
    listing = invoke(cli, "--help").stdout
    assert all(name in listing for name in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(cli: CliRunner, command: str) -> None:
    result = invoke(cli, command, "--help")
    assert result.exit_code == 0
    assert f"Usage: root {command}" in result.stdout or f" {command} [OPTIONS]" in result.stdout
    assert "--verbose" in result.stdout  # every command takes it (README)
    text = " ".join(result.stdout.replace("│", " ").split())  # (the panels' borders and wrapping out)
    assert re.findall(r"<[a-z_\[\]]+>", text) == []  # no <bool>, <str>, <list[str]>, <path>
    assert "{" not in text.split("Usage:")[1].split("Example:")[0]  # SITE, not {site}
    assert re.search(rf"Example: archiver {command}\b", text)  # one example per command
    for saying in re.findall(r"\(default: ([^)]*)\)", text):  # said in the help: not contradicted by click
        assert "[default:" not in text.split(f"(default: {saying})")[1].split("--")[0]


def test_bad_option_values_are_said_in_our_words(cli: CliRunner, tmp_path: Path) -> None:
    for args, said in (
        (["--workers", "x"], "--workers': expected a whole number, got 'x'"),
        (["--wait", "-3"], "--wait': expected 0 seconds or more, got -3"),
    ):
        result = invoke(cli, "run", *args, "--config", str(tmp_path / "none.yaml"))
        assert result.exit_code == 2
        assert said in " ".join(result.stderr.replace("│", " ").split())
        assert "Input should be" not in result.stderr  # (pydantic's words)


def test_version(cli: CliRunner) -> None:
    from archiver import __version__

    result = invoke(cli, "--version")
    assert result.exit_code == 0 and __version__ in result.stdout


def test_init_writes_a_valid_sample_and_an_empty_archive(cli: CliRunner, tmp_path: Path) -> None:
    config, repo = tmp_path / "sites.yaml", tmp_path / "archive-repo"
    result = invoke(cli, "init", "--config", str(config), "--repo", str(repo))
    assert result.exit_code == 0
    assert "sites:" in config.read_text()
    assert (repo / ".git").is_dir()
    again = invoke(cli, "init", "--config", str(config), "--repo", str(repo))
    assert "exists; left as it is" in again.stdout


def test_run_status_log_diff(
    cli: CliRunner, sites_yaml: Path, tmp_path: Path, docs_server: FaultServer, site_v2: Path
) -> None:
    repo = tmp_path / "archive-repo"
    first = invoke(cli, "run", "--config", str(sites_yaml), "--repo", str(repo))
    assert first.exit_code == 0, first.stderr
    assert "docs" in first.stdout and "fetched" in first.stdout
    docs_server.root = site_v2
    sites_yaml.write_text(sites_yaml.read_text().replace("old.html]", "old.html, new.html]"))  # v2's new page
    second = invoke(cli, "run", "--config", str(sites_yaml), "--repo", str(repo))
    assert second.exit_code == 0
    assert "docs: changed guide/auth.md" in second.stderr  # plain progress lines off a terminal
    assert "docs: removed old.md" in second.stderr

    log = invoke(cli, "log", "docs", "--repo", str(repo))
    assert log.exit_code == 0
    head = git(repo, "rev-parse", "--short=10", "HEAD").strip()
    assert head in log.stdout
    numstat = git(repo, "show", "--numstat", "--format=", "HEAD").split()
    plus, minus = sum(int(x) for x in numstat[0::3]), sum(int(x) for x in numstat[1::3])
    assert f"1 changed, 1 added, 1 removed (+{plus} −{minus})" in log.stdout.splitlines()[0]

    diff = invoke(cli, "diff", "docs", "--repo", str(repo))
    assert diff.exit_code == 0
    assert diff.stdout == git(
        repo, "show", "--color=never", "--stat", "--patch", "--format=medium", "HEAD", "--", "docs/"
    )
    assert "+Send the `token` parameter" in diff.stdout

    status = invoke(cli, "status", "--config", str(sites_yaml), "--repo", str(repo))
    assert status.exit_code == 0
    assert head in status.stdout


def test_run_commits_as_the_configured_author(cli: CliRunner, sites_yaml: Path, tmp_path: Path) -> None:
    sites_yaml.write_text("author: Docs Bot <bot@example.org>\n" + sites_yaml.read_text())
    repo = tmp_path / "archive-repo"
    assert invoke(cli, "run", "--config", str(sites_yaml), "--repo", str(repo)).exit_code == 0
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "Docs Bot <bot@example.org>|Docs Bot <bot@example.org>"
    )


def test_run_with_a_failing_page_exits_1_and_names_it(
    cli: CliRunner, sites_yaml: Path, tmp_path: Path, docs_server: FaultServer
) -> None:
    docs_server.set_page("/guide/auth.html", b"down", status=500)
    result = invoke(cli, "run", "--config", str(sites_yaml), "--repo", str(tmp_path / "r"))
    assert result.exit_code == 1
    assert f"failed {docs_server.url}guide/auth.html" in result.stderr and "HTTP 500" in result.stderr
    status = invoke(cli, "status", "--config", str(sites_yaml), "--repo", str(tmp_path / "r"))
    assert f"docs: failing {docs_server.url}guide/auth.html" in status.stdout


def test_bad_config_is_one_line_with_file_and_line_exit_2(cli: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "sites.yaml"
    config.write_text("sites:\n  - name: docs\n    base_url: http://127.0.0.1:1/\n    pagez: [a.html]\n")
    repo = tmp_path / "archive-repo"
    result = invoke(cli, "run", "--config", str(config), "--repo", str(repo))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"{config}:4: sites[0].pagez: unknown field (" in lines[0]
    assert "Traceback" not in result.stderr
    assert not repo.exists()  # nothing written


def test_verbose_shows_the_traceback(cli: CliRunner, tmp_path: Path) -> None:
    result = invoke(cli, "run", "--config", str(tmp_path / "missing.yaml"), "--verbose")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "config file not found" in result.stderr


def test_unknown_site_is_a_usage_error(cli: CliRunner, sites_yaml: Path, tmp_path: Path) -> None:
    result = invoke(cli, "run", "nosuch", "--config", str(sites_yaml), "--repo", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "unknown site 'nosuch' (sites in the config: docs)" in result.stderr


def test_log_and_diff_of_unknown_site_exit_2(cli: CliRunner, sites_yaml: Path, tmp_path: Path) -> None:
    repo = tmp_path / "r"
    invoke(cli, "run", "--config", str(sites_yaml), "--repo", str(repo))
    for args in (("log", "nosuch"), ("diff", "nosuch")):
        result = invoke(cli, *args, "--repo", str(repo))
        assert result.exit_code == 2
        assert "no snapshots of site 'nosuch'" in result.stderr


def test_log_without_archive_exit_3(cli: CliRunner, tmp_path: Path) -> None:
    result = invoke(cli, "log", "--repo", str(tmp_path / "none"))
    assert result.exit_code == 3
    assert "no archive repository" in result.stderr


def test_demo_runs_offline_and_shows_the_diff(cli: CliRunner, tmp_path: Path) -> None:
    repo = tmp_path / "demo"
    result = invoke(cli, "demo", "--repo", str(repo))
    assert result.exit_code == 0, result.stderr
    assert commit_count(repo) == 2
    assert "-| Free | 120 |" in result.stdout and "+| Free | 60 |" in result.stdout
    assert (
        "acme: first snapshot, 4 pages" in result.stdout and "acme: 2 changed, 1 added, 1 removed (+" in result.stdout
    )
    # pages whose bytes changed only in chrome (build stamp, asset hash) are not in the diff
    assert "acme/guide/auth.md" not in git(repo, "show", "--name-only", "--format=", "HEAD")


def test_unmatched_content_selectors_are_noted_once(cli: CliRunner, tmp_path: Path, docs_server: FaultServer) -> None:
    config = tmp_path / "sites.yaml"
    config.write_text(
        f"sites:\n  - name: docs\n    base_url: {docs_server.url}\n"
        "    pages: [index.html, guide/auth.html]\n    content: ['#nope']\n    retries: 0\n"
    )
    result = invoke(cli, "run", "--config", str(config), "--repo", str(tmp_path / "r"))
    assert result.exit_code == 0  # a note, not a failure: the defaults found the content
    notes = [line for line in result.stderr.splitlines() if "note:" in line]
    assert notes == [
        f"docs: note: content selectors ['#nope'] matched nothing; the default selectors were used "
        f"(2 pages, e.g. {docs_server.url}index.html)"
    ] or notes == [
        f"docs: note: content selectors ['#nope'] matched nothing; the default selectors were used "
        f"(2 pages, e.g. {docs_server.url}guide/auth.html)"
    ]
    assert "Send the `api_key` parameter" in (tmp_path / "r/docs/guide/auth.md").read_text()


def test_demo_without_repo_points_nowhere_it_deletes(cli: CliRunner) -> None:
    """Issue 12, item 13: the temporary archive is gone afterwards, so no hint names it; the rows say
    which version they are, and neither has a failure (each version's pages are listed as served)."""
    result = invoke(cli, "demo")
    assert result.exit_code == 0, result.stderr
    assert "git -C" not in result.stdout and "archiver-demo-" not in result.stdout
    rows = [line for line in result.stdout.splitlines() if "acme v" in line]
    assert [row.split("│")[1].strip() for row in rows] == ["acme v1", "acme v2"]
    assert all(row.split("│")[-3].strip() == "0" for row in rows)  # failed
