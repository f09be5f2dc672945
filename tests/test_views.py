"""The history views (log, show, diff, history) against what git itself prints for the same commits."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import DATA, Built, FaultServer, build, git
from typer.testing import CliRunner

from archiver.archive import history
from archiver.archive.patch import parse_patch
from archiver.cli import app


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    with pytest.MonkeyPatch.context() as mp, FaultServer(DATA / "site_v1") as server:
        yield build(tmp_path_factory.mktemp("views"), server, mp)


def run(built: Built, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, [*args, "--repo", str(built.repo)], catch_exceptions=False)


def numstat(built: Built, *args: str) -> dict[str, list[tuple[int, int, str]]]:
    """``git log --numstat`` as {sha: [(added, removed, path)]}."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    sha = ""
    for line in git(built.repo, "log", "--numstat", "--no-renames", "--format=@%H", *args).splitlines():
        if line.startswith("@"):
            sha = line[1:]
            out[sha] = []
        elif line.strip():
            a, r, path = line.split("\t")
            out[sha].append((int(a), int(r), path))
    return out


def test_log_matches_git_log(built: Built) -> None:
    expected = numstat(built, "--", "docs/")
    assert list(expected) == built.docs[::-1]
    snaps = history.snapshots(built.repo, "docs")
    assert [s.sha for s in snaps] == list(expected)
    for s in snaps:
        assert sorted((f.added, f.removed, f.path) for f in s.files) == sorted(expected[s.sha])
    result = run(built, "log", "docs")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(expected)  # one line per snapshot, like git log --oneline
    subjects = git(built.repo, "log", "--format=%h %s", "--abbrev=10", "--", "docs/").splitlines()
    for line, sha, subject in zip(lines, expected, subjects, strict=True):
        plus, minus = sum(f[0] for f in expected[sha]), sum(f[1] for f in expected[sha])
        assert line.startswith(sha[:10] + " ") and line.endswith(subject.split(" ", 1)[1])
        first = sha == built.docs[0]
        assert ("first snapshot" in line) is first
        if not first:
            assert f"(+{plus} \u2212{minus})" in line
    assert built.other[:10] not in result.stdout


def test_log_since_and_page_match_git(built: Built) -> None:
    since = run(built, "log", "docs", "--since", "2026-06-06")
    expected = git(built.repo, "log", "--since=2026-06-06", "--format=%h", "--abbrev=10", "--", "docs/").split()
    assert expected == [s[:10] for s in built.docs[:1:-1]]
    assert [s for s in expected if s in since.stdout] == expected
    assert built.docs[1][:10] not in since.stdout

    page = run(built, "log", "docs", "--page", "guide/auth.md")
    by_url = run(built, "log", "docs", "--page", f"{built.url}guide/auth.html")
    touched = numstat(built, "--", "docs/guide/auth.md")
    assert [x[:10] for x in page.stdout.splitlines()] == [sha[:10] for sha in touched]
    assert by_url.stdout == page.stdout
    api = run(built, "log", "docs", "--page", "docs/reference/api.md")
    [only] = numstat(built, "--", "docs/reference/api.md")
    assert [sha for sha in built.docs if sha[:10] in api.stdout] == [only]


def test_sections_are_the_headings_above_changed_lines(built: Built) -> None:
    # the code block's "# not a heading" comment is not a heading; a far-away heading still counts
    assert history.sections(built.repo, "docs", built.docs[3]) == {"guide/auth.md": ["## Examples", "## Errors"]}
    log = run(built, "log", "docs", "--sections", "-n", "1")
    assert log.stdout.splitlines()[1:] == ["    guide/auth.md: Examples, Errors"]  # headings as read, no ##


def test_full_context_patch_has_gits_line_numbers(built: Built) -> None:
    # the hunks git prints with no context name exactly the lines our whole-file patch marks changed
    zero = git(built.repo, "show", "-U0", "--format=", built.docs[3], "--", "docs/")
    ours = parse_patch(history.patch(built.repo, "docs", built.docs[3], full_context=True))
    expected = [(line.kind, line.old, line.new) for f in parse_patch(zero) for line in f.lines]
    assert [(line.kind, line.old, line.new) for f in ours for line in f.lines if line.kind != " "] == expected
    assert ("+", None, 41) in expected and ("-", 48, None) in expected


def test_show_is_sections_then_git_show(built: Built) -> None:
    result = run(built, "show", "docs@-2")
    assert result.exit_code == 0
    expected = git(
        built.repo, "show", "--color=never", "--stat", "--patch", "--format=medium", built.docs[2], "--", "docs/"
    )
    assert result.stdout.endswith(expected)
    head = result.stdout[: -len(expected)]
    assert f"Sections changed in docs@{built.docs[2][:10]}" in head and "guide/auth.md" in head
    latest = run(built, "show", "docs")
    assert latest.stdout.endswith(
        git(built.repo, "show", "--stat", "--patch", "--format=medium", built.docs[3], "--", "docs/")
    )
    by_day = run(built, "show", "docs@2026-06-10")  # the day's last snapshot, though it was at noon
    assert f"docs@{built.docs[2][:10]}" in by_day.stdout


