"""Faults, kills, damaged state and hostile input: nothing is lost and nothing garbage is committed.

Each test reproduces one defect found by a fault campaign against a real docs site on loopback
(real processes and SIGKILL, a real server, real git). ``pytest -m faults`` runs them alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from helpers import FaultServer, git, make_config, make_site, wait_for

from archiver.archive.repo import ArchiveRepo
from archiver.models import PageStatus
from archiver.run.pipeline import rerender, run

pytestmark = pytest.mark.faults


def _archiver(*args: str) -> list[str]:
    return [sys.executable, "-m", "archiver", *args]


def _processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line holds ``text`` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def test_sigkill_of_the_main_process_never_locks_the_archive(docs_server: FaultServer, tmp_path: Path) -> None:
    """Workers must not outlive their parent, nor keep its repository lock."""
    pages = ", ".join(f"slow/{n}.html" for n in range(48))  # 48 pages of 1 s each: the pool runs
    config = tmp_path / "big.yaml"
    config.write_text(
        f"sites:\n  - name: docs\n    base_url: {docs_server.url}\n    pages: [{pages}]\n"
        "    retries: 0\n    timeout: 20\n    concurrency: 4\n"
    )
    repo = tmp_path / "archive-repo"
    proc = subprocess.Popen(
        _archiver("run", "--config", str(config), "--repo", str(repo), "--workers", "2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: sum(n for p, n in docs_server.hits.items() if p.startswith("/slow/")) >= 4)
    assert len(_processes_mentioning(str(config))) >= 2  # the main process and its workers
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    wait_for(lambda: not _processes_mentioning(str(config)), timeout=10)  # the workers went too
    started = time.monotonic()
    done = subprocess.run(
        _archiver("run", "--config", str(config), "--repo", str(repo), "--wait", "30", "--quiet"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    assert len(set(os.listdir(repo / "docs" / "slow"))) == 48


def test_a_forked_child_does_not_keep_the_run_lock(archive: ArchiveRepo) -> None:
    """Even where the parent-death signal is not to be had, a child never holds the lock alone."""
    read_end, write_end = os.pipe()
    with archive.lock(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads about
        pid = os.fork()
        if pid == 0:  # the child: wait until the parent has released the lock, then try to take it
            os.close(write_end)
            os.read(read_end, 1)
            try:
                with ArchiveRepo.open(archive.path).lock(wait=2):
                    os._exit(0)
            except BaseException:
                os._exit(1)
        os.close(read_end)
    os.close(write_end)  # the parent let go: the child may now take it, unless it kept ours
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


LONG_PAGE = (
    "<html><body><main><h1>Limits</h1>"
    + "".join(f"<p>Rule {n}: the API allows 60 requests a minute per key.</p>" for n in range(12))
    + "</main></body></html>"
).encode()


def test_a_refused_empty_page_never_reaches_the_body_store(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    """A 200 that came back empty is refused; a later re-render (new rules) must not commit it."""
    docs_server.set_page("/limits.html", LONG_PAGE, ETag='"v1"')
    site = make_site(docs_server.url, pages=["limits.html"])
    run(make_config(site), archive)
    kept = (archive.path / "docs/limits.md").read_text()
    assert "60 requests" in kept

    docs_server.set_page("/limits.html", b"<html><body></body></html>", ETag='"broken"')
    refused = run(make_config(site), archive).sites[0]
    assert [r.status for r in refused.results] == [PageStatus.FAILED]

    stricter = make_site(docs_server.url, pages=["limits.html"], strip=[".nothing-here"])  # a rules change
    rerendered = run(make_config(stricter), archive).sites[0]  # the raw body re-rendered first
    assert (archive.path / "docs/limits.md").read_text() == kept
    assert rerendered.rules_commit is None  # nothing to commit: the stored body is the good one


def test_a_rerender_refuses_a_body_that_renders_empty(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    """Every path that writes a page passes the same checks: a rule that strips everything is refused."""
    docs_server.set_page("/limits.html", LONG_PAGE, ETag='"v1"')
    run(make_config(make_site(docs_server.url, pages=["limits.html"])), archive)
    kept = (archive.path / "docs/limits.md").read_text()

    report = rerender(archive, make_site(docs_server.url, pages=["limits.html"], strip=["p", "h1"]))

    assert [r.status for r in report.results] == [PageStatus.FAILED]
    assert "empty" in (report.results[0].error or "")
    assert (archive.path / "docs/limits.md").read_text() == kept
    assert report.commit is None


def test_undecodable_bytes_are_a_failure_not_a_page(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    garbage = bytes(range(0x80, 0x100)) * 40  # no NUL, not UTF-8, not text in any charset
    docs_server.set_page("/limits.html", LONG_PAGE)
    docs_server.set_page("/noise.html", garbage, "text/html; charset=utf-8")
    site = make_site(docs_server.url, pages=["limits.html", "noise.html"])
    first = run(make_config(site), archive).sites[0]
    assert {r.path: r.status for r in first.results}["noise.md"] is PageStatus.FAILED
    assert not (archive.path / "docs/noise.md").exists()

    docs_server.set_page("/limits.html", garbage, "text/html; charset=iso-8859-1")  # decodes, but to garbage
    second = run(make_config(site), archive).sites[0]
    assert {r.path: r.status for r in second.results}["limits.md"] is PageStatus.FAILED
    assert "60 requests" in (archive.path / "docs/limits.md").read_text()
    assert "\ufffd" not in git(archive.path, "log", "-p")


def test_a_corrected_charset_is_picked_up_though_the_bytes_did_not_change(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    body = "<main><h1>Café</h1><p>Crème brûlée, served at the café every day of the week.</p></main>".encode()
    docs_server.set_page("/menu.html", body, "text/html; charset=iso-8859-1")  # the label lies
    site = make_site(docs_server.url, pages=["menu.html"])
    run(make_config(site), archive)
    assert "CafÃ©" in (archive.path / "docs/menu.md").read_text()

    docs_server.set_page("/menu.html", body, "text/html; charset=utf-8")  # fixed; same bytes
    report = run(make_config(site), archive).sites[0]

    assert [r.status for r in report.results] == [PageStatus.CHANGED]
    assert "# Café" in (archive.path / "docs/menu.md").read_text()


@pytest.mark.parametrize(
    "broken",
    [b"<html><body></body></html>", b"<main><h1>Down for maintenance</h1><p>We will be back soon.</p></main>"],
    ids=["empty", "maintenance"],
)
def test_a_short_page_is_protected_too(docs_server: FaultServer, archive: ArchiveRepo, broken: bytes) -> None:
    docs_server.set_page("/faq.html", b"<main><h1>FAQ</h1><p>Ask us anything by mail.</p></main>")
    site = make_site(docs_server.url, pages=["faq.html"])
    run(make_config(site), archive)
    kept = (archive.path / "docs/faq.md").read_text()

    docs_server.set_page("/faq.html", broken)
    report = run(make_config(site), archive).sites[0]

    assert [r.status for r in report.results] == [PageStatus.FAILED]
    assert (archive.path / "docs/faq.md").read_text() == kept


def test_a_latin1_page_labelled_utf8_reads_as_a_browser_shows_it() -> None:
    from archiver.convert.page import decode

    body = ("<p>Crème brûlée at the café, " * 20 + "</p>").encode("latin-1")
    assert decode(body, "text/html; charset=utf-8") == body.decode("cp1252")


def test_a_recovered_version_is_checked_again_not_frozen(docs_server: FaultServer, tmp_path: Path) -> None:
    """Killed after writing v2, before its commit; the site rolls back to v1: the next run must
    end with v1 (recovery drops the validators of what it recovered), not keep v2 for ever."""
    root, repo = tmp_path / "site", tmp_path / "archive-repo"
    root.mkdir()
    v1 = "<main><h1>Limits</h1>" + "<p>The API allows 60 requests a minute.</p>" * 8 + "</main>"
    v2 = v1.replace("60 requests", "30 requests")
    docs_server.root = root
    (root / "page.html").write_text(v1)
    config = tmp_path / "sites.yaml"
    config.write_text(
        f"sites:\n  - name: docs\n    base_url: {docs_server.url}\n    pages: [page.html, slow]\n"
        "    retries: 0\n    timeout: 20\n"
    )
    subprocess.run(_archiver("run", "--config", str(config), "--repo", str(repo), "-q"), check=True, timeout=60)

    (root / "page.html").write_text(v2)
    proc = subprocess.Popen(
        _archiver("run", "--config", str(config), "--repo", str(repo)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: "30 requests" in (repo / "docs/page.md").read_text())  # written; /slow holds the commit
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    (root / "page.html").write_text(v1)  # the deploy is rolled back: the server answers v1's ETag again

    subprocess.run(_archiver("run", "--config", str(config), "--repo", str(repo), "-q"), check=True, timeout=60)

    assert "60 requests" in (repo / "docs/page.md").read_text()
    assert "60 requests" in git(repo, "show", "HEAD:docs/page.md")
    subjects = git(repo, "log", "--format=%s").splitlines()
    assert subjects[1].startswith("docs: recover ")  # v2 was kept, as served at the time


def test_after_losing_the_state_remove_after_still_holds(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    both = make_site(docs_server.url, pages=["index.html", "guide/auth.html"], remove_after=2)
    run(make_config(both), archive)
    (archive.state_dir / "docs.json").unlink()  # the state is lost

    one = make_site(docs_server.url, pages=["index.html"], remove_after=2)
    first = run(make_config(one), archive).sites[0]
    assert (archive.path / "docs/guide/auth.md").exists()  # one run without it: kept
    assert first.commit is None
    assert {r.path: r.status for r in first.results}["guide/auth.md"] is PageStatus.GONE

    second = run(make_config(one), archive).sites[0]
    assert not (archive.path / "docs/guide/auth.md").exists()  # the second: removed
    assert {r.path: r.status for r in second.results}["guide/auth.md"] is PageStatus.REMOVED


@pytest.mark.parametrize(
    ("damage", "warning"),
    [
        (lambda s: {**s, "pages": []}, "wrong shape"),
        (lambda s: {**s, "pages": {u: None for u in s["pages"]}}, "wrong shape"),
        (lambda s: {**s, "pages": {u: {**p, "etag": 5} for u, p in s["pages"].items()}}, "wrong shape"),
        (lambda s: {**s, "pages": {u: {**p, "failures": "1"} for u, p in s["pages"].items()}}, "wrong shape"),
        (lambda s: {**s, "pages": {u: {**p, "path": "../../x.md"} for u, p in s["pages"].items()}}, "wrong shape"),
        (lambda s: {**s, "last_run": [1], "rules": 7, "strays": {"a.md": "x"}}, "wrong shape"),
        (lambda s: [s], "not a JSON object"),
        (lambda s: {**s, "version": 99}, "version 99"),
    ],
    ids=["pages-list", "page-null", "etag-int", "failures-str", "path-outside", "fields", "top-list", "version"],
)
def test_damaged_state_is_rebuilt_with_a_warning_never_a_crash(
    docs_server: FaultServer, archive: ArchiveRepo, caplog: pytest.LogCaptureFixture, damage, warning: str
) -> None:  # type: ignore[no-untyped-def]
    site = make_site(docs_server.url, pages=["index.html", "guide/auth.html"])
    run(make_config(site), archive)
    state_file = archive.state_dir / "docs.json"
    state_file.write_text(json.dumps(damage(json.loads(state_file.read_text()))))

    report = run(make_config(site), archive).sites[0]

    assert report.error is None and not report.failed
    assert {r.status for r in report.results} == {PageStatus.UNCHANGED}  # refetched, same Markdown
    assert warning in caplog.text and "docs.json" in caplog.text
    again = json.loads(state_file.read_text())  # and the state is whole again
    assert again["version"] == 1 and set(again["pages"]) == {r.url for r in report.results}


def test_leftovers_of_a_killed_run_are_cleared_under_the_lock(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    site = make_site(docs_server.url, pages=["index.html"])
    run(make_config(site), archive)
    meta = archive.meta
    leftovers = [
        meta / "tmpa1b2c3.msg",  # a commit message (killed during git commit)
        meta / "tmp" / ".tmp-x.tmp",  # a page being written
        meta / "state" / ".tmp-y.tmp",  # the state being saved
        next((meta / "bodies" / "docs").iterdir()).with_suffix(".new"),  # a body never accepted
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")

    run(make_config(site), archive)

    assert [p for p in leftovers if p.exists()] == []
    assert sorted(p.name for p in (meta / "state").iterdir()) == ["docs.json"]


def test_a_recovered_version_is_checked_again_on_a_crawled_site_too(
    docs_server: FaultServer, archive: ArchiveRepo, tmp_path: Path
) -> None:
    """The crawl asks conditionally as well: it must not use the validators recovery dropped."""
    root = tmp_path / "site"
    root.mkdir()
    v1 = "<main><h1>Limits</h1>" + "<p>The API allows 60 requests a minute.</p>" * 8 + "</main>"
    (root / "index.html").write_text('<main><h1>Home</h1><p>See <a href="page.html">the limits</a>.</p></main>')
    (root / "page.html").write_text(v1)
    docs_server.root = root
    site = make_site(docs_server.url, pages=[], crawl={"start": ["index.html"]})
    run(make_config(site), archive)
    # what a run killed before its commit leaves: v2 written, the state still holding v1's ETag
    page = archive.path / "docs/page.md"
    page.write_text(page.read_text().replace("60 requests", "30 requests"))

    run(make_config(site), archive)  # the server still serves v1

    assert "60 requests" in page.read_text()
    assert "60 requests" in git(archive.path, "show", "HEAD:docs/page.md")
