"""The read-side commands: ``log``, ``show``, ``diff``, ``history``, ``when``, ``digest`` and ``report``.

Registered on :data:`archiver.cli.common.app` when ``archiver.cli`` imports this module. Like
every command, each parses its arguments, calls the library (``history``,
``revisions``, ``report``) and renders the result; everything shown is read from git.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from archiver.archive import apichanges, history, layout, revisions, search
from archiver.archive.patch import section_words
from archiver.cli.common import (
    ConfigOpt,
    NoPagerOpt,
    RepoOpt,
    VerboseOpt,
    app,
    colour,
    command,
    err,
    out,
    paged,
    printable,
    rendered,
)
from archiver.config import load_config
from archiver.errors import HistoryError
from archiver.models import Snapshot
from archiver.text import one_line

STATUS_WORD = {"A": "added", "M": "changed", "D": "removed"}
MINUS = "\u2212"  # the minus sign the commit subjects use


def _lines(added: int, removed: int) -> str:
    """``+3 −1``, leaving out a side that is zero (``+20`` for a new page, ``−7`` for a removed one)."""
    parts = ([f"+{added}"] if added else []) + ([f"{MINUS}{removed}"] if removed else [])
    return " ".join(parts) or "±0"


def _when(date: str) -> str:
    return date.replace("T", " ")[:16]


def _repos(root: Path) -> list[tuple[str | None, Path]]:
    """Where to read "all sites" from: the one repository (every site at once), or each site's."""
    return list(layout.site_repos(root).items()) if layout.is_per_site(root) else [(None, root)]


def _site_of(snap: Snapshot) -> str:
    return snap.files[0].path.split("/", 1)[0] if snap.files else ""


def _fit(text: Text) -> Text:
    """One line: cut to the terminal's width with an ellipsis (off a terminal, lines are whole)."""
    if out.is_terminal:
        text.truncate(out.width, overflow="ellipsis")
    return text


def oneline(snap: Snapshot) -> Text:
    """A snapshot in one line, as ``git log --oneline`` would put it: commit, date, subject (which
    says what happened and its line counts, ``docs: 16 changed, 1 added (+184 −109)``)."""
    subject = snap.subject
    one_kind = len({f.status for f in snap.files}) == 1 and snap.files[0].status in "AD"  # new / removed pages
    if "(+" not in subject and (snap.lines_added or snap.lines_removed) and not one_kind:
        subject += f" ({_lines(snap.lines_added, snap.lines_removed)})"
    return _fit(Text.assemble((snap.sha[:10], "yellow"), " ", (_when(snap.date), "green"), "  ", one_line(subject)))


def change_lines(snap: Snapshot, site: str, found: dict[str, list[str]], indent: str = "    ") -> list[Text]:
    """Under a snapshot: each changed page with the sections it changed; new and removed pages
    collapsed to one line each (``76 new pages``), naming them when there are only a few."""
    prefix = f"{site}/" if site else ""
    added = [f.path.removeprefix(prefix) for f in snap.files if f.status == "A"]
    removed = [f.path.removeprefix(prefix) for f in snap.files if f.status == "D"]
    lines: list[Text] = []
    for f in snap.files:
        if f.status == "M":
            rel = f.path.removeprefix(prefix)
            heads = ", ".join(dict.fromkeys(section_words(h) for h in found.get(rel, []))) or "(no headings)"
            lines.append(_fit(Text(f"{indent}{rel}: {one_line(heads)}")))
    for names, one, many, style in (
        (added, "new page", "new pages", "green"),
        (removed, "page removed", "pages removed", "red"),
    ):
        if names:
            label = f"{len(names)} {one if len(names) == 1 else many}"
            shown = f": {', '.join(names)}" if len(names) <= 3 else ""
            lines.append(_fit(Text(f"{indent}{label}{one_line(shown)}", style=style)))
    return lines


def api_lines(summaries: list[apichanges.SpecSummary], indent: str = "    ") -> list[Text]:
    """What changed in each API spec of a snapshot, breaking changes in red and marked."""
    lines: list[Text] = []
    for spec in summaries:
        breaking = f" ({spec.breaking} breaking)" if spec.breaking else ""
        lines.append(Text(one_line(f"API changes in {spec.path}{breaking}:"), style="bold"))
        for c in spec.changes:
            mark = "BREAKING " if c.breaking else ""
            lines.append(_fit(Text(one_line(f"{indent}{mark}{c.what}: {c.where}"), style="red" if c.breaking else "")))
        if spec.more:
            lines.append(Text(f"{indent}… and {spec.more} more"))
    return lines


