"""The report's other pages: the index of sites, a site's timeline, a page's history and one
version of a page (its Markdown as HTML)."""

from __future__ import annotations

import math

from archiver.models import Snapshot
from archiver.report.htmlpage import esc, href, page, safe_url, thead
from archiver.report.markdown import front_matter, render_markdown
from archiver.report.sitedata import (
    STATUS_WORD,
    SiteData,
    Version,
    anchor,
    history_file,
    page_link,
    reason_html,
    sections_html,
    short,
    stat_html,
    version_file,
    watch_feed_file,
)
from archiver.report.snapshot import RULES_BADGE, first_title
from archiver.report.words import count, day, day_heading, headline, month, strip_label, when

STRIP = 30  # snapshots in a site's day strip (the timeline below lists them all)
SPARK = 24  # snapshots in the index's strip of recent snapshots
LISTED = 12  # pages named under a snapshot in the timeline; more are counted


def _url(url: str | None) -> str:
    link = safe_url(url)
    return f'<a class="url" href="{link}">{link}</a>' if link else ""


def _spark(data: SiteData) -> str:
    """The site's recent snapshots, oldest left: one bar each, as tall as its change is big (log)."""
    recent = list(reversed(data.snaps[:SPARK]))
    sizes = [math.log1p(s.lines_added + s.lines_removed) for s in recent]
    top = max(sizes, default=0) or 1
    bars = []
    for snap, size in zip(recent, sizes, strict=True):
        height = 4 + round(18 * size / top)
        label = f"{strip_label(snap.date)}: {headline(data.site, snap.subject)}"
        cls = "bar rules" if snap.rules else "bar"
        bars.append(
            f'<a class="{cls}" style="height:{height}px" href="{href(data.site + "/snap/" + snap.sha + ".html")}" '
            f'title="{esc(label)}"><span class="vh">{esc(label)}</span></a>'
        )
    return f'<span class="spark">{"".join(bars)}</span>'


