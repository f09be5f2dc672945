"""Acceptance on the real docs corpora in ../shared/corpus: only real changes reach git.

For every corpus: serve v1 on 127.0.0.1 and archive it (a sites.yaml listing every page of both
versions, no selectors: the defaults must find the content), serve v2 at the same URL and archive
again. The commits since v1 must touch exactly the manifest's answer key, and a further run must
make no commit. Where a ``v1-rebuild/`` exists, archiving it after v1 must make no commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import CORPUS, commit_count, git

from archiver.archive.repo import ArchiveRepo
from archiver.config import load_config
from archiver.demo.localserver import StaticServer
from archiver.models import PageStatus
from archiver.paths import relative_path
from archiver.run.pipeline import run

CORPORA = sorted(p for p in CORPUS.glob("*") if (p / "manifest.json").is_file()) if CORPUS.is_dir() else []


def _expected(manifest: dict[str, object]) -> dict[str, list[str]]:
    answer = manifest["expected_for_archiver"]["if_archiver_keeps_only_main_content"]  # type: ignore[index]
    return {
        "changed": list(answer["pages_with_a_real_content_change"]),
        "added": list(answer["pages_added"]),
        "removed": list(answer["pages_removed"]),
        "quiet": list(answer["pages_that_must_show_no_diff"]),
    }


def _archive(corpus: Path, tmp_path: Path, crawl: bool = False) -> tuple[StaticServer, ArchiveRepo, Path]:
    manifest = json.loads((corpus / "manifest.json").read_text())
    pages = sorted(set(manifest["pages"]["v1"]) | set(manifest["pages"]["v2"]))
    server = StaticServer(corpus / "v1")
    config = tmp_path / "sites.yaml"
    listed = "\n".join(f"      - {p}" for p in pages)
    how = "    crawl: {}\n" if crawl else f"    pages:\n{listed}\n"
    config.write_text(f"sites:\n  - name: {corpus.name}\n    base_url: {server.url}\n    retries: 0\n{how}")
    return server, ArchiveRepo.open_or_init(tmp_path / "archive-repo"), config


@pytest.mark.skipif(not CORPORA, reason="no corpus in ../shared/corpus")
@pytest.mark.parametrize("corpus", CORPORA, ids=[p.name for p in CORPORA])
def test_v1_to_v2_touches_exactly_the_answer_key(corpus: Path, tmp_path: Path) -> None:
    manifest = json.loads((corpus / "manifest.json").read_text())
    expected = _expected(manifest)
    server, archive, config_path = _archive(corpus, tmp_path)
    config = load_config(config_path)
    site = config.sites[0]
    with server:
        first = run(config, archive).sites[0]
        assert first.error is None, first
        # the pages only v2 has are listed already: on v1 each is a failure naming the URL (issue 12, #2)
        failed = {r.url: r.error or "" for r in first.results if r.status is PageStatus.FAILED}
        only_v2 = {site.base_url + p for p in set(manifest["pages"]["v2"]) - set(manifest["pages"]["v1"])}
        assert set(failed) == only_v2, failed
        assert all("HTTP 404: check the URL in pages:" in error for error in failed.values())
        v1_head = git(archive.path, "rev-parse", "HEAD").strip()
        v1_files = set(git(archive.path, "ls-files").split())
        assert v1_files == {
            f"{corpus.name}/{relative_path(site.base_url, site.base_url + p)}" for p in manifest["pages"]["v1"]
        }

        server.root = corpus / "v2"
        for _ in range(site.remove_after):  # a page that went is removed after remove_after runs
            second = run(config, archive).sites[0]
            assert not second.failed, second
        touched = set(git(archive.path, "diff", "--name-only", v1_head, "HEAD").split())

        def md(pages: list[str]) -> set[str]:
            return {f"{corpus.name}/{relative_path(site.base_url, site.base_url + p)}" for p in pages}

        assert touched == md(expected["changed"]) | md(expected["added"]) | md(expected["removed"])
        assert not touched & md(expected["quiet"])
        status = dict(
            line.split("\t", 1)[::-1]
            for line in git(archive.path, "diff", "--name-status", v1_head, "HEAD").splitlines()
        )
        assert {p for p, s in status.items() if s == "A"} == md(expected["added"])
        assert {p for p, s in status.items() if s == "D"} == md(expected["removed"])

        commits = commit_count(archive.path)
        third = run(config, archive).sites[0]
        assert third.commit is None
        assert commit_count(archive.path) == commits


@pytest.mark.skipif(not any((p / "v1-rebuild").is_dir() for p in CORPORA), reason="no corpus has a v1-rebuild/")
@pytest.mark.parametrize("corpus", [p for p in CORPORA if (p / "v1-rebuild").is_dir()])
def test_rebuild_of_v1_makes_no_commit(corpus: Path, tmp_path: Path) -> None:
    server, archive, config_path = _archive(corpus, tmp_path)
    config = load_config(config_path)
    with server:
        run(config, archive)
        head = git(archive.path, "rev-parse", "HEAD")
        server.root = corpus / "v1-rebuild"
        report = run(config, archive).sites[0]
    assert report.commit is None
    assert git(archive.path, "rev-parse", "HEAD") == head


@pytest.mark.skipif(not CORPORA, reason="no corpus in ../shared/corpus")
@pytest.mark.parametrize("corpus", CORPORA, ids=[p.name for p in CORPORA])
def test_crawl_from_the_start_page_gives_the_same_changes(corpus: Path, tmp_path: Path) -> None:
    """Discovery instead of a page list: only the start page is given, no selectors."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    expected = _expected(manifest)
    server, archive, config_path = _archive(corpus, tmp_path, crawl=True)
    config = load_config(config_path)
    site = config.sites[0]

    def md(pages: list[str]) -> set[str]:
        return {f"{corpus.name}/{relative_path(site.base_url, site.base_url + p)}" for p in pages}

    with server:
        first = run(config, archive).sites[0]
        assert first.error is None and not first.failed, first
        v1_head = git(archive.path, "rev-parse", "HEAD").strip()
        found = set(git(archive.path, "ls-files").split())
        # pages nothing links to (a 404 page, say) can't be crawled; the rest must be found
        assert len(found & md(manifest["pages"]["v1"])) >= 0.85 * len(manifest["pages"]["v1"])
        assert found <= md(manifest["pages"]["v1"])  # and nothing that is not a page
        server.root = corpus / "v2"
        for _ in range(site.remove_after):
            assert not run(config, archive).sites[0].failed
        touched = set(git(archive.path, "diff", "--name-only", v1_head, "HEAD").split())
        assert touched == (md(expected["changed"]) & found) | md(expected["added"]) | (md(expected["removed"]) & found)
        assert not touched & md(expected["quiet"])
        commits = commit_count(archive.path)
        assert run(config, archive).sites[0].commit is None
        assert commit_count(archive.path) == commits
