"""Validators are trusted, then verified; unlisted pages keep their last change (issue 11, items 2, 3).

A server whose ETag and Last-Modified come from a file time that did not move (deploys that keep
mtimes, reproducible builds) answers 304 for a page that changed. Each page is therefore fetched
without validators at least every ``revalidate_after``, spread over runs; once such a fetch shows
a change a 304 had hidden, the host is asked without validators from then on, and the run says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import FaultHandler, FaultServer, commit_count, git, make_config, make_site

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import StateStore
from archiver.config import Site
from archiver.models import PageStatus
from archiver.run.pipeline import run

STAMP = "Tue, 01 Dec 2026 00:00:00 GMT"


class MtimeHandler(FaultHandler):
    """Pages whose validators are a file time that never moves: 304 whatever the content."""

    def route(self) -> bool:
        server: MtimeServer = self.server  # type: ignore[assignment]
        path = self.path.split("?", 1)[0]
        if path.startswith("/p/"):
            server.asked.append((path, "If-None-Match" in self.headers or "If-Modified-Since" in self.headers))
            if self.headers.get("If-None-Match") == '"mtime-1"' or self.headers.get("If-Modified-Since") == STAMP:
                self.send_response(304)
                self.send_header("ETag", '"mtime-1"')
                self.end_headers()
                return True
            text = server.texts.get(path, f"Page {path} as first written.")
            body = f"<main><h1>{path}</h1><p>{text}</p></main>".encode()
            self.send_body(200, body, "text/html", {"ETag": '"mtime-1"', "Last-Modified": STAMP})
            return True
        return super().route()


class MtimeServer(FaultServer):
    def __init__(self, root: Path) -> None:
        super().__init__(root, MtimeHandler)
        self.texts: dict[str, str] = {}
        self.asked: list[tuple[str, bool]] = []  # (path, sent validators)


@pytest.fixture
def mtime(tmp_path: Path) -> Iterator[MtimeServer]:
    (tmp_path / "www").mkdir()
    with MtimeServer(tmp_path / "www") as server:
        yield server


def age_pages(repo: ArchiveRepo, seconds: float) -> None:
    """Make every page's last full body ``seconds`` older (what time passing does to the state)."""
    path = repo.state_dir / "docs.json"
    state = json.loads(path.read_text())
    for page in state["pages"].values():
        if page["verified"] is not None:
            page["verified"] -= seconds
    path.write_text(json.dumps(state))


def site_of(server: FaultServer, pages: list[str], **kw: object) -> Site:
    return make_site(server.url, pages, **kw)


def test_a_lying_304_is_caught_on_revalidation_and_never_trusted_again(
    mtime: MtimeServer, archive: ArchiveRepo
) -> None:
    config = make_config(site_of(mtime, ["p/a.html"], revalidate_after="1h"))
    run(config, archive, workers=1)
    mtime.texts["/p/a.html"] = "The limit is now 50 requests a minute."
    assert run(config, archive, workers=1).sites[0].commit is None  # the 304 hides it: validators trusted
    age_pages(archive, 3600)  # an hour later: the page's turn to be fetched in full
    report = run(config, archive, workers=1).sites[0]
    assert report.commit is not None and "50 requests" in (archive.path / "docs/p/a.md").read_text()
    assert any("answered 304 Not Modified for a page that had changed" in note for note in report.notes)
    assert StateStore(archive.state_dir).load("docs").untrusted == [mtime.url.split("/")[2]]
    # from now on every request to it goes without validators, and a change shows at once
    mtime.asked.clear()
    mtime.texts["/p/a.html"] = "The limit is now 40 requests a minute."
    again = run(config, archive, workers=1).sites[0]
    assert mtime.asked == [("/p/a.html", False)]
    assert again.commit is not None and "40 requests" in (archive.path / "docs/p/a.md").read_text()
    assert not any("answered 304" in note for note in again.notes)  # said once


