"""The page of one snapshot: when, previous and next, its pages (what happened to each, the sections
it touched, why a removed one went) and each page's diff."""

from __future__ import annotations

from archiver.archive.apichanges import SpecSummary
from archiver.archive.patch import FileDiff
from archiver.models import FileStat, Snapshot
from archiver.report.htmlpage import diff_html, esc, href, page, safe_url, thead
from archiver.report.sitedata import (
    STATUS_WORD,
    SiteData,
    anchor,
    files_word,
    history_file,
    reason_html,
    sections_html,
    short,
    stat_html,
    version_file,
)
from archiver.report.words import count, headline, strip_label, when

RULES_BADGE = '<span class="badge" title="re-rendered under new rules, not a change of the docs">rules</span>'


def first_title(snap: Snapshot) -> str:
    """A site's first snapshot, said as such: ``first snapshot: 76 pages``."""
    return f"first snapshot: {count(len(snap.files), 'page')}"


def _neighbour(snap: Snapshot | None, site: str, rel: str, label: str) -> str:
    if snap is None:
        return f'<span class="muted">{"the first snapshot" if rel == "prev" else "the newest snapshot"}</span>'
    target = href(snap.sha + ".html")
    title = esc(headline(site, snap.subject))
    return f'<a rel="{rel}" href="{target}">{esc(label)}: {esc(strip_label(snap.date))} · {title}</a>'


def change_cell(data: SiteData, snap: Snapshot, f: FileStat) -> str:
    """What happened to a page in a snapshot: ``changed``, ``removed · HTTP 404``, ``moved · from …``."""
    note = data.note(snap.sha, f.path)
    word = note.kind if note and note.kind == "moved" else STATUS_WORD.get(f.status, f.status)
    why = data.reason(snap.sha, f.path) if f.status == "D" or word == "moved" else ""
    return esc(word) + (" · " + reason_html(why, note.reason if note else "") if why else "")


def _sections(data: SiteData, snap: Snapshot, f: FileStat) -> str:
    """The sections a changed page's change touched (an added or removed page is all of it)."""
    return sections_html(data.sections(snap.sha, f.path)) if f.status == "M" else ""


def _file_row(data: SiteData, snap: Snapshot, f: FileStat) -> str:
    name = esc(short(data.site, f.path))
    return (
        f'<tr><td data-label="Page"><a href="#{anchor(f.path)}">{name}</a></td>'
        f'<td data-label="Change">{change_cell(data, snap, f)}</td>'
        f'<td data-label="Lines" class="num">{stat_html(f)}</td>'
        f'<td data-label="Sections">{_sections(data, snap, f)}</td></tr>'
    )


def _file_section(data: SiteData, snap: Snapshot, f: FileStat, fd: FileDiff) -> str:
    before, after = data.blobs.get(snap.sha, {}).get(f.path, ("", ""))
    links = []
    if after and not f.binary:
        links.append(f'<a href="{href("../" + version_file(f.path, after))}">this version</a>')
    elif before and not f.binary:
        links.append(f'<a href="{href("../" + version_file(f.path, before))}">its last version</a>')
    links.append(f'<a href="{href("../" + history_file(f.path))}">history</a>')
    source = safe_url(data.details.get(snap.sha, {}).get(f.path, {}).get("source") or data.source(f.path))
    if source:
        links.insert(0, f'<a class="url" href="{source}">{source}</a>')
    diff = diff_html(fd, f, snap.sha)
    if f.status in ("A", "D") and not f.binary and fd.lines:  # a whole page: folded, its version is a click away
        lines = f"{count(f.added or f.removed, 'line')} {'added' if f.status == 'A' else 'removed'}"
        diff = f'<details class="fold"><summary>{esc(lines)}</summary>{diff}</details>'
    return (
        f'<section class="file" aria-labelledby="{anchor(f.path)}">'
        f'<h3 id="{anchor(f.path)}">{esc(short(data.site, f.path))}</h3>'
        f'<p class="meta">{change_cell(data, snap, f)}{"" if f.status == "D" else " " + stat_html(f)}</p>'
        f'<p class="meta links">{" · ".join(links)}</p>'
        + (f'<div class="meta">Sections: {sections}</div>' if (sections := _sections(data, snap, f)) else "")
        + f"{diff}</section>"
    )


BREAKING_BADGE = '<span class="badge" title="breaks clients of the previous version">breaking</span>'


def api_html(site: str, summaries: list[SpecSummary]) -> str:
    """The "API changes" of a snapshot: per spec, its changes (breaking ones marked, and first)."""
    parts = ["<h2>API changes</h2>"]
    for spec in summaries:
        breaking = f" · {count(spec.breaking, 'breaking change')}" if spec.breaking else ""
        parts.append(f'<h3>{esc(short(site, site + "/" + spec.path))}<span class="meta">{esc(breaking)}</span></h3>')
        items = [
            f"<li>{BREAKING_BADGE + ' ' if c.breaking else ''}{esc(c.what)}: <code>{esc(c.where)}</code></li>"
            for c in spec.changes
        ]
        if spec.more:
            items.append(f"<li>… and {spec.more} more</li>")
        parts.append(f'<ul class="api">{"".join(items)}</ul>')
    return "".join(parts)


def snapshot_page(data: SiteData, i: int, fds: list[FileDiff]) -> str:
    """The page of ``data.snaps[i]`` (``fds``: its parsed patch)."""
    snap = data.snaps[i]
    older = data.snaps[i + 1] if i + 1 < len(data.snaps) else None
    newer = data.snaps[i - 1] if i > 0 else None
    by_path = {fd.path: fd for fd in fds}
    link = safe_url(data.commit_link(snap.sha))
    sha = f'<a href="{link}">{esc(snap.sha[:10])}</a>' if link else f"<code>{esc(snap.sha[:10])}</code>"
    meta = [esc(when(snap.date)), files_word(snap), stat_html(snap), f"commit {sha}"]
    if snap.rules:
        meta.insert(0, RULES_BADGE)
    title = first_title(snap) if data.first(snap) else headline(data.site, snap.subject)
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{" · ".join(m for m in meta if m)}</p>',
        '<nav class="prevnext" aria-label="Other snapshots">'
        f"{_neighbour(older, data.site, 'prev', 'Previous')}{_neighbour(newer, data.site, 'next', 'Next')}</nav>",
        api_html(data.site, data.api[snap.sha]) if data.api.get(snap.sha) else "",
        f"<h2>Pages ({len(snap.files)})</h2>",
        f'<table class="list files">{thead("Page", "Change", "+Lines", "Sections")}'
        f"<tbody>{''.join(_file_row(data, snap, f) for f in snap.files)}</tbody></table>",
        "<h2>Changes</h2>",
    ]
    for f in snap.files:
        body.append(_file_section(data, snap, f, by_path.get(f.path) or FileDiff(f.path, f.status, f.binary, ())))
    crumbs = [("All sites", "index.html"), (data.site, f"{data.site}/index.html")]
    return page(
        f"{data.site}: {title} · {strip_label(snap.date)}",
        "\n".join(body),
        root="../../",
        crumbs=crumbs,
        feed="../feed.xml",
    )
