"""The scaling examples in docs/examples are real: their YAML and units have the structure
Kubernetes and systemd need, and run through a real shell, their N pods or instances take shards
1/N … N/N, each with its own archive folder. (No kubectl or systemd here: the structure is checked.)"""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path

import yaml
from helpers import V1_PAGES, FaultServer, make_config, make_site

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import BodyStore
from archiver.config import parse_config
from archiver.run.pipeline import run
from archiver.shards import parse_shard

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def _argv(command: str, env: dict[str, str]) -> list[str]:
    """What the shell would run for ``command`` (``exec archiver …``), with the pod's environment."""
    probe = "archiver() { printf '%s\\n' \"$@\"; }; " + command.replace("exec archiver", "archiver")
    done = subprocess.run(["sh", "-c", probe], env=env, capture_output=True, text=True, check=True, timeout=10)
    return done.stdout.splitlines()


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_kubernetes_indexed_cronjob_gives_each_pod_its_own_shard_and_archive() -> None:
    config_map, cron = yaml.safe_load_all((EXAMPLES / "k8s-cronjob-sharded.yaml").read_text())
    assert (config_map["apiVersion"], config_map["kind"]) == ("v1", "ConfigMap")
    sites = parse_config(config_map["data"]["sites.yaml"], "configmap sites.yaml")  # a valid sites.yaml
    assert sites.remote is not None and "{shard}" in sites.remote  # one remote per shard

    assert (cron["apiVersion"], cron["kind"]) == ("batch/v1", "CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    n = job["completions"]
    assert n == job["parallelism"] and n > 1
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    [container] = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert set(mounts) == {v["name"] for v in pod["volumes"]}
    assert container["command"] == ["sh", "-c"]
    [script] = container["args"]

    shards, repos = [], []
    for index in range(n):  # what each pod of the Indexed Job runs
        argv = _argv(script, {"JOB_COMPLETION_INDEX": str(index), "PATH": "/usr/bin:/bin"})
        assert argv[0] == "run"
        shards.append(parse_shard(_option(argv, "--shard")))
        repos.append(_option(argv, "--repo"))
        assert _option(argv, "--config").startswith(mounts["sites"])
        assert repos[-1].startswith(mounts["archive"] + "/")
    assert sorted((s.index, s.count) for s in shards) == [(k, n) for k in range(1, n + 1)]
    assert len(set(repos)) == n  # never two shards in one repository


def test_the_systemd_template_units_give_each_instance_its_own_shard_and_archive() -> None:
    service = configparser.ConfigParser(interpolation=None)
    service.read_string((EXAMPLES / "archiver-shard@.service").read_text())
    timer = configparser.ConfigParser(interpolation=None)
    timer.read_string((EXAMPLES / "archiver-shard@.timer").read_text())
    assert service["Service"]["Type"] == "oneshot"
    assert timer["Timer"]["Persistent"] == "true" and timer["Install"]["WantedBy"] == "timers.target"
    argv = shlex.split(service["Service"]["ExecStart"])
    assert argv[0].endswith("/archiver") and argv[1] == "run"
    count = parse_shard(_option(argv, "--shard").replace("%i", "1")).count
    assert f"of {count}" in service["Unit"]["Description"]
    shards = [parse_shard(_option(argv, "--shard").replace("%i", str(k))) for k in range(1, count + 1)]
    repos = {_option(argv, "--repo").replace("%i", str(k)) for k in range(1, count + 1)}
    assert [s.index for s in shards] == list(range(1, count + 1)) and len(repos) == count


def test_raw_bodies_are_kept_for_the_archived_pages_only(docs_server: FaultServer, tmp_path: Path) -> None:
    """The kept raw bodies are bounded by the pages archived now: a removed page's body goes, and so
    does any body no page of the state accounts for (left by an older version, or a crash)."""
    archive = ArchiveRepo.open_or_init(tmp_path / "archive-repo")
    site = make_site(docs_server.url, V1_PAGES, source="html")
    run(make_config(site), archive, workers=1)
    bodies = BodyStore(archive.bodies_dir("docs"))
    kept = {p.name for p in bodies.folder.iterdir()}
    assert len(kept) == len(V1_PAGES)
    (bodies.folder / "0123456789abcdef01234567.gz").write_bytes(b"orphan")
    (bodies.folder / "0123456789abcdef01234567.new").write_bytes(b"crash leftover")

    smaller = make_site(docs_server.url, V1_PAGES[1:], source="html", remove_after=1)
    run(make_config(smaller), archive, workers=1)

    assert {p.name for p in bodies.folder.iterdir()} == kept - {bodies.path(docs_server.url + V1_PAGES[0]).name}
    assert bodies.get(docs_server.url + V1_PAGES[1]) is not None


def test_a_run_packs_the_repository_at_its_end_not_behind_its_back(docs_server: FaultServer, tmp_path: Path) -> None:
    """Commits start no automatic maintenance (git would run it detached, beside the next run);
    the run packs once after its last commit, in the foreground, when gc --auto says it is time."""
    archive = ArchiveRepo.open_or_init(tmp_path / "archive-repo")
    loose = tmp_path / "loose"
    loose.mkdir()
    for n in range(2000):  # enough loose objects for gc --auto's estimate (it samples objects/17/)
        (loose / f"{n}.txt").write_text(f"object {n}\n")
    paths = "\n".join(str(p) for p in loose.iterdir())
    subprocess.run(
        ["git", "-C", str(archive.path), "hash-object", "-w", "--stdin-paths"],
        input=paths,
        text=True,
        check=True,
        capture_output=True,
    )
    subprocess.run(["git", "-C", str(archive.path), "config", "gc.auto", "100"], check=True)

    run(make_config(make_site(docs_server.url, V1_PAGES, source="html")), archive, workers=1)

    out = subprocess.run(["git", "-C", str(archive.path), "count-objects", "-v"], capture_output=True, text=True)
    counts = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    # packed by the time run() returned: the run's own objects (the 2,000 unreachable blobs stay loose
    # until gc's prune expiry, as git keeps young unreachable objects)
    assert int(counts["packs"]) >= 1 and int(counts["count"]) <= 2000
