"""The site's chrome, decided at the end of each run from what its pages have in common.

Each converted page leaves the prints of its chrome-like blocks in its state (convert/chrome.py).
After a site's pages are fetched, :func:`decide` counts them over every HTML page archived and
names the new chrome from a stored body. When the decision changes (the first run, a menu item
added to every page, a banner put up or taken down):

* the pages this run converted are converted again under the new decision before the run's commit
  (:func:`reconvert`, in the worker processes, from the bodies just stored), so a menu edit that
  touched every page's HTML changes no page's Markdown;
* the pages it did not convert are re-rendered after that commit, in a commit of their own marked
  ``Change-Kind: rules`` (run/rerender.py).

How the chrome changed is said in the run's notes and in the commit message, so a change to the
site's menu is still recorded, once, instead of in every page.
"""

from __future__ import annotations

import dataclasses
import logging

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import BodyStore, PageState
from archiver.config import Site
from archiver.convert import chrome
from archiver.convert.page import block_texts
from archiver.errors import ConvertError
from archiver.models import FetchedPage, OutcomeKind, PageJob, PageOutcome, PageStatus
from archiver.run.apply import Applier
from archiver.run.worker import execute, rules_of
from archiver.text import one_line

logger = logging.getLogger(__name__)

EXCERPT = 72  # characters of a chrome block's text named in notes and commit messages


def decide(site: Site, repo: ArchiveRepo, pages: dict[str, PageState], before: dict[str, str]) -> dict[str, str]:
    """The site's chrome after this run: print -> the start of its text (named from a stored body)."""
    archived = {url: ps for url, ps in pages.items() if ps.blocks is not None and ps.path}
    prints = chrome.decide((ps.blocks or () for ps in archived.values()), before)
    out = {p: before[p] for p in prints if p in before}
    wanted = prints - set(out)
    bodies = BodyStore(repo.bodies_dir(site.name))
    rules = rules_of(site)
    for url, ps in sorted(archived.items()):
        if not wanted:
            break
        if not wanted & set(ps.blocks or ()):
            continue
        body = bodies.get(url)
        if body is None:
            continue
        try:
            texts = block_texts(body, ps.body_type, url, rules)
        except ConvertError:
            continue
        for p in wanted & set(texts):
            text = texts[p]
            out[p] = text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"
        wanted -= set(texts)
    for p in wanted:  # no stored body holds it any more: still chrome, just nameless
        out[p] = ""
    return dict(sorted(out.items()))


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """How the chrome changed, a line per block: ``+ "Home About Docs…"`` (now left out of every
    page), ``- "…"`` (kept again)."""
    lines = [f'+ "{after[p]}"' for p in sorted(set(after) - set(before), key=lambda p: after[p])]
    lines += [f'- "{before[p]}"' for p in sorted(set(before) - set(after), key=lambda p: before[p])]
    return [one_line(line) for line in lines]


def touched(pages: dict[str, PageState], before: dict[str, str], after: dict[str, str]) -> set[str]:
    """The pages whose Markdown a change of chrome may change: those holding a block that changed."""
    changed = set(before) ^ set(after)
    return {url for url, ps in pages.items() if changed & set(ps.blocks or ())}


def reconvert(
    site: Site, repo: ArchiveRepo, work: Applier, urls: set[str], after: dict[str, str], workers: int
) -> None:
    """Convert this run's pages in ``urls`` again, from the bodies just stored, under the chrome
    ``after``; their results then say what changed since the last commit."""
    bodies = BodyStore(repo.bodies_dir(site.name))
    jobs = []
    for url in sorted(urls):
        ps = work.pages[url]
        body = bodies.get(url)
        if body is not None and ps.path:
            jobs.append(PageJob(url, ps.path, prefetched=FetchedPage(url, url, 200, ps.body_type, body)))
    logger.info("%s: the site's chrome changed; converting %d pages again without it", site.name, len(jobs))

    def write(outcome: PageOutcome) -> None:
        if outcome.kind is OutcomeKind.CONVERTED and outcome.markdown is not None:
            repo.write_page(site.name, outcome.job.path, outcome.markdown)
        else:  # converted a moment ago, so this is no news: the page keeps what was written
            logger.warning("%s: converting %s again failed: %s", site.name, outcome.job.url, outcome.error)

    execute(site, jobs, workers, write, None, frozenset(after))
    _restate(site, repo, work, urls)


def _restate(site: Site, repo: ArchiveRepo, work: Applier, urls: set[str]) -> None:
    """The results of ``urls`` say again what changed since the last commit (git's view)."""
    dirty = {entry[3:]: entry[:2] for entry in repo.dirty(site.name)}
    comparable = (PageStatus.ADDED, PageStatus.CHANGED, PageStatus.UNCHANGED)
    for i, result in enumerate(work.report.results):
        if result.url not in urls or result.status not in comparable:
            continue
        code = dirty.get(f"{site.name}/{result.path}")
        status = PageStatus.UNCHANGED if code is None else PageStatus.ADDED if "?" in code else PageStatus.CHANGED
        work.report.results[i] = dataclasses.replace(result, status=status)
        work.pages[result.url].status = status.value