def index_page(sites: list[SiteData]) -> str:
    """Every site: its pages, base URL, last change and a strip of its recent snapshots."""
    rows = []
    for data in sites:
        last = data.snaps[0]
        target = href(f"{data.site}/snap/{last.sha}.html")
        change = (
            f'<a href="{target}">{esc(headline(data.site, last.subject))}</a> {stat_html(last)}'
            f'<br><span class="muted">{esc(when(last.date))}</span>'
        )
        rows.append(
            f'<tr><td data-label="Site"><a class="site" href="{href(data.site + "/index.html")}">{esc(data.site)}</a>'
            f'<br><span class="muted">{_url(data.base_url)}</span></td>'
            f'<td data-label="Pages" class="num">{len(data.live())}</td>'
            f'<td data-label="Last change">{change}</td>'
            f'<td data-label="Snapshots">{_spark(data)}<br><span class="muted">{count(len(data.snaps), "snapshot")}'
            f' · <a href="{href(data.site + "/feed.xml")}">Atom feed</a></span></td></tr>'
        )
    body = (
        '<h1>Archived documentation</h1><p class="meta"><a href="feed.xml">Atom feed of all sites</a></p>'
        f'<table class="list sites">{thead("Site", "+Pages", "Last change", "Recent snapshots")}'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return page("Archived documentation", body, root="", crumbs=[], feed="feed.xml")  # (no link to itself)


def _day_strip(data: SiteData) -> str:
    """``Fri 12 18:02 · Thu 11 20:02 · …``, newest first, each a link to its snapshot."""
    items, current = [], ""
    for snap in data.snaps[:STRIP]:
        if month(snap.date) != current:
            current = month(snap.date)
            items.append(f'<li class="month">{esc(current)}</li>')
        title = esc(headline(data.site, snap.subject))
        badge = " " + RULES_BADGE if snap.rules else ""  # (archiver's change, not the docs')
        link = f'<a href="{href("snap/" + snap.sha + ".html")}" title="{title}">{strip_label(snap.date)}</a>'
        items.append(f"<li>{link}{badge}</li>")
    more = len(data.snaps) - STRIP
    tail = f'<li class="more"><a href="#timeline">{count(more, "older snapshot")}</a></li>' if more > 0 else ""
    return f'<nav aria-label="Snapshots by day"><ol class="strip">{"".join(items)}{tail}</ol></nav>'


def _snapshot_pages(data: SiteData, snap: Snapshot) -> str:
    """Under a snapshot in the timeline: each page with the sections it touched, or why it went."""
    if data.first(snap):
        return ""
    items = []
    for f in snap.files[:LISTED]:
        word = STATUS_WORD.get(f.status, f.status)
        note = data.note(snap.sha, f.path)
        if note and note.kind == "moved":
            word = "moved"
        extra = " " + sections_html(data.sections(snap.sha, f.path)) if f.status == "M" else ""
        why = data.reason(snap.sha, f.path) if f.status == "D" else ""
        shown = f'<span class="kind">{esc(word)}</span>' + (
            " " + reason_html(why, note.reason if note else "") if why else ""
        )
        items.append(f"<li>{page_link(data.site, f.path)} {shown}{extra}</li>")
    more = len(snap.files) - LISTED
    if more > 0:
        items.append(f'<li><a href="{href("snap/" + snap.sha + ".html")}">and {count(more, "more page")}</a></li>')
    return f'<ul class="pages">{"".join(items)}</ul>'


def _timeline(data: SiteData) -> list[str]:
    body, current = ['<h2 id="timeline">Timeline</h2>'], ""
    for snap in data.snaps:
        if day(snap.date) != current:
            if current:
                body.append("</ol>")
            current = day(snap.date)
            body += [f"<h3>{esc(day_heading(snap.date))}</h3>", '<ol class="timeline">']
        title = first_title(snap) if data.first(snap) else headline(data.site, snap.subject)
        badge = " " + RULES_BADGE if snap.rules else ""
        body.append(
            f'<li><p class="head"><span class="time">{esc(snap.date[11:16])}</span> '
            f'<a href="{href("snap/" + snap.sha + ".html")}">{esc(title)}</a>{badge} {stat_html(snap)}</p>'
            f"{_snapshot_pages(data, snap)}</li>"
        )
    if current:
        body.append("</ol>")
    return body


def _table(columns: tuple[str, ...], rows: list[str]) -> str:
    return f'<table class="list">{thead(*columns)}<tbody>{"".join(rows)}</tbody></table>'


def _page_tables(data: SiteData) -> list[str]:
    """The site's pages, then the removed ones with when and why."""
    live, gone = [], []
    for path, versions in data.versions().items():
        newest, oldest = versions[0], versions[-1]
        name = f'<td data-label="Page">{page_link(data.site, path)}</td>'
        since = f'<td data-label="Since">{esc(day(oldest.snap.date))}</td>'
        n = f'<td data-label="Versions" class="num">{len(versions)}</td>'
        there = href(f"snap/{newest.snap.sha}.html#{anchor(path)}")
        if newest.stat.status == "D":
            note = data.note(newest.snap.sha, path)
            why = reason_html(data.reason(newest.snap.sha, path), note.reason if note else "")
            went = f'<td data-label="Removed"><a href="{there}">{esc(when(newest.snap.date))}</a></td>'
            gone.append(f'<tr>{name}{went}<td data-label="Why">{why}</td>{since}{n}</tr>')
        else:
            last = f'<td data-label="Last change"><a href="{there}">{esc(day(newest.snap.date))}</a></td>'
            live.append(f"<tr>{name}{last}{since}{n}</tr>")
    out = [f"<h2>Pages ({len(live)})</h2>", _table(("Page", "Last change", "Since", "+Versions"), live)]
    if gone:
        out += [
            f"<h2>Removed pages ({len(gone)})</h2>",
            _table(("Page", "Removed", "Why", "Since", "+Versions"), gone),
        ]
    return out


def timeline_page(data: SiteData) -> str:
    """A site: its base URL, a day strip of snapshots, the timeline by day, its pages (and removed ones)."""
    facts = [_url(data.base_url), count(len(data.live()), "page"), count(len(data.snaps), "snapshot")]
    if data.snaps:
        facts.append(f"since {esc(day(data.snaps[-1].date))}")
    facts.append('<a href="feed.xml">Atom feed</a>')
    facts += [f'<a href="{href(watch_feed_file(w))}">Atom feed of watch {esc(w)}</a>' for w in data.watches]
    body = [f"<h1>{esc(data.site)}</h1>", f'<p class="meta">{" · ".join(f for f in facts if f)}</p>']
    body += [_day_strip(data), *_timeline(data), *_page_tables(data)]
    return page(
        f"{data.site}: snapshots", "\n".join(body), root="../", crumbs=[("All sites", "index.html")], feed="feed.xml"
    )


def _version_item(data: SiteData, path: str, v: Version) -> str:
    snap, f = v.snap, v.stat
    note = data.note(snap.sha, path)
    word = "moved" if note and note.kind == "moved" else STATUS_WORD.get(f.status, f.status)
    parts = [f'<p class="head">{esc(when(snap.date))} <span class="kind">{esc(word)}</span> {stat_html(f)}</p>']
    mark = data.marks.get((snap.sha, path))
    if mark and data.phrase:
        went = "came in here" if mark[0] == "added" else "went here" if mark[0] == "removed" else "changed here"
        parts.append(f'<p class="when"><strong>“{esc(data.phrase)}” {went}</strong>: <code>{esc(mark[1])}</code></p>')
    if f.status == "D":
        why = data.reason(snap.sha, path)
        parts.append(f"<p>Removed{': ' + reason_html(why, note.reason if note else '') if why else ''}.</p>")
    elif note and note.kind == "moved":
        parts.append(f"<p>{esc(note.reason)}</p>")
    if f.status == "M":
        parts.append(sections_html(data.sections(snap.sha, path)))
    links = []
    if v.after and not f.binary:
        links.append(f'<a href="{href(version_file(path, v.after)[6:])}">the page as it was</a>')
    links.append(f'<a href="{href("../snap/" + snap.sha + ".html#" + anchor(path))}">the change</a>')
    parts.append(f'<p class="links">{" · ".join(links)}</p>')
    return f"<li>{''.join(parts)}</li>"


def history_page(data: SiteData, path: str, versions: list[Version]) -> str:
    """A page's versions, newest first: when, what changed (sections), a link to the page as it was."""
    newest = versions[0]
    facts = [_url(data.source(path)), count(len(versions), "version"), f"since {esc(day(versions[-1].snap.date))}"]
    came = [v for v in versions if data.marks.get((v.snap.sha, path), ("",))[0] == "added"]
    if came and data.phrase:
        facts.append(f"“{esc(data.phrase)}” first came in {esc(day(came[-1].snap.date))}")
    if newest.stat.status == "D":
        why = data.reason(newest.snap.sha, path)
        facts.append(f"removed {esc(day(newest.snap.date))}" + (f" ({esc(why)})" if why else ""))
    body = [
        f"<h1>{esc(short(data.site, path))}</h1>",
        f'<p class="meta">{" · ".join(f for f in facts if f)}</p>',
        "<h2>Versions, newest first</h2>",
        '<ol class="timeline versions" reversed>',
        *(_version_item(data, path, v) for v in versions),
        "</ol>",
    ]
    crumbs = [("All sites", "index.html"), (data.site, f"{data.site}/index.html")]
    title = f"{short(data.site, path)} · {data.site}"
    return page(title, "\n".join(body), root="../../", crumbs=crumbs, feed="../feed.xml")


def version_page(site: str, path: str, content: bytes) -> str:
    """One version of a page, its Markdown as HTML; it depends only on the content, never on when."""
    text = content.decode("utf-8", errors="replace")
    meta, markdown = front_matter(text) if path.endswith(".md") else ({}, text)
    name = short(site, path)
    title = meta.get("title") or name
    heading = f"# {title}\n"
    if markdown.lstrip("\n").startswith(heading):  # (the page's own title is the h1 already)
        markdown = markdown.lstrip("\n")[len(heading) :]
    article = render_markdown(markdown) if path.endswith(".md") else f"<pre><code>{esc(text)}</code></pre>"
    facts = [f"<code>{esc(name)}</code> as archived", _url(meta.get("source"))]
    facts.append(f'<a href="{href("../" + history_file(path)[6:])}">every version</a>')
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{" · ".join(f for f in facts if f)}</p>',
        f'<article class="md">\n{article}\n</article>',
    ]
    crumbs = [("All sites", "index.html"), (site, f"{site}/index.html"), (name, f"{site}/{history_file(path)}")]
    return page(f"{title} · {site}", "\n".join(body), root="../../../", crumbs=crumbs)
