"""Sharing sites among machines: ``--shard K/N`` (archiver.shards), through real runs into bare remotes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import FaultServer, git
from typer.testing import CliRunner

from archiver.cli import app
from archiver.config import parse_config
from archiver.errors import ConfigError
from archiver.shards import Shard, parse_shard, slot

NAMES = [f"vendor{i}-docs" for i in range(60)]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 16])
def test_every_site_is_in_exactly_one_shard(count: int) -> None:
    shards = [Shard(k, count) for k in range(1, count + 1)]
    for name in NAMES:
        assert sum(s.takes(name) for s in shards) == 1
    sizes = [sum(s.takes(n) for n in NAMES) for s in shards]
    assert sum(sizes) == len(NAMES)
    if count <= 4:  # a hash, not a list: no shard is left empty or holds most of the sites
        assert min(sizes) >= len(NAMES) // count // 3 and max(sizes) <= 2 * len(NAMES) // count


def test_a_sites_shard_is_fixed_by_its_name_alone() -> None:
    # the same in every process and run (not Python's salted hash()), and whatever else is listed
    assert [slot(n, 4) for n in NAMES[:8]] == [slot(n, 4) for n in NAMES[:8]]
    before = {n: slot(n, 5) for n in NAMES[:30]}
    assert {n: slot(n, 5) for n in NAMES} | before == {n: slot(n, 5) for n in NAMES}
    assert slot("docs", 4) == int.from_bytes(__import__("hashlib").blake2b(b"docs", digest_size=8).digest()) % 4


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("0/4", "K goes from 1 to N (1/4 … 4/4)"),
        ("5/4", "shard 5/4 does not exist"),
        ("1/0", "N is at least 1"),
        ("2", "expected K/N such as 1/4"),
        ("a/b", "expected K/N"),
    ],
)
def test_a_bad_shard_is_refused_with_what_to_write(spec: str, said: str) -> None:
    with pytest.raises(ValueError, match=said.replace("(", r"\(").replace(")", r"\)").replace("…", ".")):
        parse_shard(spec)
    assert parse_shard(" 2 / 4 ") == Shard(2, 4)


def _config(tmp_path: Path, server: FaultServer, names: list[str], remote: str | None) -> Path:
    path = tmp_path / "sites.yaml"
    lines = [f"remote: {remote}"] if remote else []
    lines.append("sites:")
    for name in names:
        lines += [f"  - name: {name}", f"    base_url: {server.url}", "    pages: [index.html]", "    retries: 0"]
    path.write_text("\n".join(lines) + "\n")
    parse_config(path.read_text(), str(path))
    return path


def test_two_shards_archive_every_site_once_into_their_own_remotes(
    cli: CliRunner, docs_server: FaultServer, tmp_path: Path
) -> None:
    names = [f"site{i}" for i in range(8)]
    config = _config(tmp_path, docs_server, names, str(tmp_path / "remote-{shard}.git"))
    remotes = [tmp_path / f"remote-{k}-of-2.git" for k in (1, 2)]
    for remote in remotes:
        git(tmp_path, "init", "--quiet", "--bare", str(remote))
    archived: list[set[str]] = []
    for k, remote in enumerate(remotes, 1):
        repo = tmp_path / f"machine{k}"
        result = cli.invoke(app, ["run", "--json", "--shard", f"{k}/2", "--config", str(config), "--repo", str(repo)])
        assert result.exit_code == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["push"]["remote"] == str(remote) and data["push"]["ok"]
        in_remote = set(git(remote, "ls-tree", "--name-only", "main").split())
        assert in_remote == {s["site"] for s in data["sites"]}
        archived.append(in_remote)
    assert archived[0] | archived[1] == set(names) and not archived[0] & archived[1]
    assert all(archived)  # 8 names: both shards got some (fixed by the names, so this cannot flake)

    # a site added to sites.yaml lands in one shard; the others stay where they were
    config = _config(tmp_path, docs_server, [*names, "site-new"], str(tmp_path / "remote-{shard}.git"))
    for k in (1, 2):
        repo = tmp_path / f"machine{k}"
        result = cli.invoke(app, ["run", "--json", "--shard", f"{k}/2", "--config", str(config), "--repo", str(repo)])
        sites = {s["site"]: s for s in json.loads(result.stdout)["sites"]}
        assert set(sites) - {"site-new"} == archived[k - 1]
        assert all(s["commit"] is None for name, s in sites.items() if name != "site-new")  # nothing refetched as new


def test_one_remote_for_every_shard_is_refused(cli: CliRunner, docs_server: FaultServer, tmp_path: Path) -> None:
    config = _config(tmp_path, docs_server, ["a", "b"], str(tmp_path / "shared.git"))
    result = cli.invoke(app, ["run", "--shard", "1/2", "--config", str(config), "--repo", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "would be shared by all 2 shards: put {shard} in it" in result.stderr
    assert not (tmp_path / "r").exists()  # refused before anything was made
    cfg = parse_config(config.read_text(), str(config))
    with pytest.raises(ConfigError, match="names {shard}: run with --shard"):
        cfg.model_copy(update={"remote": "x-{shard}.git"}).for_shard(None)


def test_a_shard_with_no_sites_does_nothing_and_says_so(
    cli: CliRunner, docs_server: FaultServer, tmp_path: Path
) -> None:
    name = next(n for n in NAMES if slot(n, 3) == 0)
    config = _config(tmp_path, docs_server, [name], None)
    result = cli.invoke(
        app, ["run", "--config", str(config), "--repo", str(tmp_path / "r")], env={"ARCHIVER_SHARD": "2/3"}
    )
    assert result.exit_code == 0
    assert "shard 2/3 takes none of the 1 sites asked for" in result.stderr
    assert not (tmp_path / "r").exists()