@app.command()
def log(
    site: Annotated[str | None, typer.Argument(metavar="SITE", help="Only this site's snapshots.")] = None,
    repo: RepoOpt = Path("archive-repo"),
    limit: Annotated[int, typer.Option("--limit", "-n", metavar="N", help="At most this many snapshots.")] = 50,
    since: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="Only snapshots since this date (2026-06-01, '2 weeks ago')."),
    ] = None,
    page: Annotated[
        str | None,
        typer.Option(
            metavar="PAGE", help="Only snapshots that changed this page (a path or any URL form; needs SITE)."
        ),
    ] = None,
    sections: Annotated[
        bool, typer.Option("--sections", "-s", help="Under each snapshot, the sections each page changed.")
    ] = False,
    watch: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="Only snapshots that change the part of SITE this watch of sites.yaml names."
        ),
    ] = None,
    config: ConfigOpt = Path("sites.yaml"),
    no_pager: NoPagerOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Snapshots, newest first, one line each: commit, date, what changed.

    Example: archiver log docs --page /guide/auth.html --sections
    """
    with command(verbose):
        if page and not site:
            raise HistoryError("--page needs a SITE: archiver log SITE --page PATH")
        if watch and not site:
            raise HistoryError("--watch needs a SITE: archiver log SITE --watch NAME")
        since = revisions.check_since(since)
        found_in: list[tuple[Path, str | None, Snapshot]]
        if site and watch:
            watched = _watch_log(repo, config, site, watch, limit, since, page, sections)
            if not watched:
                err.print(printable(f"no snapshots of {site} change watch {watch}"), highlight=False)
                return
            paged(rendered(*watched), no_pager=no_pager)
            return
        if site:
            path = layout.repo_of(repo, site)
            revisions.site_commits(path, site)  # an unknown site is an error, not an empty list
            rel = revisions.resolve_page(path, site, page) if page else None
            found_in = [(path, site, s) for s in history.snapshots(path, site, limit=limit, since=since, page=rel)]
        else:
            rel = None
            found_in = [
                (p, name, s) for name, p in _repos(repo) for s in history.snapshots(p, name, limit, since=since)
            ]
            found_in.sort(key=lambda hit: datetime.fromisoformat(hit[2].date), reverse=True)  # (several repositories)
            found_in = found_in[:limit]
        snaps = [s for _, _, s in found_in]
        lines: list[Text] = []
        for path, name, s in found_in:
            lines.append(oneline(s))
            if sections:
                owner = name or _site_of(s)
                found = history.sections(path, owner, s.sha, page=rel)
                lines += change_lines(s, owner, found)
    what = f"{site}/{rel}" if rel else site or "all sites"
    if not snaps:
        err.print(printable(f"no snapshots of {what}" + (f" since {since}" if since else "")), highlight=False)
        return
    paged(rendered(*lines), no_pager=no_pager)


def _watch_log(
    repo: Path, config: Path, site: str, name: str, limit: int, since: str | None, page: str | None, sections: bool
) -> list[Text]:
    """``log SITE --watch NAME``: the lines of the newest ``limit`` snapshots that touch the watch."""
    chosen = load_config(config).select([site])[0]
    watch = chosen.watch_named(name)
    path = layout.repo_of(repo, site)
    revisions.site_commits(path, site)  # an unknown site is an error, not an empty list
    rel = revisions.resolve_page(path, site, page) if page else None
    snaps = history.snapshots(path, site, since=since, page=rel)
    lines: list[Text] = []
    for snap, pages in islice(history.watched(path, site, watch, chosen.base_url, snaps), limit):
        lines.append(oneline(snap))
        if sections:
            lines += [_fit(Text(f"    {p.path}: {one_line(', '.join(p.sections) or '(no headings)')}")) for p in pages]
    return lines


@app.command()
def show(
    snapshot: Annotated[
        str,
        typer.Argument(metavar="SITE[@REV]", help="A site, and optionally which snapshot: -1, -2, a date, a commit."),
    ],
    repo: RepoOpt = Path("archive-repo"),
    no_pager: NoPagerOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """One snapshot: the sections that changed, then its stat and patch (git show).

    Example: archiver show docs@-2
    """
    with command(verbose):
        site, rev = revisions.split_site_rev(snapshot)
        path = layout.repo_of(repo, site)
        sha = revisions.resolve_snapshot(path, site, rev)
        snap = history.snapshot(path, site, sha)
        found = history.sections(path, site, sha)
        api = apichanges.parse(history.commit_message(path, sha))
        text = history.diff(path, site, sha, color=colour())
    head = [
        Text.assemble("Sections changed in ", (f"{site}@{sha[:10]}", "bold"), ":"),
        *change_lines(snap, site, found, "  "),
        *api_lines(api, "  "),
    ]
    paged(rendered(*head, "") + text, no_pager=no_pager)


@app.command(context_settings={"ignore_unknown_options": True})  # so that -1 and -2..-1 are revisions
def diff(
    site: Annotated[str, typer.Argument(metavar="SITE", help="The site.")],
    rev: Annotated[
        str | None,
        typer.Argument(
            metavar="REV", help="A snapshot (-1, -2, 2026-06-10, a commit; default: the latest) or a range FROM..TO."
        ),
    ] = None,
    page: Annotated[
        str | None,
        typer.Argument(metavar="PAGE", help="Only this page: its path in the site folder, or any URL form it had."),
    ] = None,
    repo: RepoOpt = Path("archive-repo"),
    word_diff: Annotated[
        bool, typer.Option("--word-diff", help="Show changed words inline (git diff --word-diff).")
    ] = False,
    stat: Annotated[bool, typer.Option("--stat", help="Only the files changed and their line counts.")] = False,
    no_pager: NoPagerOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """What changed in a snapshot of SITE, or between two: the same patch as git show / git diff.

    Example: archiver diff docs -2..-1 guide/auth.html --word-diff
    """
    for value in (rev, page):
        if value and value.startswith("--"):
            raise typer.BadParameter(f"no such option: {value}")
    with command(verbose):
        path = layout.repo_of(repo, site)
        text = revisions.diff(path, site, rev, color=colour(), page=page, word_diff=word_diff, stat_only=stat)
    paged(text, no_pager=no_pager)


@app.command("history")
def history_cmd(
    site: Annotated[str, typer.Argument(metavar="SITE", help="The site.")],
    page: Annotated[
        str,
        typer.Argument(
            metavar="PAGE",
            help="The page: its path in the site folder (guide/auth.md) or any URL form it had (/, /guide/auth.html).",
        ),
    ],
    repo: RepoOpt = Path("archive-repo"),
    no_pager: NoPagerOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Every version of one page, newest first: commit, date, what happened to it, its lines.

    Example: archiver history docs /guide/auth.html
    """
    with command(verbose):
        repo = layout.repo_of(repo, site)
        urls = history.site_urls(repo, site)  # (read once: to find the page, and for its URL in the title)
        rel = revisions.resolve_page(repo, site, page, urls)
        versions = history.page_versions(repo, site, rel)[::-1]
        url = next((u for u, p in urls.paths.items() if p == rel), None)
        lines: list[Text] = []
        for v in versions:
            what = STATUS_WORD.get(v.status, v.status)
            if v.status == "D":
                why = history.removal_reason(repo, v.sha, site, rel)
                what += f" ({one_line(why)})" if why else ""
            else:
                what += " binary" if v.binary else f" {_lines(v.added, v.removed)}"
            lines.append(_fit(Text.assemble((v.sha[:10], "yellow"), " ", (_when(v.date), "green"), "  ", what)))
    count = f"{len(versions)} version{'s' if len(versions) != 1 else ''}"
    title = Text.assemble((f"{site}/{rel}", "bold"), f"  {one_line(url)}" if url else "", f"  ({count}, newest first)")
    paged(rendered(title, *lines), no_pager=no_pager)


