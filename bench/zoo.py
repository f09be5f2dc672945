"""The generator zoo: real docs sites from Debian's docs packages, each built by another generator,
served on 127.0.0.1, crawled from its start page and archived twice (issue 10, item 5).

Not a test and not run by CI. Per site it prints: pages archived, pages failed, near-empty pages,
lines that recur on more than half of the pages (chrome that leaked: menus, footers; headings and
quote markers aside), code lines
lost (a line of a ``<pre>`` that is not in the Markdown with its indentation), and commits made by
the second run (nothing changed, so anything but 0 is noise). The target is 0 in every column but
pages.

    .venv/bin/python bench/zoo.py [--only python,git] [--max-pages N]

Missing packages are installed with apt-get (root needed). Everything goes to bench/out/zoo/.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import lxml.html

from archiver.demo.localserver import StaticServer

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "zoo"
ARCHIVER = HERE.parent / ".venv" / "bin" / "archiver"
# name: (Debian package, folder it installs, start page, generator)
SITES = {
    "python": ("python3.11-doc", "/usr/share/doc/python3.11/html", "index.html", "Sphinx"),
    "requests": ("python-requests-doc", "/usr/share/doc/python-requests-doc/html", "index.html", "Sphinx/alabaster"),
    "mkdocs": ("mkdocs-doc", "/usr/share/doc/mkdocs/html", "index.html", "MkDocs"),
    "git": ("git-doc", "/usr/share/doc/git-doc", "git.html", "AsciiDoc XHTML"),
    "sqlite": ("sqlite3-doc", "/usr/share/doc/sqlite3", "index.html", "hand-made"),
    "gtk": ("libgtk-3-doc", "/usr/share/doc/libgtk-3-doc/gtk3", "index.html", "gtk-doc"),
}
FENCE = re.compile(r"^\s*(?:>\s*)*(`{3,}|~{3,})")


def ensure_installed(names: list[str]) -> None:
    missing = [SITES[n][0] for n in names if not Path(SITES[n][1]).is_dir()]
    if missing:
        print(f"setup: apt-get install {' '.join(missing)}", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, capture_output=True)


def body_lines(md: str) -> list[str]:
    """The Markdown's lines outside the front matter and outside code blocks, without blanks."""
    text = md.split("\n---\n", 1)[1] if md.startswith("---\n") else md
    out, fence = [], None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if m:
            fence = None if fence else m.group(1)
            continue
        if fence is None and line.strip():
            out.append(line.strip())
    return out


def chrome_candidates(lines: list[str]) -> set[str]:
    """Lines that could be chrome: not headings or quote markers (a man page's "## OPTIONS" and a
    note's "> **Note**" recur by design), with some words in them."""
    return {line for line in lines if not line.startswith(("#", ">")) and sum(c.isalpha() for c in line) >= 4}


def code_lines_lost(html: bytes, md: str) -> tuple[int, int]:
    """(code lines in the page's <pre> blocks, those not in the Markdown with their indentation)."""
    try:
        doc = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return 0, 0
    present = set(md.split("\n"))
    total = lost = 0
    for pre in doc.iter("pre"):
        if pre.xpath("ancestor::nav|ancestor::footer|ancestor::*[contains(@class,'linenodiv')]"):
            continue
        for line in pre.text_content().split("\n"):
            line = line.rstrip()
            if not line.strip():
                continue
            total += 1
            if line not in present and not any(
                m.endswith(line) and not m[: len(m) - len(line)].replace(">", "").strip() for m in present
            ):
                lost += 1
    return total, lost


def archive(name: str, max_pages: int) -> dict[str, object]:
    package, root, start, generator = SITES[name]
    work = OUT / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with StaticServer(Path(root)) as server:
        config = work / "sites.yaml"
        config.write_text(
            f"sites:\n  - name: {name}\n    base_url: {server.url}\n"
            f"    crawl: {{start: [{start}], max_pages: {max_pages}}}\n    robots: false\n"
        )
        runs = []
        for _ in range(2):
            done = subprocess.run(
                [str(ARCHIVER), "run", "--config", str(config), "--repo", str(work / "repo"), "--json"],
                capture_output=True,
                text=True,
                timeout=3600,
            )
            runs.append(json.loads(done.stdout))
    site = runs[0]["sites"][0]
    files = sorted((work / "repo" / name).rglob("*.md"))
    texts = {f: f.read_text(encoding="utf-8", errors="replace") for f in files}
    near_empty = sum(1 for t in texts.values() if len("\n".join(body_lines(t))) < 80)
    seen = collections.Counter(line for t in texts.values() for line in chrome_candidates(body_lines(t)))
    recurring = sorted(line for line, n in seen.items() if n > len(texts) / 2 and len(texts) >= 4)
    total = lost = 0
    for text in texts.values():
        source = re.search(r"^source: (.+)$", text, re.M)
        if source:
            html = Path(root) / source.group(1).removeprefix(server.url)
            if html.is_file():
                t, miss = code_lines_lost(html.read_bytes(), text)
                total, lost = total + t, lost + miss
    return {
        "site": name,
        "generator": generator,
        "pages": len(files),
        "failed": len(site["failures"]),
        "near_empty": near_empty,
        "recurring": len(recurring),
        "recurring_examples": recurring[:3],
        "code_lines": total,
        "code_lost": lost,
        "rerun_commits": int(runs[1]["sites"][0]["commit"] is not None),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(SITES))
    p.add_argument("--max-pages", type=int, default=3000)
    args = p.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    ensure_installed(names)
    rows = [archive(n, args.max_pages) for n in names]
    head = f"{'site':<10}{'generator':<18}{'pages':>7}{'failed':>8}{'near-empty':>12}{'recurring':>11}"
    print(head + f"{'code lines':>12}{'lost':>7}{'re-run commits':>16}")
    for r in rows:
        print(
            f"{r['site']:<10}{r['generator']:<18}{r['pages']:>7}{r['failed']:>8}{r['near_empty']:>12}"
            f"{r['recurring']:>11}{r['code_lines']:>12}{r['code_lost']:>7}{r['rerun_commits']:>16}"
        )
    for r in rows:
        if r["recurring_examples"]:
            print(f"  {r['site']}: recurring e.g. {r['recurring_examples']}")
    (OUT / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
