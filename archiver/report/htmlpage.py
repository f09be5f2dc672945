"""HTML building blocks of the changes report: the page shell, the stylesheet and a file's diff.

Everything that comes from the archive (paths, subjects, page text, URLs) goes through
:func:`esc` or :func:`href`; nothing from archived content is ever emitted raw. Pages carry no
JavaScript: collapsed context is a ``<details>`` element, so they work from ``file://`` too.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from archiver.archive.patch import FileDiff, Line, Segment, pair_changes
from archiver.models import FileStat

CONTEXT = 3  # unchanged lines shown around a change; longer runs are collapsed
MIN_FOLD = 4  # a run this short is shown rather than collapsed
MAX_FOLD_LINES = 400  # a collapsed run longer than this is counted, not included
MAX_CHANGED_LINES = 4000  # a file with more changed lines than this is summarised, not rendered
MAX_CHANGED_CHARS = 1_000_000

# Every colour pair the stylesheet uses, (text, background); tests check each for WCAG AA contrast.
PALETTE: dict[str, tuple[str, str]] = {
    "body": ("#1f2328", "#ffffff"),
    "muted": ("#59636e", "#ffffff"),
    "link": ("#0550ae", "#ffffff"),
    "gutter": ("#59636e", "#f6f8fa"),
    "code": ("#1f2328", "#f6f8fa"),
    "fold": ("#0550ae", "#f6f8fa"),
    "add": ("#1f2328", "#dafbe1"),
    "add-word": ("#1f2328", "#aceebb"),
    "del": ("#1f2328", "#ffebe9"),
    "del-word": ("#1f2328", "#ffcecb"),
    "plus": ("#116329", "#ffffff"),
    "minus": ("#a40e26", "#ffffff"),
    "note": ("#1f2328", "#fff8c5"),
    "badge": ("#59636e", "#eaeef2"),
}


def _c(name: str, part: int) -> str:
    return PALETTE[name][part]


CSS = f"""
*{{box-sizing:border-box}}
body{{margin:0 auto;max-width:80rem;padding:1rem 1.5rem;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;
color:{_c("body", 0)};background:{_c("body", 1)};overflow-wrap:break-word}}
a{{color:{_c("link", 0)}}}
a:focus{{outline:2px solid {_c("link", 0)};outline-offset:2px}}
nav{{font-size:.95rem;margin-bottom:1rem}}
h1{{font-size:1.6rem;line-height:1.25;margin:.5rem 0 .5rem;overflow-wrap:anywhere}}
h2{{font-size:1.25rem;margin:1.75rem 0 .5rem;overflow-wrap:anywhere}}
h3{{font-size:1.05rem;margin:1.25rem 0 .35rem;overflow-wrap:anywhere}}
.muted,.meta,footer{{color:{_c("muted", 0)}}}
.meta{{margin:.25rem 0}}
a.url{{overflow-wrap:anywhere}}
footer{{margin-top:3rem;font-size:.9rem}}
code{{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}}
table.list{{border-collapse:collapse;width:100%}}
table.list th,table.list td{{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #d1d9e0;vertical-align:top}}
table.list td{{overflow-wrap:anywhere}}
table.list .num{{text-align:right;white-space:nowrap}}
.plus{{color:{_c("plus", 0)};font-weight:600}}
.minus{{color:{_c("minus", 0)};font-weight:600}}
.stat{{white-space:nowrap}}
.why{{color:{_c("minus", 0)};font-weight:600}}
.kind{{color:{_c("muted", 0)}}}
ol.strip{{list-style:none;padding:0;margin:.5rem 0 1rem;display:flex;flex-wrap:wrap;gap:.2rem 0;font-size:.95rem}}
ol.strip li{{white-space:nowrap}}
ol.strip li:not(.month):not(:last-child)::after{{content:"·";padding:0 .45rem;color:{_c("muted", 0)}}}
ol.strip li.month{{font-weight:600;padding-right:.5rem}}
ol.strip li.month:not(:first-child){{padding-left:1rem}}
ol.timeline{{list-style:none;padding:0;margin:0}}
ol.timeline>li{{padding:.5rem 0;border-bottom:1px solid #d1d9e0}}
ol.timeline p{{margin:0}}
.time{{font-variant-numeric:tabular-nums;color:{_c("muted", 0)};margin-right:.25rem}}
ul.pages{{list-style:none;margin:.2rem 0 0;padding:0 0 0 1rem;font-size:.95rem}}
p.pages{{font-size:.95rem;color:{_c("muted", 0)}}}
ul.sections{{display:inline;list-style:none;margin:0;padding:0;color:{_c("muted", 0)};font-size:.92rem}}
ul.sections li{{display:inline}}
ul.pages ul.sections::before{{content:" — "}}
ul.sections li+li::before{{content:" · "}}
ol.versions ul.sections{{display:block;margin:.2rem 0}}
.meta ul.sections{{font-size:inherit}}
.badge{{background:{_c("badge", 1)};color:{_c("badge", 0)};font-size:.8rem;padding:.05rem .4rem;
border-radius:1rem;white-space:nowrap}}
.note{{background:{_c("note", 1)};color:{_c("note", 0)};padding:.5rem .75rem;border-radius:4px}}
.spark{{display:inline-flex;align-items:flex-end;gap:2px;height:24px;position:relative;vertical-align:middle}}
.spark a.bar{{display:block;width:7px;background:{_c("link", 0)};border-radius:1px}}
.spark a.bar.rules{{background:#8c959f}}
nav.prevnext{{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem 1.5rem;margin:1rem 0}}
section.file{{margin:1.5rem 0 2rem}}
section.file h3{{margin-bottom:.1rem}}
table.diff{{border-collapse:collapse;width:100%;table-layout:fixed;margin-top:.5rem;
font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}}
table.diff col.ln{{width:4.5em}}
table.diff col.sg{{width:1.6em}}
table.diff td{{padding:0 .4rem;vertical-align:top}}
table.diff td.ln{{text-align:right;color:{_c("gutter", 0)};background:{_c("gutter", 1)};user-select:none}}
table.diff td.tx{{white-space:pre-wrap;overflow-wrap:anywhere;color:{_c("code", 0)}}}
tr.add td.tx,tr.add td.sg{{background:{_c("add", 1)};color:{_c("add", 0)}}}
tr.del td.tx,tr.del td.sg{{background:{_c("del", 1)};color:{_c("del", 0)}}}
ins{{text-decoration:none;background:{_c("add-word", 1)};color:{_c("add-word", 0)};border-radius:2px}}
del{{text-decoration:none;background:{_c("del-word", 1)};color:{_c("del-word", 0)};border-radius:2px}}
details.fold summary{{cursor:pointer;padding:.1rem .6rem;font:13px ui-monospace,monospace;color:{_c("fold", 0)};
background:{_c("fold", 1)}}}
article.md{{max-width:48rem;margin-top:1.5rem}}
article.md pre{{background:{_c("code", 1)};color:{_c("code", 0)};padding:.6rem .8rem;border-radius:4px;overflow-x:auto}}
article.md pre code{{font-size:13px}}
article.md :not(pre)>code{{background:{_c("code", 1)};color:{_c("code", 0)};padding:.05rem .25rem;border-radius:3px}}
article.md blockquote{{margin:1rem 0;padding:0 1rem;border-left:.25rem solid #d1d9e0}}
article.md .scroll{{overflow-x:auto}}
article.md table{{border-collapse:collapse}}
article.md th,article.md td{{border:1px solid #d1d9e0;padding:.3rem .6rem;text-align:left;vertical-align:top}}
article.md .right{{text-align:right}}
article.md .center{{text-align:center}}
.vh{{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}}
@media (max-width:40rem){{
body{{padding:.75rem}}
table.diff col.ln{{width:2.8em}}
table.diff col.sg{{width:1.1em}}
table.diff td{{padding:0 .25rem}}
table.list thead{{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}}
table.list,table.list tbody,table.list tr{{display:block;width:100%}}
table.list tr{{border-bottom:1px solid #d1d9e0;padding:.4rem 0}}
table.list td,table.list .num{{display:inline-block;max-width:100%;border:0;padding:.05rem 1rem .05rem 0;
text-align:left}}
table.list td:first-child{{display:block}}
table.list td[data-label]::before{{content:attr(data-label) ": ";color:{_c("muted", 0)};font-size:.85rem}}
table.list td:first-child::before{{content:none}}
table.list td:empty{{display:none}}
}}
"""


def esc(text: object) -> str:
    """Escape text (and attribute values) for HTML."""
    return html.escape(str(text), quote=True)


def href(target: str) -> str:
    """A relative link to one of the report's own files, percent-encoded and escaped."""
    return esc(quote(target, safe="/#.-_~"))


def safe_url(url: str | None) -> str | None:
    """An external URL fit for ``href``: http(s) only (never ``javascript:``), escaped; else None."""
    if not url or not re.match(r"\Ahttps?://[^\s\"'<>]+\Z", url):
        return None
    return esc(url)


def page(title: str, body: str, *, root: str, crumbs: list[tuple[str, str]], feed: str | None = None) -> str:
    """A whole HTML document: one ``h1`` (in ``body``), breadcrumbs, inline CSS, no scripts."""
    trail = " › ".join(f'<a href="{href(root + target)}">{esc(label)}</a>' for label, target in crumbs)
    alt = f'<link rel="alternate" type="application/atom+xml" title="Atom feed" href="{href(feed)}">' if feed else ""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n{alt}\n<style>{CSS}</style>\n</head>\n<body>\n"
        + (f'<nav aria-label="Breadcrumb">{trail}</nav>\n' if trail else "")
        + f"<main>\n{body}\n</main>\n"
        "<footer>Made by archiver from the archive's git history; every change here is also in <code>git log -p</code>."
        "</footer>\n</body>\n</html>\n"
    )


def thead(*columns: str) -> str:
    """A table head; a column named ``+name`` is right-aligned (numbers)."""
    cells = "".join(
        f'<th scope="col" class="num">{esc(c[1:])}</th>' if c.startswith("+") else f'<th scope="col">{esc(c)}</th>'
        for c in columns
    )
    return f"<thead><tr>{cells}</tr></thead>"


def _segments(parts: list[Segment], tag: str) -> str:
    return "".join(f"<{tag}>{esc(text)}</{tag}>" if changed else esc(text) for text, changed in parts)


def _row(line: Line, words: list[Segment] | None) -> str:
    cls = {" ": "ctx", "+": "add", "-": "del"}[line.kind]
    sign = {" ": "", "+": "+", "-": "-"}[line.kind]
    text = esc(line.text) if words is None else _segments(words, "ins" if line.kind == "+" else "del")
    old = "" if line.old is None else str(line.old)
    new = "" if line.new is None else str(line.new)
    cells = f'<td class="ln">{old}</td><td class="ln">{new}</td><td class="sg">{sign}</td><td class="tx">{text}</td>'
    return f'<tr class="{cls}">{cells}</tr>'


_COLS = '<colgroup><col class="ln"><col class="ln"><col class="sg"><col></colgroup>'
_HEAD = (
    '<thead class="vh"><tr><th scope="col">Old line</th><th scope="col">New line</th>'
    '<th scope="col">Change</th><th scope="col">Text</th></tr></thead>'
)


def _table(rows: list[str], head: bool = False) -> str:
    return f'<table class="diff">{_COLS}{_HEAD if head else ""}<tbody>{"".join(rows)}</tbody></table>'


def too_big(fd: FileDiff) -> bool:
    changed = [line for line in fd.lines if line.kind != " "]
    return len(changed) > MAX_CHANGED_LINES or sum(len(line.text) for line in changed) > MAX_CHANGED_CHARS


def diff_html(fd: FileDiff, stat: FileStat, sha: str) -> str:
    """The diff of one file: gutters with git's line numbers, word highlights, collapsed context."""
    if fd.binary or stat.binary:
        return '<p class="note">Binary file: not shown.</p>'
    if too_big(fd):
        return (
            f'<p class="note">Large change ({stat.added} lines added, {stat.removed} removed): not shown here; '
            f"see <code>git show {esc(sha[:12])} -- {esc(fd.path)}</code>.</p>"
        )
    lines = fd.lines
    if not lines:
        return '<p class="note">No line changes (an empty file, or only its mode changed).</p>'
    words = pair_changes(lines)
    near = [False] * len(lines)
    for i, line in enumerate(lines):
        if line.kind != " ":
            for j in range(max(0, i - CONTEXT), min(len(lines), i + CONTEXT + 1)):
                near[j] = True
    parts: list[str] = []
    rows: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and near[j] == near[i]:
            j += 1
        if near[i] or j - i < MIN_FOLD:
            rows += [_row(lines[k], words.get(k)) for k in range(i, j)]
        else:
            if rows:
                parts.append(_table(rows, head=not parts))
                rows = []
            label = f"{j - i} unchanged lines ({lines[i].new}–{lines[j - 1].new})"
            if j - i > MAX_FOLD_LINES:
                parts.append(f'<p class="muted">{esc(label)}: not shown.</p>')
            else:
                inner = _table([_row(lines[k], None) for k in range(i, j)])
                parts.append(f'<details class="fold"><summary>{esc(label)}</summary>{inner}</details>')
        i = j
    if rows:
        parts.append(_table(rows, head=not parts))
    return "\n".join(parts)