def test_revalidation_is_spread_over_runs(mtime: MtimeServer, archive: ArchiveRepo) -> None:
    pages = [f"p/{i}.html" for i in range(40)]
    config = make_config(site_of(mtime, pages, revalidate_after=1000))

    def conditional_run() -> list[bool]:
        mtime.asked.clear()
        report = run(config, archive, workers=1).sites[0]
        assert not report.failed, [r for r in report.results if r.status is PageStatus.FAILED]
        return [sent for _, sent in mtime.asked]

    conditional_run()
    assert all(conditional_run())  # just verified: every request is conditional
    age_pages(archive, 700)  # 0.7 of revalidate_after: the pages whose turn has come, and only those
    sent = conditional_run()
    assert 0 < sent.count(False) < len(pages) * 0.7, sent
    assert all(conditional_run())  # those just fetched in full are verified again
    age_pages(archive, 1000)  # a whole revalidate_after: every page
    assert conditional_run().count(False) == len(pages)
    assert commit_count(archive.path) == 1  # and nothing had changed


def test_revalidate_after_takes_durations_and_refuses_nonsense() -> None:
    assert make_site("https://x.org/", revalidate_after="90s").revalidate_after == 90
    assert make_site("https://x.org/", revalidate_after="30m").revalidate_after == 1800
    assert make_site("https://x.org/", revalidate_after="1d").revalidate_after == 86400
    assert make_site("https://x.org/").revalidate_after == 86400
    with pytest.raises(ValueError, match="no duration"):
        make_site("https://x.org/", revalidate_after="daily")
    with pytest.raises(ValueError):
        make_site("https://x.org/", revalidate_after="0s")


# --- unlisted pages ------------------------------------------------------------------------------


def urlset(*urls: str) -> bytes:
    return (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<url><loc>{u}</loc></url>" for u in urls)
        + "</urlset>"
    ).encode()


@pytest.mark.parametrize("remove_after", [1, 2])
def test_a_page_rewritten_and_unlinked_in_one_deploy_keeps_its_last_version(
    mtime: MtimeServer, archive: ArchiveRepo, remove_after: int
) -> None:
    url = mtime.url
    mtime.set_page("/sitemap.xml", urlset(f"{url}p/a.html", f"{url}p/b.html"), "application/xml")
    config = make_config(site_of(mtime, ["p/a.html"], sitemap=url + "sitemap.xml", remove_after=remove_after))
    run(config, archive, workers=1)
    age_pages(archive, 10**9)  # (the mtime server lies: let every request go in full)
    mtime.set_page("/sitemap.xml", urlset(f"{url}p/a.html"), "application/xml")
    mtime.texts["/p/b.html"] = "This API is deprecated; use v2."
    report = run(config, archive, workers=1).sites[0]
    b = next(r for r in report.results if r.url.endswith("/p/b.html"))
    assert b.status is PageStatus.CHANGED and b.error is not None and "no longer listed" in b.error
    assert "deprecated" in (archive.path / "docs/p/b.md").read_text()
    message = git(archive.path, "log", "-1", "--format=%B")
    assert "p/b.md" in message and "no longer listed" in message
    for _ in range(max(1, remove_after - 1)):  # removed once remove_after runs have passed (not the run of a rewrite)
        last = run(config, archive, workers=1).sites[0]
    assert not (archive.path / "docs/p/b.md").exists()
    assert next(r for r in last.results if r.url.endswith("/p/b.html")).status is PageStatus.REMOVED
    assert "(no longer listed)" in git(archive.path, "log", "-1", "--format=%B")
    assert f"{url}p/b.html" not in StateStore(archive.state_dir).load("docs").pages


def test_an_unlisted_page_that_fails_is_no_failure_of_the_run(mtime: MtimeServer, archive: ArchiveRepo) -> None:
    url = mtime.url
    mtime.set_page("/sitemap.xml", urlset(f"{url}p/a.html", f"{url}gone.html"), "application/xml")
    mtime.set_page("/gone.html", b"<main><h1>Old</h1><p>An old page about the old API.</p></main>")
    config = make_config(site_of(mtime, ["p/a.html"], sitemap=url + "sitemap.xml", remove_after=2))
    run(config, archive, workers=1)
    mtime.set_page("/sitemap.xml", urlset(f"{url}p/a.html"), "application/xml")
    mtime.set_page("/gone.html", b"oops", status=500)
    report = run(config, archive, workers=1).sites[0]
    gone = next(r for r in report.results if r.url.endswith("/gone.html"))
    assert gone.status is PageStatus.GONE and "fetching it failed" in (gone.error or "")
    assert not report.failed and (archive.path / "docs/gone.md").exists()
    run(config, archive, workers=1)
    assert not (archive.path / "docs/gone.md").exists()