@pytest.mark.parametrize(
    ("spec", "ends"),
    [
        ("-2..-1", (2, 3)),
        ("-4..", (0, 3)),
        ("2026-06-05..2026-06-11", (1, 2)),  # other's snapshot of 06-07 is no snapshot of docs
        ("2026-06-01T12:00..2026-06-12", (0, 3)),
    ],
)
def test_diff_range_forms_match_git_diff(built: Built, spec: str, ends: tuple[int, int]) -> None:
    a, b = (built.docs[i] for i in ends)
    result = run(built, "diff", "docs", spec)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == git(built.repo, "diff", "--color=never", "--stat", "--patch", a, b, "--", "docs/")


def test_diff_by_sha_page_stat_and_word_diff(built: Built) -> None:
    s1, s2, s3, s4 = built.docs
    by_sha = run(built, "diff", "docs", f"{s1[:8]}..{s4[:8]}", "guide/auth.md", "--stat")
    assert by_sha.stdout == git(built.repo, "diff", "--stat", s1, s4, "--", "docs/guide/auth.md")
    words = run(built, "diff", "docs", "-2..-1", "guide/auth.md", "--word-diff")
    assert words.stdout == git(
        built.repo, "diff", "--stat", "--patch", "--word-diff=plain", s3, s4, "--", "docs/guide/auth.md"
    )
    assert "[-expired.-]{+has expired or was revoked.+}" in words.stdout
    one = run(built, "diff", "docs", "-3")
    assert one.stdout == git(built.repo, "show", "--stat", "--patch", "--format=medium", s2, "--", "docs/")


def test_history_lists_versions_newest_first_like_git(built: Built) -> None:
    result = run(built, "history", "docs", "guide/auth.md")
    assert result.exit_code == 0
    expected = numstat(built, "--", "docs/guide/auth.md")
    title, *rows = result.stdout.splitlines()
    assert title == f"docs/guide/auth.md  {built.url}guide/auth.html  (4 versions, newest first)"
    assert len(rows) == len(expected) == 4
    for row, (sha, [(plus, minus, _)]) in zip(rows, expected.items(), strict=True):
        assert row.startswith(sha[:10] + " ")
        assert row.endswith(f"changed +{plus} \u2212{minus}" if sha != built.docs[0] else f"added +{plus}")
    gone = history.page_versions(built.repo, "docs", "old.md")
    assert [v.status for v in gone] == ["A", "D"]
    assert [v.sha for v in gone] == git(built.repo, "log", "--reverse", "--format=%H", "--", "docs/old.md").split()


def test_history_names_why_a_page_was_removed(built: Built) -> None:
    body = git(built.repo, "log", "-1", "--format=%B", built.docs[1])
    [line] = [x for x in body.splitlines() if x.startswith("- old.md ")]
    why = line.rsplit(" (", 1)[1].rstrip(")")
    result = run(built, "history", "docs", "old.md")
    removed = result.stdout.splitlines()[1]
    assert removed.startswith(built.docs[1][:10]) and removed.endswith(f"removed ({why})")


@pytest.mark.parametrize(
    ("form", "path"),
    [
        ("/", "index.md"),
        ("/index.html", "index.md"),
        ("index.html", "index.md"),
        ("guide/auth.html", "guide/auth.md"),  # the form pages: takes
        ("/guide/auth.html", "guide/auth.md"),
        ("{url}guide/auth.html", "guide/auth.md"),
        ("{url}guide/auth.html#errors", "guide/auth.md"),
        ("docs/guide/auth.md", "guide/auth.md"),
        ("/old.html", "old.md"),  # a removed page, by the URL it had
        ("{url}old.html", "old.md"),
    ],
)
def test_a_page_is_found_by_any_url_form_it_had(built: Built, form: str, path: str) -> None:
    result = run(built, "history", "docs", form.format(url=built.url))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"docs/{path}  ")
    log = run(built, "log", "docs", "--page", form.format(url=built.url))
    shas = git(built.repo, "log", "--format=%h", "--abbrev=10", "--", f"docs/{path}").split()
    assert [x[:10] for x in log.stdout.splitlines()] == shas