def _phrase_line(hit: search.Appearance) -> Text:
    what = {"A": " (new page)", "D": " (page removed)"}.get(hit.page_status, "")
    style = "green" if hit.change == "added" else "red"
    return _fit(
        Text.assemble(
            (_when(hit.date), "green"),
            f"  {hit.site}  {one_line(hit.page)}  ",
            (f"{hit.change}{what}", style),
            "  ",
            (hit.sha[:10], "yellow"),
            f"  {one_line(hit.line)}",
        )
    )


@app.command()
def when(
    phrase: Annotated[str, typer.Argument(metavar="PHRASE", help="The words to look for (literal unless --regex).")],
    sites: Annotated[
        list[str] | None, typer.Argument(metavar="[SITE]...", help="Only these sites (default: every site).")
    ] = None,
    repo: RepoOpt = Path("archive-repo"),
    regex: Annotated[
        bool, typer.Option("--regex", help="PHRASE is a regular expression (POSIX extended, as git's).")
    ] = False,
    page: Annotated[
        str | None,
        typer.Option(metavar="GLOB", help="Only pages whose path in the site folder matches (guide/*, *auth*)."),
    ] = None,
    first: Annotated[bool, typer.Option("--first", help="Only the snapshot where it first appeared.")] = False,
    no_pager: NoPagerOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Every snapshot where PHRASE came into a page or went from it, oldest first (git log -S).

    Example: archiver when 'max_retries' docs --page 'reference/*' --first
    """
    with command(verbose):
        found, searched = search.when(repo, phrase, sites or None, regex=regex, page=page)
    hit = search.first_appearance(found) if first else None
    shown = ([hit] if hit else []) if first else found
    if not shown:
        where = ", ".join(searched.sites) or "no sites"
        span = f"{_when(searched.first)[:10]}..{_when(searched.last)[:10]}" if searched.first and searched.last else ""
        pages = f", pages {page}" if page else ""
        out.print(
            printable(f"{phrase!r} never appeared in {where}{pages}" + (f" ({span})" if span else "")),
            highlight=False,
        )
        return
    paged(rendered(*(_phrase_line(h) for h in shown)), no_pager=no_pager)


DIGEST_FORMATS = ("md", "html", "json")


@app.command()
def digest(
    sites: Annotated[
        list[str] | None, typer.Argument(metavar="[SITE]...", help="Only these sites (default: every site).")
    ] = None,
    repo: RepoOpt = Path("archive-repo"),
    since: Annotated[
        str, typer.Option(metavar="PERIOD", help="The period: 24h, 7d, 2w back from now, or since a date (2026-06-01).")
    ] = "7d",
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="md (default), html or json.")] = "md",
    verbose: VerboseOpt = False,
) -> None:
    """What changed in every site over a period: snapshots, pages, sections, lines, biggest first.

    Example: archiver digest --since 7d --format html > digest.html
    """
    from archiver.report import digest as digests
    from archiver.schedules import period_start

    with command(verbose):
        if fmt not in DIGEST_FORMATS:
            raise HistoryError(f"--format {fmt!r}: choose md, html or json")
        now = datetime.now(UTC)
        try:
            start = period_start(since, now)
        except ValueError as exc:
            raise HistoryError(f"--since {exc}") from None
        found = digests.build_digest(repo, start, now, sites or None)
    render = {"md": digests.to_markdown, "html": digests.to_html, "json": digests.to_json}[fmt]
    sys.stdout.write(render(found))


@app.command()
def report(
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", metavar="DIR", help="Folder to write the HTML site and feeds into.")
    ],
    repo: RepoOpt = Path("archive-repo"),
    config: ConfigOpt = Path("sites.yaml"),
    base_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL", help="Where the report will be served (makes feed links absolute; default: report_base_url)."
        ),
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Render every snapshot page again, not only new ones.")] = False,
    when_phrase: Annotated[
        str | None,
        typer.Option("--when", metavar="PHRASE", help="Mark in each page's history where PHRASE came in or went."),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write a static HTML site of every change (timeline, diffs, page histories) and Atom feeds.

    Example: archiver report --out changes/ --base-url https://changes.example.com/
    """
    from archiver.report.build import build_report

    with command(verbose):
        cfg = load_config(config) if config.exists() else None
        web_url = cfg.web_url if cfg else None
        base_url = base_url or (cfg.report_base_url if cfg else None)  # (the daemon's report is served there)
        sites = cfg.sites if cfg else []  # (their watches get feeds)
        result = build_report(
            repo, out_dir, web_url=web_url, base_url=base_url, full=full, site_configs=sites, when=when_phrase
        )
    out.print(
        f"{result.sites} site(s), {result.snapshots} snapshot(s), {result.rendered} new page(s) in {out_dir}; "
        f"open {out_dir / 'index.html'}",
        highlight=False,
    )
