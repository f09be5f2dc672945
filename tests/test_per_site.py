"""layout: per-site: each site its own repository (archiver.archive.layout), through real runs,
real bare remotes and every read-side command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import DATA, FaultServer, git
from typer.testing import CliRunner

from archiver.cli import app
from archiver.config import parse_config
from archiver.errors import ConfigError
from archiver.report.build import build_report


def _config(tmp_path: Path, server: FaultServer, *, remote: str | None, layout: str = "per-site") -> Path:
    path = tmp_path / f"sites-{layout}.yaml"
    lines = [f"layout: {layout}"] + ([f"remote: {remote}"] if remote else []) + ["sites:"]
    for name, pages in (("docs", "index.html, guide/auth.html, old.html"), ("other", "index.html")):
        lines += [f"  - name: {name}", f"    base_url: {server.url}", f"    pages: [{pages}]", "    retries: 0"]
        lines += ["    remove_after: 1"]
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(cli: CliRunner, *args: str):  # type: ignore[no-untyped-def]
    return cli.invoke(app, list(args), catch_exceptions=False)


def test_each_site_is_its_own_repository_pushed_to_its_own_remote(
    cli: CliRunner, docs_server: FaultServer, tmp_path: Path
) -> None:
    remotes = {name: tmp_path / "remotes" / f"{name}.git" for name in ("docs", "other")}
    for remote in remotes.values():
        remote.parent.mkdir(exist_ok=True)
        git(remote.parent, "init", "--quiet", "--bare", str(remote))
    config = _config(tmp_path, docs_server, remote=str(tmp_path / "remotes" / "{site}.git"))
    root = tmp_path / "archive-repo"

    first = invoke(cli, "run", "--json", "--config", str(config), "--repo", str(root))
    assert first.exit_code == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["push"] is None and set(data["pushes"]) == {"docs", "other"}
    assert not (root / ".git").exists()  # a folder of repositories, not a repository
    for name, remote in remotes.items():
        repo = root / name
        assert (repo / ".git").is_dir()
        # the site's pages under <site>/ in its own repository, as in the single layout
        assert git(repo, "ls-files").split() and all(p.startswith(f"{name}/") for p in git(repo, "ls-files").split())
        assert git(repo, "rev-parse", "HEAD").strip() == git(remote, "rev-parse", "main").strip()
        assert data["pushes"][name]["remote"] == str(remote) and data["pushes"][name]["ok"]
        pages = len(git(repo, "ls-files").split())
        assert git(repo, "log", "--format=%s").splitlines() == [
            f"{name}: first snapshot, {pages} page{'s' if pages != 1 else ''}"
        ]
        assert git(repo, "ls-tree", "--name-only", "HEAD").split() == [name]  # only its own site
    assert git(root / "docs", "rev-list", "--count", "HEAD").strip() == "1"

    docs_server.root = DATA / "site_v2"  # guide/auth changes, old.html is gone
    second = invoke(cli, "run", "--json", "--config", str(config), "--repo", str(root))
    assert second.exit_code == 0, second.stderr
    sites = {s["site"]: s for s in json.loads(second.stdout)["sites"]}
    assert sites["docs"]["commit"] and sites["docs"]["changed"] == 1 and sites["docs"]["removed"] == 1
    assert git(root / "docs", "rev-list", "--count", "HEAD").strip() == "2"
    assert git(remotes["docs"], "rev-parse", "main").strip() == sites["docs"]["commit"]

    # every read-side command finds each site in its own repository
    log = invoke(cli, "log", "--repo", str(root))
    shas = git(root / "docs", "log", "--format=%h", "--abbrev=10").split()
    shas += git(root / "other", "log", "--format=%h", "--abbrev=10").split()
    assert sorted(line[:10] for line in log.stdout.splitlines()) == sorted(shas)
    one = invoke(cli, "log", "docs", "--repo", str(root))
    assert [line[:10] for line in one.stdout.splitlines()] == git(
        root / "docs", "log", "--format=%h", "--abbrev=10"
    ).split()
    diff = invoke(cli, "diff", "docs", "-1", "--repo", str(root))
    assert diff.stdout == git(root / "docs", "show", "--stat", "--patch", "--format=medium", "HEAD", "--", "docs/")
    show = invoke(cli, "show", "docs@-2", "--repo", str(root))
    assert show.exit_code == 0 and "Sections changed in docs@" in show.stdout
    history = invoke(cli, "history", "docs", "/old.html", "--repo", str(root))
    assert history.exit_code == 0 and "removed (gone: HTTP 404)" in history.stdout
    status = invoke(cli, "status", "--config", str(config), "--repo", str(root))
    assert status.exit_code == 0 and sites["docs"]["commit"][:10] in status.stdout
    unknown = invoke(cli, "log", "nosuch", "--repo", str(root))
    assert (
        unknown.exit_code == 2 and "no snapshots of site 'nosuch'" in unknown.stderr and "docs, other" in unknown.stderr
    )

    out = tmp_path / "report"
    result = build_report(root, out)
    assert (result.sites, result.snapshots) == (2, 3)
    for name in ("docs", "other"):
        for sha in git(root / name, "log", "--format=%H").split():
            assert (out / name / "snap" / f"{sha}.html").is_file()
    assert sites["docs"]["commit"] in (out / "docs" / "feed.xml").read_text()


def test_a_folder_of_the_other_layout_is_refused(cli: CliRunner, docs_server: FaultServer, tmp_path: Path) -> None:
    single = _config(tmp_path, docs_server, remote=None, layout="single")
    root = tmp_path / "archive-repo"
    assert invoke(cli, "run", "--config", str(single), "--repo", str(root)).exit_code == 0
    per_site = _config(tmp_path, docs_server, remote=None)
    result = invoke(cli, "run", "--config", str(per_site), "--repo", str(root))
    assert (
        result.exit_code == 3
        and "is one repository for every site, but sites.yaml says layout: per-site" in result.stderr
    )
    other = tmp_path / "per-site-archive"
    assert invoke(cli, "run", "--config", str(per_site), "--repo", str(other)).exit_code == 0
    result = invoke(cli, "run", "--config", str(single), "--repo", str(other))
    assert result.exit_code == 3 and "holds one repository per site" in result.stderr
    home = tmp_path / "home"  # a folder full of something else never gets site repositories
    (home / "notes").mkdir(parents=True)
    result = invoke(cli, "run", "--config", str(per_site), "--repo", str(home))
    assert result.exit_code == 3 and "no archive" in result.stderr and not (home / "docs").exists()


@pytest.mark.parametrize(
    ("yaml", "said"),
    [
        ("layout: per-site\nremote: git@host:all.git\n", "put {site} in remote"),
        ("remote: git@host:{site}.git\n", "{site} in remote needs layout: per-site"),
        ("layout: per_site\n", "layout"),
    ],
)
def test_layout_and_remote_must_agree(yaml: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said.replace("{", r"\{").replace("}", r"\}")):
        parse_config(yaml + "sites:\n  - name: a\n    base_url: https://x.org/\n", "s.yaml")


def test_rerender_and_pages_use_the_sites_own_repository(
    cli: CliRunner, docs_server: FaultServer, tmp_path: Path
) -> None:
    config = _config(tmp_path, docs_server, remote=None)
    root = tmp_path / "archive-repo"
    assert invoke(cli, "run", "--config", str(config), "--repo", str(root)).exit_code == 0
    config.write_text(config.read_text().replace("    remove_after: 1\n", "    remove_after: 1\n    strip: [h1]\n", 1))
    result = invoke(cli, "rerender", "docs", "--config", str(config), "--repo", str(root))
    assert result.exit_code == 0, result.stderr
    assert git(root / "docs", "rev-list", "--count", "HEAD").strip() == "2"
    assert "Change-Kind: rules" in git(root / "docs", "log", "-1", "--format=%B")
    assert git(root / "other", "rev-list", "--count", "HEAD").strip() == "1"  # the other site's repository untouched
    listed = invoke(cli, "pages", "docs", "--config", str(config), "--repo", str(root))
    assert listed.exit_code == 0 and f"{docs_server.url}guide/auth.html\tdocs/guide/auth.md" in listed.stdout
