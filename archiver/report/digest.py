"""``archiver digest``: what changed in every site over a period, biggest changes first.

Read from git like the rest of the report: each site's snapshots since the period's start
(``git log --since``), each page's line counts summed over them, and the Markdown sections its
changes touched (:func:`archiver.archive.history.sections`). Every snapshot counts, so a page
changed and changed back within the week still shows; a re-render under new rules
(``Change-Kind: rules``) is archiver's change, not the docs', and is only counted. Rendered as
Markdown (also the daemon's message), a standalone HTML page (everything escaped), or JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from archiver.archive import history, layout
from archiver.archive.patch import section_words
from archiver.errors import HistoryError
from archiver.report.htmlpage import esc, page
from archiver.report.words import when

MINUS = "\u2212"


@dataclass(slots=True)
class PageChange:
    """One page over the period: what happened to it, its lines summed over its snapshots, its sections."""

    path: str  # inside the site folder
    change: str  # "added", "changed" or "removed"
    added: int = 0
    removed: int = 0
    snapshots: int = 0
    sections: list[str] = field(default_factory=list)  # as a reader says them (Rate limits)


@dataclass(frozen=True, slots=True)
class SnapshotLine:
    sha: str
    date: str
    subject: str
    kind: str  # "docs" or "rules"


@dataclass(slots=True)
class SiteDigest:
    site: str
    snapshots: list[SnapshotLine]
    pages: list[PageChange]  # biggest change first
    rules_snapshots: int = 0  # re-renders under new rules, not counted in pages

    @property
    def added(self) -> int:
        return sum(p.added for p in self.pages)

    @property
    def removed(self) -> int:
        return sum(p.removed for p in self.pages)

    def count(self, change: str) -> int:
        return sum(1 for p in self.pages if p.change == change)


@dataclass(frozen=True, slots=True)
class Digest:
    since: str  # ISO 8601
    until: str
    sites: list[SiteDigest]  # the sites that changed, biggest first
    unchanged: list[str]  # the sites searched that did not

    @property
    def empty(self) -> bool:
        return not self.sites


def _site_digest(path: Path, site: str, since: datetime, until: datetime) -> SiteDigest | None:
    snaps = [
        s
        for s in reversed(history.snapshots(path, site, since=since.isoformat()))  # oldest first
        if since <= datetime.fromisoformat(s.date) <= until
    ]
    if not snaps:
        return None
    pages: dict[str, PageChange] = {}
    rules = 0
    for snap in snaps:
        if snap.rules:
            rules += 1
            continue
        found = history.sections(path, site, snap.sha) if any(f.status == "M" for f in snap.files) else {}
        for f in snap.files:
            rel = f.path.removeprefix(f"{site}/")
            pc = pages.get(rel)
            if pc is None:
                pc = pages[rel] = PageChange(rel, "added" if f.status == "A" else "changed")
            if f.status == "D":
                pc.change = "removed"
            elif pc.change == "removed":  # (gone and back: changed over the period)
                pc.change = "changed"
            pc.added += f.added
            pc.removed += f.removed
            pc.snapshots += 1
            for heading in found.get(rel, []) if f.status == "M" else []:
                words = section_words(heading)
                if words not in pc.sections:
                    pc.sections.append(words)
    lines = [SnapshotLine(s.sha, s.date, s.subject, s.kind or "docs") for s in snaps]
    ordered = sorted(pages.values(), key=lambda p: (-(p.added + p.removed), p.path))
    return SiteDigest(site, lines, ordered, rules)


def build_digest(root: Path, since: datetime, until: datetime, sites: list[str] | None = None) -> Digest:
    """The digest of the archive at ``root`` (either layout) from ``since`` to ``until``; ``sites``
    limits it (an unknown one is a HistoryError naming those there are)."""
    repos = layout.site_repos(root)
    if not repos and not layout.is_per_site(root):
        history.root_commit(root)  # the one "no archive repository here" message
    missing = [s for s in sites or [] if s not in repos]
    if missing:
        raise HistoryError(f"no snapshots of site {missing[0]!r} in {root} (sites: {', '.join(repos) or 'none'})")
    found: list[SiteDigest] = []
    quiet: list[str] = []
    for name in sites or list(repos):
        digest = _site_digest(repos[name], name, since, until)
        if digest and digest.pages:
            found.append(digest)
        else:
            quiet.append(name)
    found.sort(key=lambda d: (-(d.added + d.removed), d.site))
    return Digest(since.isoformat(), until.isoformat(), found, quiet)


def _lines(added: int, removed: int) -> str:
    return " ".join([f"+{added}"] * bool(added) + [f"{MINUS}{removed}"] * bool(removed)) or "±0"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _site_summary(d: SiteDigest) -> str:
    counts = [f"{d.count(kind)} {kind}" for kind in ("changed", "added", "removed") if d.count(kind)]
    return f"{_plural(len(d.snapshots), 'snapshot')}, {', '.join(counts)} ({_lines(d.added, d.removed)})"


def title(d: Digest) -> str:
    """The digest's one-line title: the period and how much changed."""
    span = f"{when(d.since)} to {when(d.until)}"
    if d.empty:
        return f"Documentation digest, {span}: no changes"
    pages = sum(len(s.pages) for s in d.sites)
    return f"Documentation digest, {span}: {_plural(len(d.sites), 'site')}, {_plural(pages, 'page')} changed"


