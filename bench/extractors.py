"""Could a content-extraction library replace our site-chrome removal on documentation sites?

Not a test and not run by CI. It runs trafilatura (twice: the settings that keep the most, and its
defaults) and readability-lxml (+ markdownify) over fixed samples of real docs sites installed from
Debian's docs packages, read straight from disk, and measures what matters for docs rather than news:

- pages, failed (exception) / empty (no text) outputs;
- code lines lost: every non-blank line of every ``<pre>`` of the page (outside nav/header/footer and
  line-number gutters) must be an output line with the same content and the same indentation relative
  to its block; lines missing altogether and lines with another relative indentation are both lost;
- tables: data tables of the page (>= 2 rows, not layout) against pipe tables in the output;
- admonitions (Note, Warning, See also ... boxes): their title at the start of an output line;
- recurring lines: output lines on more than half of the site's pages (chrome that leaked);
- determinism: each page extracted twice in this process, and once more in a fresh process with
  another hash seed; pages whose outputs differ;
- median milliseconds per page (the extraction call alone, file already read).

Run it with its own venv, never the project's::

    python3.11 -m venv /work/extractors-venv
    /work/extractors-venv/bin/pip install trafilatura readability-lxml markdownify lxml lxml_html_clean
    /work/extractors-venv/bin/python bench/extractors.py [--only sqlite,python] [--max-pages N]

Everything goes to bench/out/extractors/: results.md (the table, how each column is measured, examples),
results.json, and each extractor's output per page under <extractor>/<site>/.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import lxml.html
import markdownify
import trafilatura
from readability import Document

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "extractors"

# name: (folder, glob of the pages under it, sample cap, generator)
SITES: dict[str, tuple[str, str, int, str]] = {
    "sqlite": ("/usr/share/doc/sqlite3", "*.html", 150, "hand-made, site-wide top menu"),
    "python": ("/usr/share/doc/python3.11/html", "library/*.html", 150, "Sphinx"),
    # Debian builds MkDocs' own docs with use_directory_urls off: pages are *.html, only 3 are index.html
    "mkdocs": ("/usr/share/doc/mkdocs/html", "**/*.html", 150, "MkDocs"),
    "git": ("/usr/share/doc/git-doc", "git-*.html", 100, "AsciiDoc XHTML"),
    "gtk": ("/usr/share/doc/libgtk-3-doc/gtk3", "*.html", 100, "gtk-doc"),
}
# pages of a site that are not documentation
SKIP_PAGES = {"404.html", "search.html", "genindex.html"}

# a <pre>, table or admonition in these is chrome, not content: HTML5 sections and their ARIA roles, and
# dialogs (MkDocs' theme has a "Keyboard Shortcuts" table in a modal on every page)
CHROME_ANCESTOR = (
    "ancestor::nav|ancestor::header|ancestor::footer"
    "|ancestor::*[@role='navigation' or @role='banner' or @role='contentinfo' or @role='dialog']"
)
# line-number gutters beside code (gtk-doc's listing_lines cell, Sphinx's linenodiv) are not code
GUTTER_ANCESTOR = "ancestor-or-self::*[contains(@class,'listing_lines') or contains(@class,'linenodiv')]"
# class tokens of an admonition; footnotes, which contain "note", are not admonitions
ADMONITION_TOKENS = {"note", "warning"}
# tables that lay a page out rather than hold data: gtk-doc's navigation bar and code listing frame
LAYOUT_TABLE_CLASSES = {"navigation", "listing_frame"}
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
MD_MARKUP = re.compile(r"[*_`\\]")
# what may stand before an admonition's title at the start of its output line: indentation, quote,
# list and table markers, emphasis
TITLE_LEAD = r"^[\s>*_#|+\-\[(]*"


# --- the extractors --------------------------------------------------------------------------------


def trafilatura_recall(html: bytes) -> str | None:
    """trafilatura with everything that keeps content switched on."""
    return trafilatura.extract(
        html, output_format=TRAFILATURA_FORMAT, include_tables=True, include_formatting=True, favor_recall=True
    )


def trafilatura_defaults(html: bytes) -> str | None:
    """trafilatura as it comes: plain text output, tables included, no formatting."""
    return trafilatura.extract(html)


def readability_markdownify(html: bytes) -> str | None:
    """readability-lxml's main-content HTML, turned into Markdown by markdownify (ATX headings)."""
    return markdownify.markdownify(Document(html).summary(), heading_style="ATX")


