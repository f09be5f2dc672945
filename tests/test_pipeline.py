"""End to end: a real server on 127.0.0.1, a real git repository, the real pipeline."""

from __future__ import annotations

from pathlib import Path

from helpers import V1_PAGES, FaultServer, commit_count, git, make_config, make_site

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import StateStore
from archiver.models import PageJob, PageStatus
from archiver.run.pipeline import rerender, run


def statuses(report) -> dict[str, PageStatus]:  # type: ignore[no-untyped-def]
    return {r.path: r.status for r in report.results}


def test_first_run_archives_every_page_in_one_commit(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    site = make_site(docs_server.url)
    report = run(make_config(site), archive, workers=1).sites[0]

    assert report.error is None
    got = statuses(report)
    assert got["index.md"] is PageStatus.ADDED
    assert got["guide/index.md"] is PageStatus.ADDED
    assert got["guide/auth.md"] is PageStatus.ADDED
    assert got["reference/api.md"] is PageStatus.ADDED
    assert got["old.md"] is PageStatus.ADDED
    # listed by hand but 404 and never archived: a typo in pages:, said as a failure (issue 12, #2)
    assert got["new.md"] is PageStatus.FAILED and report.failed
    assert "HTTP 404: check the URL in pages:" in next(r.error or "" for r in report.results if r.path == "new.md")
    assert commit_count(archive.path) == 1
    files = set(git(archive.path, "ls-files").split())
    assert files == {
        "docs/index.md",
        "docs/guide/index.md",
        "docs/guide/auth.md",
        "docs/reference/api.md",
        "docs/old.md",
    }
    subject = git(archive.path, "log", "-1", "--format=%s")
    assert subject.strip() == "docs: first snapshot, 5 pages"  # what happened, as a timeline shows it (issue 12, #9)
    body = git(archive.path, "log", "-1", "--format=%b")
    assert "Added:\n- guide/auth.md  " in body
    assert f"Source: {docs_server.url}" in body
    author = git(archive.path, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip()
    assert author == "archiver <archiver@localhost>|archiver <archiver@localhost>"
    text = (archive.path / "docs/guide/auth.md").read_text()
    assert text.startswith('---\ntitle: "Authentication"\nsource: ' + docs_server.url + "guide/auth.html\n---\n")
    assert "Send the `api_key` parameter" in text


def test_unchanged_site_makes_no_commit_and_uses_conditional_gets(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    config = make_config(make_site(docs_server.url))
    run(config, archive, workers=1)
    head = git(archive.path, "rev-parse", "HEAD")
    docs_server.request_headers.clear()

    report = run(config, archive, workers=1).sites[0]

    assert report.commit is None
    assert git(archive.path, "rev-parse", "HEAD") == head
    assert report.count(PageStatus.UNCHANGED) == 5
    conditional = [p for p, h in docs_server.request_headers if "If-None-Match" in h]
    assert sorted(conditional) == sorted(
        ["/index.html", "/guide/", "/guide/auth.html", "/reference/api.html", "/old.html"]
    )
    assert git(archive.path, "status", "--porcelain") == ""


def test_v1_to_v2_commits_exactly_the_real_changes(
    docs_server: FaultServer, archive: ArchiveRepo, site_v2: Path
) -> None:
    config = make_config(make_site(docs_server.url))
    run(config, archive, workers=1)
    docs_server.root = site_v2  # every page's bytes change (build stamps, nonces, asset hashes)

    report = run(config, archive, workers=1).sites[0]

    got = statuses(report)
    assert got["guide/auth.md"] is PageStatus.CHANGED
    assert got["new.md"] is PageStatus.ADDED
    assert got["old.md"] is PageStatus.REMOVED
    # noise only: build stamp, nonce, asset hash, cache-buster, attribute order
    assert got["index.md"] is PageStatus.UNCHANGED
    assert got["reference/api.md"] is PageStatus.UNCHANGED
    assert got["guide/index.md"] is PageStatus.UNCHANGED
    changed = git(archive.path, "show", "--name-status", "--format=", "HEAD").split("\n")
    assert sorted(line for line in changed if line) == sorted(
        ["M\tdocs/guide/auth.md", "A\tdocs/new.md", "D\tdocs/old.md"]
    )
    patch = git(archive.path, "show", "--format=", "HEAD", "--", "docs/guide/auth.md")
    assert "-Send the `api_key` parameter" in patch and "+Send the `token` parameter" in patch
    subject = git(archive.path, "log", "-1", "--format=%s").strip()
    stat = git(archive.path, "show", "--numstat", "--format=", "HEAD").split()
    plus = sum(int(x) for x in stat[0::3])
    minus = sum(int(x) for x in stat[1::3])
    assert subject == f"docs: 1 changed, 1 added, 1 removed (+{plus} −{minus})"
    body = git(archive.path, "log", "-1", "--format=%b")
    assert "Removed:\n- old.md  " in body and "(gone: HTTP 404)" in body
    # and a further run changes nothing
    assert run(config, archive, workers=1).sites[0].commit is None
    assert commit_count(archive.path) == 2


def test_failed_fetch_keeps_the_last_good_snapshot(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    config = make_config(make_site(docs_server.url))
    run(config, archive, workers=1)
    before = (archive.path / "docs/guide/auth.md").read_bytes()
    docs_server.set_page("/guide/auth.html", b"oops", status=500)
    docs_server.set_page("/old.html", b"\x00\x01\x02garbage\x00", ctype="text/html")

    report = run(config, archive, workers=1).sites[0]

    got = statuses(report)
    assert got["guide/auth.md"] is PageStatus.FAILED
    assert got["old.md"] is PageStatus.FAILED
    assert report.failed
    assert (archive.path / "docs/guide/auth.md").read_bytes() == before
    assert (archive.path / "docs/old.md").exists()
    assert report.commit is None
    state = StateStore(archive.state_dir).load("docs")
    assert state.pages[docs_server.url + "guide/auth.html"].failures == 1
    assert "HTTP 500" in (state.pages[docs_server.url + "guide/auth.html"].error or "")


def test_page_dropped_from_the_list_is_removed(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    run(make_config(make_site(docs_server.url)), archive, workers=1)
    fewer = make_site(docs_server.url, pages=["index.html", "guide/"])

    report = run(make_config(fewer), archive, workers=1).sites[0]

    removed = sorted(r.path for r in report.results if r.status is PageStatus.REMOVED)
    assert removed == ["guide/auth.md", "old.md", "reference/api.md"]
    assert set(git(archive.path, "ls-files").split()) == {"docs/index.md", "docs/guide/index.md"}
    assert not (archive.path / "docs/reference").exists()  # empty folders go too
    assert "(no longer listed)" in git(archive.path, "log", "-1", "--format=%b")


def test_remove_after_waits_for_repeated_gone(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    config = make_config(make_site(docs_server.url, remove_after=2))
    run(config, archive, workers=1)
    docs_server.set_page("/old.html", b"gone", status=410)

    first = run(config, archive, workers=1).sites[0]
    assert statuses(first)["old.md"] is PageStatus.GONE
    assert (archive.path / "docs/old.md").exists()
    second = run(config, archive, workers=1).sites[0]
    assert statuses(second)["old.md"] is PageStatus.REMOVED
    assert not (archive.path / "docs/old.md").exists()


def test_changed_rules_rerender_stored_bodies_as_their_own_commit(
    docs_server: FaultServer, archive: ArchiveRepo, site_v2: Path
) -> None:
    run(make_config(make_site(docs_server.url)), archive, workers=1)
    docs_server.root = site_v2  # a real docs change arrives in the same run as the new rules
    docs_server.request_headers.clear()
    stricter = make_site(docs_server.url, strip=["img"])

    report = run(make_config(stricter), archive, workers=1).sites[0]

    assert report.rules_commit is not None
    rules_body = git(archive.path, "log", "-1", "--format=%B", report.rules_commit)
    assert rules_body.startswith("docs: re-rendered under new rules, 1 page changed (+0 −2)")
    assert "Change-Kind: rules" in rules_body
    assert git(archive.path, "show", "--name-only", "--format=", report.rules_commit).split() == ["docs/index.md"]
    assert "![logo]" not in (archive.path / "docs/index.md").read_text()
    # the docs change is a separate commit, marked as such
    assert report.commit is not None and "Change-Kind: docs" in git(archive.path, "log", "-1", "--format=%B")
    assert "docs/guide/auth.md" in git(archive.path, "show", "--name-only", "--format=", "HEAD")
    # re-rendering fetched nothing: the run's requests were conditional
    assert all("If-None-Match" in h for p, h in docs_server.request_headers if p == "/index.html")


def test_rerender_without_rule_change_is_a_no_op(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    config = make_config(make_site(docs_server.url))
    run(config, archive, workers=1)
    report = rerender(archive, config.sites[0])
    assert report.commit is None
    assert commit_count(archive.path) == 1


def test_deleted_file_is_restored_on_next_run(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    config = make_config(make_site(docs_server.url))
    run(config, archive, workers=1)
    (archive.path / "docs/guide/auth.md").unlink()

    report = run(config, archive, workers=1).sites[0]

    assert (archive.path / "docs/guide/auth.md").exists()
    assert report.commit is None  # restored to what HEAD has: nothing to commit
    assert git(archive.path, "status", "--porcelain") == ""


def serve_big_site(server: FaultServer, tmp_path: Path, site_v1: Path) -> list[str]:
    """40 pages (enough for worker processes) served by ``server``; their names."""
    pages = [f"p{i}.html" for i in range(40)]
    root = tmp_path / "big"
    root.mkdir()
    template = (site_v1 / "guide/auth.html").read_text()
    for i, name in enumerate(pages):
        (root / name).write_text(template.replace("24 hours", f"{i} hours"))
    server.root = root
    return pages


def test_worker_processes_give_the_same_archive(docs_server: FaultServer, tmp_path: Path, site_v1: Path) -> None:
    """The multi-process path (big sites) produces byte-identical files to the in-process one."""
    pages = serve_big_site(docs_server, tmp_path, site_v1)
    one = ArchiveRepo.open_or_init(tmp_path / "one")
    two = ArchiveRepo.open_or_init(tmp_path / "two")
    config = make_config(make_site(docs_server.url, pages=pages))

    r1 = run(config, one, workers=1).sites[0]
    r2 = run(config, two, workers=2).sites[0]

    assert r1.count(PageStatus.ADDED) == r2.count(PageStatus.ADDED) == 40
    for name in pages:
        md = name.replace(".html", ".md")
        assert (one.path / "docs" / md).read_bytes() == (two.path / "docs" / md).read_bytes()
    assert "Tokens last **39 hours**" in (two.path / "docs/p39.md").read_text()
    # the no-change run in workers also commits nothing
    assert run(config, two, workers=2).sites[0].commit is None


def test_sitemap_adds_pages_under_base(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{url}guide/auth.html</loc></url><url><loc>{url}reference/api.html</loc></url>"
        "<url><loc>https://elsewhere.example/x.html</loc></url></urlset>"
    )
    docs_server.set_page("/sitemap.xml", sitemap.encode(), ctype="application/xml")
    site = make_site(url, pages=["index.html"], sitemap=url + "sitemap.xml")

    report = run(make_config(site), archive, workers=1).sites[0]

    assert sorted(r.path for r in report.results) == ["guide/auth.md", "index.md", "reference/api.md"]


def test_broken_sitemap_fails_the_site_and_removes_nothing(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    docs_server.set_page(
        "/sitemap.xml",
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{url}old.html</loc></url></urlset>'.encode(),
        ctype="application/xml",
    )
    site = make_site(url, pages=["index.html"], sitemap=url + "sitemap.xml")
    run(make_config(site), archive, workers=1)
    docs_server.set_page("/sitemap.xml", b"<urlset><url><loc>broken", ctype="application/xml")

    report = run(make_config(site), archive, workers=1).sites[0]

    assert report.error is not None and "malformed sitemap" in report.error
    assert (archive.path / "docs/old.md").exists()
    assert report.commit is None


def test_wrong_charset_is_handled_not_fatal(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    # the header claims UTF-8 but the bytes are Latin-1: stored with replacement characters
    docs_server.set_page("/index.html", "<main><p>café</p></main>".encode("latin-1"), ctype="text/html; charset=utf-8")
    # no header charset, a <meta> one: honoured
    docs_server.set_page(
        "/old.html", '<meta charset="iso-8859-1"><main><p>naïve</p></main>'.encode("latin-1"), ctype="text/html"
    )
    report = run(make_config(make_site(docs_server.url, V1_PAGES)), archive, workers=1).sites[0]
    assert not report.failed
    assert "caf\ufffd" in (archive.path / "docs/index.md").read_text()
    assert "naïve" in (archive.path / "docs/old.md").read_text()


def test_the_sites_of_one_run_share_one_set_of_worker_processes(
    docs_server: FaultServer, tmp_path: Path, site_v1: Path
) -> None:
    """Forking a pool per site cost ~0.3 s each: most of a no-change run of many small sites."""
    from archiver.run import worker

    pages = serve_big_site(docs_server, tmp_path, site_v1)
    sites = [make_site(docs_server.url, pages=pages, name=name) for name in ("a", "b", "c")]
    seen: list[frozenset[int]] = []
    with worker.pool_for_run(2) as pool:
        for site in sites:
            outcomes: list[object] = []
            worker.execute(
                site, [PageJob(docs_server.url + p, p.replace(".html", ".md")) for p in pages], 2, outcomes.append
            )
            assert len(outcomes) == 40
            seen.append(frozenset(p.pid for p in pool.get()._processes.values()))  # (the executor's own table)
    assert len(seen[0]) == 2 and seen[0] == seen[1] == seen[2]  # the same two processes for all three sites
    # a whole run too: three sites, all converted in workers, byte-identical to the in-process run
    archive = ArchiveRepo.open_or_init(tmp_path / "archive")
    report = run(make_config(*sites), archive, workers=2)
    assert [r.count(PageStatus.ADDED) for r in report.sites] == [40, 40, 40]
    assert (archive.path / "a/p7.md").read_bytes() == (archive.path / "c/p7.md").read_bytes()