def _page_line(p: PageChange) -> str:
    sections = f": {', '.join(p.sections)}" if p.sections else ""
    return f"{p.path} {p.change} ({_lines(p.added, p.removed)}){sections}"


def to_markdown(d: Digest, per_site: int | None = None) -> str:
    """The digest as Markdown (also plain text to read): a section per site, biggest first;
    ``per_site`` lists at most that many pages of each (a message's length), saying how many more."""
    out = [f"# {title(d)}", ""]
    if d.empty:
        out.append(f"No site changed in this period (searched: {', '.join(d.unchanged) or 'no sites'}).")
    for s in d.sites:
        out += [f"## {s.site}: {_site_summary(s)}", ""]
        shown = s.pages if per_site is None else s.pages[:per_site]
        out += [f"- {_page_line(p)}" for p in shown]
        if len(shown) < len(s.pages):
            out.append(f"- … and {_plural(len(s.pages) - len(shown), 'more page')} (archiver digest {s.site})")
        out += ["", "Snapshots:"]
        out += [f"- {when(x.date)} `{x.sha[:10]}` {x.subject}" for x in s.snapshots]
        if s.rules_snapshots:
            out.append(f"- ({_plural(s.rules_snapshots, 're-render')} under new rules, not counted above)")
        out.append("")
    if d.unchanged and not d.empty:
        out += ["", f"Unchanged: {', '.join(d.unchanged)}."]
    return "\n".join(out).rstrip() + "\n"


def to_html(d: Digest) -> str:
    """The digest as one standalone HTML page, everything escaped (no scripts, no outside links)."""
    body = [f"<h1>{esc(title(d))}</h1>"]
    if d.empty:
        body.append(f"<p>No site changed in this period (searched: {esc(', '.join(d.unchanged) or 'no sites')}).</p>")
    for s in d.sites:
        body.append(f"<h2>{esc(s.site)}: {esc(_site_summary(s))}</h2>")
        body.append("<ul>" + "".join(f"<li>{esc(_page_line(p))}</li>" for p in s.pages) + "</ul>")
        snaps = "".join(
            f"<li>{esc(when(x.date))} <code>{esc(x.sha[:10])}</code> {esc(x.subject)}</li>" for x in s.snapshots
        )
        body.append(f"<h3>Snapshots</h3><ul>{snaps}</ul>")
        if s.rules_snapshots:
            body.append(f"<p>{esc(_plural(s.rules_snapshots, 're-render'))} under new rules, not counted above.</p>")
    if d.unchanged and not d.empty:
        body.append(f"<p>Unchanged: {esc(', '.join(d.unchanged))}.</p>")
    return page(title(d), "\n".join(body), root="", crumbs=[])


def to_json(d: Digest) -> str:
    """The digest as JSON: the period, each site (snapshots, pages with lines and sections, totals)."""
    sites = [
        {
            "site": s.site,
            "snapshots": [asdict(x) for x in s.snapshots],
            "pages": [asdict(p) for p in s.pages],
            "pages_added": s.count("added"),
            "pages_changed": s.count("changed"),
            "pages_removed": s.count("removed"),
            "lines_added": s.added,
            "lines_removed": s.removed,
            "rules_snapshots": s.rules_snapshots,
        }
        for s in d.sites
    ]
    data = {"since": d.since, "until": d.until, "sites": sites, "unchanged": d.unchanged}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"