def test_diff_of_one_page_leaves_the_message_out(built: Built) -> None:
    result = run(built, "diff", "docs", "-1", "/guide/auth.html")
    assert result.exit_code == 0, result.stderr
    header, _, patch = result.stdout.partition("\n---\n")
    subject = git(built.repo, "log", "-1", "--format=%s", built.docs[3]).strip()
    assert header.splitlines() == [f"commit {built.docs[3]}", header.splitlines()[1], "", f"    {subject}"]
    assert header.splitlines()[1].startswith("Date:   ")
    expected = git(built.repo, "show", "--format=", "--stat", "--patch", built.docs[3], "--", "docs/guide/auth.md")
    assert patch == expected.lstrip("\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["diff", "docs", "-1..-1"], "no snapshots of site 'docs' in -1..-1"),
        (["diff", "docs", "-1..-2"], "did you mean -2..-1?"),
        (["diff", "docs", "-2..-1", "index.md"], "no snapshots of page 'index.md' of site 'docs' in -2..-1"),
        (["diff", "nosuch"], "no snapshots of site 'nosuch'"),
        (["diff", "docs", "-1", "index.md"], "does not change page 'index.md' of site 'docs'"),
        (["show", "nosuch@-1"], "no snapshots of site 'nosuch'"),
        (["history", "docs", "guide/nope.md"], "no page 'guide/nope.md' in the history of site 'docs'"),
        (["history", "docs", "guide/auth.txt"], "did you mean guide/auth.md"),
        (
            ["diff", "docs", "2026-05-01..-1"],
            "no snapshot of site 'docs' at or before 2026-05-01 (the first one is from 2026-06-01",
        ),
        (["show", "docs@2026-05-31"], "no snapshot of site 'docs' at or before 2026-05-31"),
        (["diff", "docs", "-9"], "site 'docs' has 4 snapshots, so -9 names none"),
        (["diff", "docs", "nosuchrev"], "unknown revision 'nosuchrev'"),
        (["log", "docs", "--page", "nope.md"], "no page 'nope.md'"),
        (["log", "--page", "x.md"], "--page needs a SITE"),
        (["log", "docs", "--since", "2026-02-30"], "is not a valid date"),
    ],
)
def test_bad_queries_exit_2_with_one_clear_line(built: Built, args: list[str], message: str) -> None:
    result = run(built, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_show_of_another_sites_commit_is_refused(built: Built) -> None:
    result = run(built, "show", f"docs@{built.other[:12]}")
    assert result.exit_code == 2
    assert f"commit {built.other[:10]}" in result.stderr and "is not a snapshot of site 'docs'" in result.stderr


def test_diff_unknown_long_option_is_a_usage_error(built: Built) -> None:
    result = run(built, "diff", "docs", "-1", "--wordiff")
    assert result.exit_code == 2
    assert "no such option: --wordiff" in result.stderr


def _on_a_terminal(built: Built, tmp_path: Path, *args: str, pager: str, columns: int = 80) -> str:
    """Run the real ``archiver`` with its stdout on a pseudo-terminal ``columns`` wide; what it
    printed there (the pager's own output goes wherever ``pager`` sends it)."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "ARCHIVER_PAGER": pager, "TERM": "xterm", "NO_COLOR": "1"}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    cmd = [sys.executable, "-m", "archiver", *args, "--repo", str(built.repo)]
    proc = subprocess.run(cmd, stdout=child, stderr=subprocess.PIPE, env=env, timeout=60, check=False)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the terminal's other side is closed and drained
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.returncode == 0, proc.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode()).replace("\r\n", "\n")  # (bold stays with NO_COLOR)


def test_a_terminal_gets_the_pager_unless_no_pager(built: Built, tmp_path: Path) -> None:
    got = tmp_path / "paged.txt"
    pager = f"cat > {got}"
    screen = _on_a_terminal(built, tmp_path, "diff", "docs", "-1", pager=pager)
    assert screen == "" and got.read_text() == run(built, "diff", "docs", "-1").stdout  # all of it went to the pager
    got.unlink()
    screen = _on_a_terminal(built, tmp_path, "history", "docs", "/", "--no-pager", pager=pager)
    assert not got.exists() and screen.startswith("docs/index.md")
    screen = _on_a_terminal(built, tmp_path, "log", "docs", pager="cat")  # cat: no pager at all
    assert screen.splitlines()[0].startswith(built.docs[3][:10]) and not got.exists()


def test_log_lines_fit_an_80_column_terminal(built: Built, tmp_path: Path) -> None:
    whole = run(built, "log").stdout.splitlines()
    assert max(len(line) for line in whole) > 40  # (so the narrow terminal below has something to cut)
    screen = _on_a_terminal(built, tmp_path, "log", pager="cat", columns=40).splitlines()
    assert len(screen) == len(whole)  # one line per snapshot, never wrapped
    for line, full in zip(screen, whole, strict=True):
        assert len(line) <= 40
        assert line == full or (line.endswith("…") and full.startswith(line[:-1]))