# Markdown output came with trafilatura 1.8; older versions only have plain text
TRAFILATURA_FORMAT = "markdown" if tuple(int(p) for p in version("trafilatura").split(".")[:2]) >= (1, 8) else "txt"
EXTRACTORS: dict[str, Callable[[bytes], str | None]] = {
    "trafilatura-recall": trafilatura_recall,
    "trafilatura-default": trafilatura_defaults,
    "readability+md": readability_markdownify,
}
EXTRACTOR_SETTINGS = {
    "trafilatura-recall": f"trafilatura {version('trafilatura')}: extract(html, output_format={TRAFILATURA_FORMAT!r}, "
    "include_tables=True, include_formatting=True, favor_recall=True)",
    "trafilatura-default": f"trafilatura {version('trafilatura')}: extract(html) (output_format='txt')",
    "readability+md": f"readability-lxml {version('readability-lxml')}: "
    f"markdownify {version('markdownify')}.markdownify(Document(html).summary(), heading_style='ATX')",
}


# --- the pages and what they hold ------------------------------------------------------------------


def sample_pages(name: str, cap: int) -> list[Path]:
    """The site's pages, sorted, and when there are more than cap, cap of them evenly spaced (every k-th,
    k = len / cap, not necessarily whole), so that every run takes the same sample."""
    root, pattern, _, _ = SITES[name]
    files = sorted(p for p in Path(root).glob(pattern) if p.is_file() and p.name not in SKIP_PAGES)
    if len(files) <= cap:
        return files
    return [files[i * len(files) // cap] for i in range(cap)]


@dataclass
class Admonition:
    title: str | None  # "Note", "Warning", "See also"; None when the box has no title (gtk-doc's)
    opening: str  # its first words, normalised, to look for when it has no title


@dataclass
class PageFacts:
    """What the original page holds that an extraction must keep."""

    code_blocks: list[list[tuple[str, str]]] = field(default_factory=list)  # (relative indent, rest) per line
    table_rows: list[int] = field(default_factory=list)  # rows of each data table
    admonitions: list[Admonition] = field(default_factory=list)


def parse(html: bytes) -> lxml.html.HtmlElement:
    """The page as lxml sees it; every page of these sites is UTF-8, some with an XML declaration."""
    text = XML_DECLARATION.sub("", html.decode("utf-8", errors="replace"), count=1)
    return lxml.html.document_fromstring(text)


def class_tokens(el: lxml.html.HtmlElement) -> list[str]:
    return (el.get("class") or "").split()


def normalise(text: str) -> str:
    """Text for loose comparison: Markdown links reduced to their text, emphasis and code marks dropped,
    whitespace collapsed."""
    return " ".join(MD_MARKUP.sub("", MD_LINK.sub(r"\1", text)).split())


def code_block(pre: lxml.html.HtmlElement) -> list[tuple[str, str]]:
    """The non-blank lines of a <pre>, rstripped, each split into its indentation relative to the
    block's common indentation and the rest."""
    lines = [line.rstrip() for line in pre.text_content().split("\n") if line.strip()]
    indents = [line[: len(line) - len(line.lstrip())] for line in lines]
    common = os.path.commonprefix(indents) if indents else ""
    return [(indent[len(common) :], line.lstrip()) for indent, line in zip(indents, lines, strict=True)]


def is_data_table(table: lxml.html.HtmlElement) -> bool:
    """A table that holds data: two rows or more, some row with two cells or more, and none of the marks
    of layout (a table or <pre> inside, role=presentation, gtk-doc's navigation or listing frame)."""
    rows = table_rows(table)
    return (
        len(rows) >= 2
        and max(len(row.xpath("./td|./th")) for row in rows) >= 2
        and not table.xpath(".//table|.//pre|" + CHROME_ANCESTOR)
        and table.get("role") not in ("presentation", "none")
        and not LAYOUT_TABLE_CLASSES.intersection(class_tokens(table))
    )


def table_rows(table: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    return table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr")


def is_admonition(el: lxml.html.HtmlElement) -> bool:
    return any(
        t in ADMONITION_TOKENS or (t.startswith("admonition") and t != "admonition-title") for t in class_tokens(el)
    )


def page_facts(html: bytes) -> PageFacts:
    doc = parse(html)
    facts = PageFacts()
    for pre in doc.iter("pre"):
        if not pre.xpath(CHROME_ANCESTOR + "|" + GUTTER_ANCESTOR):
            block = code_block(pre)
            if block:
                facts.code_blocks.append(block)
    facts.table_rows = [len(table_rows(t)) for t in doc.iter("table") if is_data_table(t)]
    for el in doc.xpath("//*[@class]"):
        # outermost only: Sphinx's "admonition note" holds a "admonition-title" paragraph
        if not is_admonition(el) or el.xpath(CHROME_ANCESTOR) or any(is_admonition(a) for a in el.iterancestors()):
            continue
        titles = el.xpath(".//*[contains(@class,'title')]")
        title = " ".join(titles[0].text_content().split()).rstrip(":") if titles else None
        opening = " ".join(normalise(el.text_content()).split()[:8])
        facts.admonitions.append(Admonition(title or None, opening))
    return facts


# --- measuring an output against its page ----------------------------------------------------------


def prefix_index(output: str) -> dict[str, list[str]]:
    """Each output line's content after every possible prefix of indentation and quote markers ("> "),
    mapped to those prefixes: content ">>> x" of the line "> >>> x" has the prefix "> "."""
    index: dict[str, list[str]] = collections.defaultdict(list)
    for line in output.split("\n"):
        line = line.rstrip()
        run = len(line) - len(line.lstrip(" \t>"))
        for i in range(run + 1):
            if i == run or line[i] == ">":
                index[line[i:]].append(line[:i])
    return index


def code_losses(blocks: list[list[tuple[str, str]]], output: str) -> tuple[int, list[tuple[str, str]]]:
    """(code lines, the lost ones as (why, line)). A block's lines must sit under one common prefix (the
    output's own indentation or quoting of the block, whatever it is), each with its own relative indent
    after it; the prefix is the one that most of the block's lines agree on."""
    index = prefix_index(output)
    total, lost = 0, []
    for block in blocks:
        # per line: the prefixes its block would have if this output line were it
        bases: list[set[str]] = []
        for indent, rest in block:
            found = index.get(rest, [])
            bases.append({p[: len(p) - len(indent)] for p in found if p.endswith(indent)} if found else set())
        votes = collections.Counter(b for line_bases in bases for b in line_bases)
        base = min(votes, key=lambda b: (-votes[b], len(b), b)) if votes else None
        for (indent, rest), line_bases in zip(block, bases, strict=True):
            total += 1
            if base not in line_bases:
                # in the output but elsewhere / a one-line block made inline code / not there
                why = "reindented" if rest in index else "inlined" if f"`{rest}`" in index else "missing"
                lost.append((why, indent + rest))
    return total, lost


def output_tables(output: str) -> list[int]:
    """The pipe tables of an output: runs of two lines or more that start with "|" (after indentation or
    quote markers); each counted by its rows, separator lines ("|---|") aside."""
    tables, run = [], []
    for line in [*output.split("\n"), ""]:
        stripped = line.lstrip(" \t>")
        if stripped.startswith("|"):
            run.append(stripped)
            continue
        if len(run) >= 2:
            tables.append(sum(1 for r in run if set(r) - set("|-: ")))
        run = []
    return tables


def tables_kept(original: list[int], output: list[int]) -> int:
    """Original tables matched to output tables with at least as many rows, largest first, each output
    table used once: a table flattened to text, or cut to its header, is not kept."""
    free = sorted(output)
    kept = 0
    for rows in sorted(original, reverse=True):
        match = next((i for i, n in enumerate(free) if n >= rows), None)
        if match is not None:
            free.pop(match)
            kept += 1
    return kept


def admonitions_kept(admonitions: list[Admonition], output: str) -> list[Admonition]:
    """The admonitions lost. One with a title is kept while its title starts as many output lines as the
    page has boxes with that title (per title, approximate: a paragraph may start with "Note" too); one
    without a title is kept when its opening words are in the output."""
    lost = []
    flat = normalise(output)
    by_title = collections.Counter(a.title for a in admonitions if a.title)
    for title, count in by_title.items():
        found = len(re.findall(TITLE_LEAD + re.escape(title) + r"\b", output, flags=re.MULTILINE))
        lost += [a for a in admonitions if a.title == title][: max(0, count - found)]
    lost += [a for a in admonitions if not a.title and a.opening not in flat]
    return lost


def candidate_lines(output: str, titles: set[str]) -> set[str]:
    """Output lines that could be chrome: not blank, not headings, 4 characters or more, with a letter, and
    not an admonition title of the site (a table rule "|---|---|" and a "Note" recur by design)."""
    lines = (line.strip() for line in output.split("\n"))
    return {
        line
        for line in lines
        if len(line) >= 4
        and not line.startswith("#")
        and any(c.isalpha() for c in line)
        and normalise(line).strip(" >:") not in titles
    }


# --- running ----------------------------------------------------------------------------------------


def extract_all(extractor: str, paths: list[str]) -> list[tuple[str | None, str | None, float]]:
    """One pass of an extractor over the pages: (output, error, seconds) each."""
    func = EXTRACTORS[extractor]
    results = []
    for path in paths:
        html = Path(path).read_bytes()
        start = time.perf_counter()
        try:
            output, error = func(html), None
        except Exception as exc:  # an extractor's failure is a result, not a crash of the benchmark
            output, error = None, f"{type(exc).__name__}: {exc}"
        results.append((output, error, time.perf_counter() - start))
    return results


def extract_in_fresh_process(extractor: str, paths: list[str]) -> list[tuple[str | None, str | None, float]]:
    """The same pass in a newly spawned interpreter with a hash seed of its own, as another run of the
    archiver would be: catches output that depends on set or dict order of hashed strings."""
    seed = "4242" if os.environ.get("PYTHONHASHSEED") != "4242" else "4243"
    saved = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = seed
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(extract_all, (extractor, paths))
    finally:
        if saved is None:
            del os.environ["PYTHONHASHSEED"]
        else:
            os.environ["PYTHONHASHSEED"] = saved


def measure(site: str, extractor: str, pages: list[Path], facts: dict[Path, PageFacts]) -> dict[str, object]:
    """Every column of one row, plus examples of what was lost."""
    root = Path(SITES[site][0])
    paths = [str(p) for p in pages]
    first = extract_all(extractor, paths)
    second = extract_all(extractor, paths)
    fresh = extract_in_fresh_process(extractor, paths)
    out_dir = OUT / extractor.replace("+", "-") / site
    row: dict[str, object] = {"site": site, "extractor": extractor, "pages": len(pages)}
    failed, empty, nondet_same, nondet_fresh = [], [], [], []
    code_total = code_lost = reindented = inlined = tables_orig = tables_ok = adm_orig = adm_lost_total = 0
    lost_code: list[tuple[int, str]] = []  # (lines lost, description) per page
    lost_tables: list[str] = []
    lost_adm: list[str] = []
    line_pages: collections.Counter[str] = collections.Counter()
    titles = {a.title for f in facts.values() for a in f.admonitions if a.title}
    for page, (output, error, _), again, other in zip(pages, first, second, fresh, strict=True):
        rel = str(page.relative_to(root))
        text = output or ""
        target = out_dir / (rel + ".md")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text if error is None else f"ERROR {error}\n", encoding="utf-8")
        if error is not None:
            failed.append(f"{rel}: {error}")
        elif not text.strip():
            empty.append(rel)
        f = facts[page]
        total, lost = code_losses(f.code_blocks, text)
        code_total += total
        code_lost += len(lost)
        reindented += sum(1 for why, _ in lost if why == "reindented")
        inlined += sum(1 for why, _ in lost if why == "inlined")
        if lost:
            why, line = lost[0]
            lost_code.append((len(lost), f"{rel}: {len(lost)}/{total} lost, first {why}: {line[:100]!r}"))
        out_tables = output_tables(text)
        kept = tables_kept(f.table_rows, out_tables)
        tables_orig += len(f.table_rows)
        tables_ok += kept
        if kept < len(f.table_rows):
            lost_tables.append(f"{rel}: kept {kept}/{len(f.table_rows)} (rows {f.table_rows[:6]} -> {out_tables[:6]})")
        adm_lost = admonitions_kept(f.admonitions, text)
        adm_orig += len(f.admonitions)
        adm_lost_total += len(adm_lost)
        if adm_lost:
            a = adm_lost[0]
            what = repr(a.title) if a.title else f"untitled {a.opening[:60]!r}"
            lost_adm.append(f"{rel}: lost {len(adm_lost)}/{len(f.admonitions)}, e.g. {what}")
        line_pages.update(candidate_lines(text, titles))
        # outputs compared as they are, None (nothing extracted) and errors included
        if again[:2] != (output, error):
            nondet_same.append(rel)
        if other[:2] != (output, error):
            nondet_fresh.append(rel)
    recurring = sorted(
        (line for line, n in line_pages.items() if n > len(pages) / 2), key=lambda s: (-line_pages[s], s)
    )
    row.update(
        {
            "failed": len(failed),
            "empty": len(empty),
            "code_lines": code_total,
            "code_lost": code_lost,
            "code_reindented": reindented,
            "code_inlined": inlined,
            "tables": tables_orig,
            "tables_kept": tables_ok,
            "admonitions": adm_orig,
            "admonitions_kept": adm_orig - adm_lost_total,
            "recurring": len(recurring),
            "recurring_examples": [f"{s[:100]} ({line_pages[s]}/{len(pages)})" for s in recurring[:5]],
            "nondet_same_process": len(nondet_same),
            "nondet_fresh_process": len(nondet_fresh),
            "ms_median": 1000 * statistics.median(s for _, _, s in first) if first else 0.0,
            "s_total": sum(s for _, _, s in first),
            "examples": {
                "failed": failed[:5],
                "empty": empty[:5],
                "code": [text for _, text in sorted(lost_code, key=lambda e: -e[0])[:5]],
                "tables": lost_tables[:5],
                "admonitions": lost_adm[:5],
                "nondeterministic": (nondet_same + nondet_fresh)[:5],
            },
        }
    )
    return row


COLUMNS = [
    ("site", 7),
    ("extractor", 20),
    ("pages", 5),
    ("fail/empty", 10),
    ("code lost/total (re/inl)", 24),
    ("tables kept", 11),
    ("admon kept", 10),
    ("recurring", 9),
    ("nondet same/new", 15),
    ("ms/page", 7),
]


def table_lines(rows: list[dict[str, object]]) -> list[str]:
    """The results as a Markdown table, aligned so that it reads in a terminal too."""

    def cells(r: dict[str, object]) -> list[str]:
        return [
            str(r["site"]),
            str(r["extractor"]),
            str(r["pages"]),
            f"{r['failed']}/{r['empty']}",
            f"{r['code_lost']}/{r['code_lines']} ({r['code_reindented']}/{r['code_inlined']})",
            f"{r['tables_kept']}/{r['tables']}",
            f"{r['admonitions_kept']}/{r['admonitions']}",
            str(r["recurring"]),
            f"{r['nondet_same_process']}/{r['nondet_fresh_process']}",
            f"{r['ms_median']:.1f}",
        ]

    def fmt(values: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, (_, w) in zip(values, COLUMNS, strict=True)) + " |"

    lines = [fmt([c for c, _ in COLUMNS]), fmt(["-" * w for _, w in COLUMNS])]
    return lines + [fmt(cells(r)) for r in rows]


METHOD = """\
How each column is measured:

- **pages**: a fixed sample per site: the sorted page list, every k-th page when there are more than the cap
  (k = pages / cap). **fail/empty**: the extractor raised / returned nothing or only whitespace.
- **code lost/total (re/inl)**: every non-blank line (rstripped) of every `<pre>` of the original page, outside
  nav/header/footer/ARIA landmarks/dialogs and line-number gutters. A line is kept when an output line holds the same
  text with the same indentation relative to its block, under the common prefix (indentation, "> ") that most lines of
  the block agree on. Lost = missing or mangled (joined with other lines, escaped), and, counted in too but also shown
  in parentheses, present with another relative indentation (re) or as an inline `code` line (inl).
- **tables kept**: data tables of the original: `<table>` with >= 2 rows, a row with >= 2 cells, no table or `<pre>`
  inside, not in nav/header/footer/landmarks/dialogs, not role=presentation, not gtk-doc's navigation bar or code
  listing frame.
  Output tables: runs of >= 2 lines starting with "|" (after indentation); rows counted without "|---|" rules. An
  original table is kept when an unused output table has at least as many rows (largest tables matched first), so a
  table cut to its header or flattened into text is lost.
- **admon kept**: outermost elements with a class token "note", "warning" or "admonition*" (not footnotes, not
  "admonition-title"). Titled ones ("Note", "Warning", "See also") are kept while the title starts at least as many
  output lines (after indentation, quote, list, table or emphasis marks) as the page has boxes with that title; this
  is generous, a paragraph "Note that ..." counts too. Untitled ones (gtk-doc's deprecation warnings) are kept when
  their first 8 words (links and emphasis marks dropped) are in the output.
- **recurring**: distinct output lines (stripped, not headings, >= 4 characters, with a letter, not one of the site's
  admonition titles) found on more than half of the site's pages: leaked chrome (menus, footers, "Previous topic").
- **nondet same/new**: pages whose output differs between two passes in this process / between the first pass and
  a pass in a freshly spawned interpreter with another PYTHONHASHSEED.
- **ms/page**: median of the extraction call alone (file already read; readability includes markdownify), first pass.
"""


def write_report(rows: list[dict[str, object]], pages_by_site: dict[str, int], elapsed: float) -> str:
    lines = [
        "# Content extractors on docs sites",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/extractors.py`, {os.cpu_count()} CPUs, "
        f"{sum(pages_by_site.values())} pages, {elapsed:.0f} s in all.",
        "",
        *[f"- **{name}**: {EXTRACTOR_SETTINGS[name]}" for name in EXTRACTORS],
        "",
        *[
            f"- **{site}** ({SITES[site][3]}): {n} pages of `{SITES[site][0]}/{SITES[site][1]}`"
            for site, n in pages_by_site.items()
        ],
        "",
        *table_lines(rows),
        "",
        METHOD,
        "## Examples",
        "",
    ]
    for r in rows:
        lines.append(f"### {r['site']} / {r['extractor']}")
        lines.append("")
        examples = r["examples"]
        assert isinstance(examples, dict)
        for key, title in [
            ("failed", "failed"),
            ("empty", "empty"),
            ("code", "code lines lost (worst pages)"),
            ("tables", "tables lost"),
            ("admonitions", "admonitions lost"),
            ("nondeterministic", "output differs between runs"),
        ]:
            for text in examples[key]:
                lines.append(f"- {title}: `{text}`")
        for text in r["recurring_examples"]:  # type: ignore[attr-defined]
            lines.append(f"- recurring: `{text}`")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", help="comma-separated sites: " + ",".join(SITES))
    parser.add_argument("--max-pages", type=int, help="at most this many pages per site (below the site's cap)")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(SITES)
    unknown = [n for n in names if n not in SITES]
    if unknown:
        parser.error(f"unknown site(s): {', '.join(unknown)}")
    missing = [SITES[n][0] for n in names if not Path(SITES[n][0]).is_dir()]
    if missing:
        parser.error(f"not installed: {', '.join(missing)} (apt-get install sqlite3-doc python3.11-doc ...)")

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    start = time.perf_counter()
    rows, pages_by_site = [], {}
    for site in names:
        cap = min(SITES[site][2], args.max_pages or SITES[site][2])
        pages = sample_pages(site, cap)
        pages_by_site[site] = len(pages)
        facts = {p: page_facts(p.read_bytes()) for p in pages}
        for extractor in EXTRACTORS:
            print(f"{site}: {extractor} on {len(pages)} pages ...", file=sys.stderr, flush=True)
            rows.append(measure(site, extractor, pages, facts))
    elapsed = time.perf_counter() - start

    print("\n".join(table_lines(rows)))
    for r in rows:
        if r["recurring_examples"]:
            print(f"recurring {r['site']}/{r['extractor']}: {r['recurring_examples']}")
    print(f"{sum(pages_by_site.values())} pages, {elapsed:.0f} s")
    (OUT / "results.md").write_text(write_report(rows, pages_by_site, elapsed) + "\n", encoding="utf-8")
    (OUT / "results.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"written: {OUT / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
