"""``archiver demo``: the whole idea, offline, in one command.

Serves a small bundled docs site (``site/v1``, ``site/v2``) at two versions on 127.0.0.1, archives version 1, then
version 2 (a parameter renamed, a limit lowered, a page removed and one added; every page's
build stamp and asset hashes changed too), into a repository, and hands back the snapshots.
"""

from __future__ import annotations

from pathlib import Path

from archiver.archive.repo import ArchiveRepo
from archiver.config import Config, Site
from archiver.demo.localserver import StaticServer
from archiver.models import SiteReport
from archiver.run.pipeline import Progress
from archiver.run.publish import archive_sites

DEMO_ROOT = Path(__file__).parent / "site"
# what each version serves, listed as its user would (a page listed that is not there is a failure)
DEMO_PAGES = {
    "v1": ["index.html", "limits.html", "guide/auth.html", "guide/legacy-keys.html"],
    "v2": ["index.html", "limits.html", "guide/auth.html", "guide/tokens.html"],
}


def run_demo(repo_path: Path, progress: Progress | None = None) -> list[SiteReport]:
    """Archive the demo site's v1 then v2 into ``repo_path``; the two site reports."""
    repo = ArchiveRepo.open_or_init(repo_path)
    reports: list[SiteReport] = []
    with StaticServer(DEMO_ROOT / "v1") as server:
        # remove_after=1: the demo shows a removed page after one run (the default waits for two)
        for version, pages in DEMO_PAGES.items():
            site = Site(name="acme", base_url=server.url, pages=pages, retries=0, remove_after=1)
            server.root = DEMO_ROOT / version
            reports += archive_sites(Config(sites=[site]), repo, workers=1, progress=progress).sites
    return reports
