"""``archiver when``: where a phrase came into or went from a page, checked against ``git log -S``
over a real archive built by real runs (tests/helpers.py ``build``), in both layouts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from helpers import DATA, Built, FaultServer, build, git
from typer.testing import CliRunner

from archiver.archive import search
from archiver.cli import app
from archiver.report.sitedata import history_file


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with pytest.MonkeyPatch.context() as mp, FaultServer(DATA / "site_v1") as server:
        yield build(tmp_path_factory.mktemp("when"), server, mp)


def run(built: Built, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["when", *args, "--repo", str(built.repo)], catch_exceptions=False)


def pickaxe(repo: Path, *args: str) -> list[tuple[str, str]]:
    """(sha, path) of every file ``git log -S`` lists, oldest first."""
    out: list[tuple[str, str]] = []
    sha = ""
    for line in git(repo, "log", "--reverse", "--name-only", "--format=@%H", *args).splitlines():
        if line.startswith("@"):
            sha = line[1:]
        elif line.strip():
            out.append((sha, line))
    return out


@pytest.mark.parametrize("phrase", ["api_key", "deprecated", "limit=5", "Token rule", "expired", "revoked"])
def test_when_lists_what_git_log_S_lists(built: Built, phrase: str) -> None:
    found, searched = search.when(built.repo, phrase)
    assert [(a.sha, f"{a.site}/{a.page}") for a in found] == pickaxe(built.repo, f"-S{phrase}")
    assert searched.sites == ("docs", "other") and searched.first and searched.first.startswith("2026-06-01")
    for a in found:
        assert phrase in a.line
        before = git(built.repo, "show", f"{a.sha}^:{a.site}/{a.page}") if a.page_status != "A" else ""
        after = git(built.repo, "show", f"{a.sha}:{a.site}/{a.page}") if a.page_status != "D" else ""
        assert a.change == ("added" if after.count(phrase) > before.count(phrase) else "removed")


def test_came_and_went_in_order_with_the_line_and_the_commit(built: Built) -> None:
    result = run(built, "api_key")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("2026-06-01 10:00  docs  guide/auth.md  added (new page)  " + built.docs[0][:10])
    assert lines[1].startswith("2026-06-05 09:00  docs  guide/auth.md  removed  " + built.docs[1][:10])
    assert "`api_key`" in lines[0] and "`api_key`" in lines[1]
    gone = run(built, "deprecated").stdout.splitlines()
    assert "old.md  removed (page removed)" in gone[1]


def test_a_line_that_only_changed_around_the_phrase_is_no_appearance(built: Built) -> None:
    # "the token expired." became "the token has expired or was revoked." in docs' last snapshot:
    # -G would list that commit; the count of "expired" did not change, so it is not an appearance
    assert built.docs[3] in git(built.repo, "log", "--format=%H", "-Gexpired").split()
    found, _ = search.when(built.repo, "expired")
    assert [a.sha for a in found] == [built.docs[2]]
    revoked = run(built, "revoked")
    assert revoked.stdout.splitlines()[0].startswith("2026-06-12 08:00  docs  guide/auth.md  added  ")


def test_first_site_and_page_filters(built: Built) -> None:
    first = run(built, "api_key", "--first")
    assert first.stdout.splitlines() == run(built, "api_key").stdout.splitlines()[:1]
    assert run(built, "api_key", "other").stdout.startswith("'api_key' never appeared in other (2026-06-07..")
    assert "never appeared" in run(built, "api_key", "docs", "--page", "reference/*").stdout
    assert run(built, "api_key", "docs", "--page", "*auth*").stdout.count("guide/auth.md") == 2
    unknown = run(built, "api_key", "nosuch")
    assert unknown.exit_code == 2 and "no snapshots of site 'nosuch'" in unknown.stderr
    assert "docs, other" in unknown.stderr


def test_metacharacters_are_literal_unless_regex(built: Built) -> None:
    literal = run(built, 'get("/items", limit=5)')
    assert literal.exit_code == 0 and built.docs[3][:10] in literal.stdout
    regex = run(built, "--regex", r"limit=[0-9]+")
    assert regex.exit_code == 0 and built.docs[3][:10] in regex.stdout
    found, _ = search.when(built.repo, r"api_k[e]y", regex=True)
    assert [a.sha for a in found] == [s for s, _ in pickaxe(built.repo, "-Sapi_k[e]y", "--pickaxe-regex")]
    assert "never appeared" in run(built, "api_k[e]y").stdout  # literal: no such text


def test_bad_phrases_are_one_clear_line(built: Built) -> None:
    empty = run(built, "")
    assert empty.exit_code == 2 and len(empty.stderr.strip().splitlines()) == 1
    assert "the phrase is empty" in empty.stderr
    bad = run(built, "--regex", 'get("/items"')
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "is not a valid regular expression" in bad.stderr and "Traceback" not in bad.stderr
    nowhere = run(built, "no such words anywhere")
    assert nowhere.exit_code == 0
    assert nowhere.stdout.strip() == "'no such words anywhere' never appeared in docs, other (2026-06-01..2026-06-12)"


def test_per_site_layout(built: Built, tmp_path: Path) -> None:
    root = tmp_path / "per-site"
    for name in ("docs", "other"):  # each site's history as its own repository, as a per-site archive holds it
        git(tmp_path, "clone", "--quiet", "--no-local", str(built.repo), str(root / name))
    found, searched = search.when(root, "api_key")
    assert [(a.sha, a.site, a.change) for a in found] == [
        (built.docs[0], "docs", "added"),
        (built.docs[1], "docs", "removed"),
    ]
    assert searched.sites == ("docs", "other")
    result = CliRunner().invoke(app, ["when", "api_key", "docs", "--first", "--repo", str(root)])
    assert result.exit_code == 0 and built.docs[0][:10] in result.stdout and len(result.stdout.splitlines()) == 1


def test_the_report_marks_where_the_phrase_came_in_and_went(built: Built, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["report", "--out", str(tmp_path / "site"), "--when", "api_key", "--repo", str(built.repo)]
    )
    assert result.exit_code == 0, result.stderr
    page = lxml.html.parse(str(tmp_path / "site" / "docs" / history_file("docs/guide/auth.md"))).getroot()
    marks: dict[str, str] = {}
    for li in page.cssselect("ol.versions > li"):
        sha = next(a.get("href") for a in li.cssselect("a") if "/snap/" in a.get("href")).split("/snap/")[1][:40]
        marks[sha] = " ".join(p.text_content() for p in li.cssselect("p.when"))
    assert set(marks) == set(built.docs)
    assert marks[built.docs[0]].startswith("“api_key” came in here: ") and "`api_key`" in marks[built.docs[0]]
    assert marks[built.docs[1]].startswith("“api_key” went here: ")
    assert marks[built.docs[2]] == marks[built.docs[3]] == ""
    assert "“api_key” first came in Mon 1 Jun 2026" in page.cssselect("p.meta")[0].text_content()
    assert not page.cssselect("script")
    other = lxml.html.parse(str(tmp_path / "site" / "docs" / history_file("docs/reference/api.md"))).getroot()
    assert not other.cssselect("p.when")
    # a phrase that is markup, on a line that is markup: both shown as text
    markup = CliRunner().invoke(
        app, ["report", "--out", str(tmp_path / "x"), "--when", "<script>", "--repo", str(built.repo)]
    )
    assert markup.exit_code == 0, markup.stderr
    text = (tmp_path / "x" / "docs" / history_file("docs/guide/auth.md")).read_text()
    assert "“&lt;script&gt;” came in here" in text and "<script" not in text
    empty = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "y"), "--when", "", "--repo", str(built.repo)])
    assert empty.exit_code == 2 and "the phrase is empty" in empty.stderr
