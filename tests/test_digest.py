"""``archiver digest`` over a real archive (tests/helpers.py ``build``) in its three formats, checked
against git, and the daemon's scheduled digest delivered to a ``json://`` receiver on loopback."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import lxml.html
import pytest
from helpers import DATA, Built, FaultServer, build, git, wait_for
from test_notify import Receiver
from typer.testing import CliRunner

from archiver.archive import history
from archiver.archive.patch import section_words
from archiver.cli import app
from archiver.config import load_config
from archiver.daemon.scheduler import Daemon
from archiver.errors import ConfigError


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with pytest.MonkeyPatch.context() as mp, FaultServer(DATA / "site_v1") as server:
        yield build(tmp_path_factory.mktemp("digest"), server, mp)


def run(built: Built, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["digest", *args, "--repo", str(built.repo)], catch_exceptions=False)


def numstat(built: Built, since: str, site: str) -> dict[str, tuple[int, int]]:
    """Each page's lines summed over the site's commits since ``since``, as git counts them."""
    out: dict[str, tuple[int, int]] = {}
    for line in git(built.repo, "log", f"--since={since}", "--numstat", "--format=", "--", f"{site}/").splitlines():
        if line.strip():
            a, r, path = line.split("\t")
            old = out.get(path.removeprefix(f"{site}/"), (0, 0))
            out[path.removeprefix(f"{site}/")] = (old[0] + int(a), old[1] + int(r))
    return out


def test_json_digest_matches_git(built: Built) -> None:
    result = run(built, "--since", "2026-06-06", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["since"] == "2026-06-06T00:00:00+00:00" and data["unchanged"] == []
    sites = {s["site"]: s for s in data["sites"]}
    assert [s["site"] for s in data["sites"]] == ["docs", "other"]  # biggest change first
    docs = sites["docs"]
    assert [s["sha"] for s in docs["snapshots"]] == built.docs[2:]  # oldest first
    assert {p["path"]: (p["added"], p["removed"]) for p in docs["pages"]} == numstat(built, "2026-06-06", "docs")
    auth = docs["pages"][0]
    assert auth["path"] == "guide/auth.md" and auth["change"] == "changed" and auth["snapshots"] == 2
    # the sections `archiver show` names for each of the two snapshots, once each, in order
    expected = [
        section_words(h) for sha in built.docs[2:] for h in history.sections(built.repo, "docs", sha)[auth["path"]]
    ]
    assert auth["sections"] == list(dict.fromkeys(expected)) and "Errors" in auth["sections"]
    assert (docs["lines_added"], docs["pages_changed"], docs["pages_added"]) == (auth["added"], 1, 0)
    other = sites["other"]
    assert other["snapshots"][0]["sha"] == built.other and other["pages_added"] == 1
    assert [p["change"] for p in other["pages"]] == ["added"]
    only = json.loads(run(built, "docs", "--since", "2026-06-01", "--format", "json").stdout)
    pages = {p["path"]: p["change"] for p in only["sites"][0]["pages"]}
    assert pages["old.md"] == "removed" and pages["new.md"] == "added" and len(only["sites"]) == 1


def test_markdown_and_html_digests(built: Built) -> None:
    md = run(built, "--since", "2026-06-06").stdout
    assert md.startswith("# Documentation digest, Sat 6 Jun 2026 00:00 UTC to ")
    assert "## docs: 2 snapshots, 1 changed (+" in md
    assert "- guide/auth.md changed (+" in md and ", Errors" in md
    assert f"`{built.docs[3][:10]}`" in md and md.index("## docs") < md.index("## other")
    page = run(built, "--since", "2026-06-06", "--format", "html").stdout
    doc = lxml.html.fromstring(page)
    assert doc.cssselect("h1")[0].text_content().startswith("Documentation digest")
    assert [h.text_content().split(":")[0] for h in doc.cssselect("h2")] == ["docs", "other"]
    assert not doc.cssselect("script")


def test_html_is_escaped(built: Built, tmp_path_factory: pytest.TempPathFactory) -> None:
    # a page whose headings hold markup: the digest shows them as text, never as tags
    with pytest.MonkeyPatch.context() as mp, FaultServer(DATA / "site_v1") as server:
        from helpers import make_config, make_site, snapshot

        root = tmp_path_factory.mktemp("escaped")
        from archiver.archive.repo import ArchiveRepo

        archive = ArchiveRepo.open_or_init(root / "archive-repo")
        site = make_site(server.url, ["x.html"], name="docs")
        server.set_page("/x.html", b"<main><h1>X</h1><h2>A</h2><p>one</p></main>")
        snapshot(mp, make_config(site), archive, site, "2026-06-01T00:00:00+00:00")
        server.set_page("/x.html", b"<main><h1>X</h1><h2>&lt;img src=x onerror=alert(1)&gt;</h2><p>two</p></main>")
        snapshot(mp, make_config(site), archive, site, "2026-06-02T00:00:00+00:00")
    result = CliRunner().invoke(
        app, ["digest", "--since", "2026-06-02", "--format", "html", "--repo", str(archive.path)]
    )
    assert result.exit_code == 0, result.stderr
    assert "<img" not in result.stdout and "&lt;img src=x onerror=alert(1)&gt;" in result.stdout
    assert lxml.html.fromstring(result.stdout).cssselect("img") == []


def test_an_empty_period_says_so(built: Built) -> None:
    md = run(built, "--since", "7d")
    assert md.exit_code == 0 and ": no changes" in md.stdout.splitlines()[0]
    assert "No site changed in this period (searched: docs, other)." in md.stdout
    data = json.loads(run(built, "--since", "24h", "--format", "json").stdout)
    assert data["sites"] == [] and data["unchanged"] == ["docs", "other"]


def test_bad_input_is_one_line(built: Built) -> None:
    for args, words in (
        (["--since", "soon"], "'soon' is no period"),
        (["--format", "pdf"], "--format 'pdf'"),
        (["nosuch"], "no snapshots of site 'nosuch'"),
    ):
        result = run(built, *args)
        assert result.exit_code == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1


def daemon_config(built: Built, path: Path, digest: str) -> Path:
    never = '"0 0 1 1 *"'  # (the sites' own runs are not what these tests are about)
    path.write_text(
        f"schedule: {never}\ndigest:\n{digest}sites:\n"
        f"  - name: docs\n    base_url: {built.url}\n    pages: [index.html]\n"
        f"  - name: other\n    base_url: {built.url}\n    pages: [index.html]\n"
    )
    return path


def run_daemon(config: Path, built: Built, until: Callable[[], object] | None, seconds: float = 2.5) -> None:
    daemon = Daemon(config, built.repo)
    thread = threading.Thread(target=daemon.run_forever, kwargs={"handle_signals": False})
    thread.start()
    try:
        if until is None:
            time.sleep(seconds)
        else:
            wait_for(until)
    finally:
        daemon.request_stop()
        thread.join(30)
    assert not thread.is_alive()


def test_the_daemon_sends_the_digest_on_its_schedule(built: Built, tmp_path: Path) -> None:
    with Receiver() as receiver:
        spec = f'  schedule: "every 1s"\n  since: 2026-06-06\n  notify: [{receiver.url}]\n'
        run_daemon(daemon_config(built, tmp_path / "sites.yaml", spec), built, lambda: receiver.messages)
    message = receiver.messages[0]
    assert message["title"].startswith("Documentation digest, Sat 6 Jun 2026 00:00 UTC to ")
    assert message["title"].endswith(": 2 sites, 2 pages changed")
    body = message["message"]
    assert "## docs: 2 snapshots, 1 changed" in body and "- guide/auth.md changed (+" in body
    assert f"`{built.docs[3][:10]}`" in body and "## other: 1 snapshot, 1 added" in body


def test_an_empty_period_sends_nothing_unless_asked(
    built: Built, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with Receiver() as receiver:  # the config's own notify: targets, as digest.notify is not given
        config = daemon_config(built, tmp_path / "skip.yaml", '  schedule: "every 1s"\n  since: 1d\n')
        config.write_text(f"notify: [{receiver.url}]\n" + config.read_text())
        run_daemon(config, built, None)
        assert receiver.messages == [] and "none sent (when_empty: skip)" in caplog.text
        config.write_text(config.read_text().replace("  since: 1d\n", "  since: 1d\n  when_empty: send\n"))
        run_daemon(config, built, lambda: receiver.messages)
    assert receiver.messages[0]["title"].endswith(": no changes")
    assert "No site changed in this period (searched: docs, other)." in receiver.messages[0]["message"]


def test_digest_config_errors_name_file_line_and_field(built: Built, tmp_path: Path) -> None:
    for spec, words in (
        ('  schedule: "every 1s"\n  since: 7x\n', ":4: digest.since: '7x' is no period"),
        ('  schedule: "every 1s"\n  when_empty: never\n', ":4: digest.when_empty"),
        ('  schedule: "at nine"\n', ":3: digest.schedule"),
    ):
        config = daemon_config(built, tmp_path / "bad.yaml", spec)
        with pytest.raises(ConfigError, match=re.escape(f"{config}{words}")):
            load_config(config)
