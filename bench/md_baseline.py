"""markdownify alone: convert every listed HTML file with a multiprocessing Pool; print JSON timings.

Usage: python md_baseline.py FILE_LIST PROCESSES   (FILE_LIST: one path per line)
Run with the project's venv, so that it is the same markdownify the archiver uses.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version
from multiprocessing import Pool
from pathlib import Path

import markdownify


def convert(path: str) -> tuple[str, float, int]:
    html = Path(path).read_text(encoding="utf-8", errors="replace")
    start = time.perf_counter()
    md = markdownify.markdownify(html)
    return path, time.perf_counter() - start, len(md)


def main() -> None:
    files = Path(sys.argv[1]).read_text().split()
    processes = int(sys.argv[2])
    start = time.perf_counter()
    with Pool(processes) as pool:
        results = pool.map(convert, files, chunksize=1)
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "convert_s": elapsed,
                "pages": len(results),
                "markdown_chars": sum(n for _, _, n in results),
                "markdownify_version": version("markdownify"),
                "per_page_s": {path: secs for path, secs, _ in results},
            }
        )
    )


if __name__ == "__main__":
    main()
