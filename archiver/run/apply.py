"""What a run does with each page's outcome, in the main process: write, move or remove its file,
and update its state.

A page that fails keeps its file; a page that had content and comes back (nearly) empty is a
failure, not a change; a redirect inside the site moves the file to the final URL's path; a
404/410, or a page discovery no longer finds, is removed only after ``remove_after`` runs.
"""

from __future__ import annotations

import dataclasses
import re
import time
from urllib.parse import urlsplit

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import BodyStore, PageState, SiteState
from archiver.config import Site
from archiver.convert import apispec
from archiver.models import OutcomeKind, PageJob, PageOutcome, PageResult, PageStatus, SiteReport
from archiver.paths import binary_path, page_key, relative_path, spec_file

NEAR_EMPTY_AFTER = 80  # characters: a page that comes back with fewer than this (and a tenth) is refused


def read_text(repo: ArchiveRepo, site: str, rel: str) -> str | None:
    data = repo.read_page(site, rel)
    return None if data is None else data.decode("utf-8", errors="replace")


def _content_length(markdown: str) -> int:
    """Characters of text after the front matter (how much page there is)."""
    if markdown.startswith("---\n"):
        end = markdown.find("\n---\n", 4)
        markdown = markdown[end + 5 :] if end >= 0 else markdown
    return len(markdown.strip())


def _came_back_empty(before: int, after: int) -> bool:
    """A page that had content and now has (almost) none is a broken deploy, not a change: under a
    tenth of what it had (at most NEAR_EMPTY_AFTER characters), or nothing at all for a short page."""
    return before > 0 and after < max(1, min(NEAR_EMPTY_AFTER, before // 10))


_MAINTENANCE = re.compile(
    r"\b(down for maintenance|under maintenance|scheduled maintenance|temporarily unavailable|"
    r"service unavailable|be right back|we will be back soon|we'll be back soon)\b",
    re.IGNORECASE,
)
MAINTENANCE_MAX = 600  # characters: a maintenance notice is short; a page that discusses one is not


def refusal(old: str | None, new: str) -> str | None:
    """Why the Markdown ``new`` must not replace ``old`` (the page's file), or None to accept it.

    Every path that writes a page (a fetch, a re-render under new rules) asks this.
    """
    after = _content_length(new)
    if old is None:  # a first version: a blank body or a maintenance notice is no snapshot either
        if after == 0 and not new.startswith("---\ntitle: "):  # (an empty page with a title is kept:
            return "is blank; it is archived once it has content"  # a search page filled in by JS)
        if after < MAINTENANCE_MAX and _MAINTENANCE.search(new):
            return "is a maintenance notice; it is archived once the page is back"
        return None
    if _came_back_empty(_content_length(old), after):
        return "came back (nearly) empty; the last snapshot is kept"
    if after < MAINTENANCE_MAX and _MAINTENANCE.search(new) and not _MAINTENANCE.search(old):
        return "came back as a maintenance notice; the last snapshot is kept"
    return None


def _validators_stayed(job: PageJob, outcome: PageOutcome) -> bool:
    """A new body under the validators of the old one: asked with them, the server would have
    answered 304 and hidden the change."""
    if job.body_hash is None or outcome.body_hash == job.body_hash:
        return False
    return bool(job.etag and outcome.etag == job.etag) or bool(
        job.last_modified and outcome.last_modified == job.last_modified and not job.etag
    )


class Applier:
    """The mutable state of one site's run: what it found, wrote and decided (main process only).

    ``mapping`` is every listed URL and its natural file; ``pages`` collects the state to keep.
    """

    def __init__(
        self,
        site: Site,
        repo: ArchiveRepo,
        state: SiteState,
        mapping: dict[str, str],
        report: SiteReport,
        bodies: BodyStore | None = None,
        now: float | None = None,
    ) -> None:
        self.site, self.repo, self.state, self.mapping = site, repo, state, mapping
        self.report = report  # where the results go
        self.bodies = bodies  # the raw bodies: a converted one is kept only if its page is accepted
        self.stray_runs: dict[str, int] = {}  # file -> runs in a row no page accounted for it
        self.pages: dict[str, PageState] = {}
        self.keys = {page_key(site.base_url, u): u for u in mapping}
        self.owner: dict[str, str] = {}  # file path -> the listed URL archived in it (see claim)
        self.switched: list[PageOutcome] = []  # pages whose source changed, applied after the docs commit
        self.converted: set[str] = set()  # URLs whose file this run wrote (or kept) from a new body
        # when the run's full bodies count as verified (PageState.verified)
        self.now = time.time() if now is None else now
        self.lying: set[str] = set()  # hosts whose validators stayed while a page changed
        self.hand_listed = set(site.page_urls())

    def claim(self, jobs: list[PageJob]) -> None:
        # a URL owns its own natural path first; a page that moved owns its new path if nobody does
        self.owner = {rel: url for url, rel in self.mapping.items()}
        for job in jobs:
            self.owner.setdefault(job.path, job.url)

    def remove(self, url: str, path: str) -> bool:
        """Remove ``url``'s file, unless another listed page lives in it now (after a move)."""
        if self.owner.get(path, url) != url:
            return False
        return self.repo.remove_page(self.site.name, path)

    def target(self, job: PageJob, final_url: str | None) -> tuple[str | None, str | None]:
        """Where the page's file belongs after redirects: (path, error). Moves stay in the site."""
        if not final_url or final_url == job.url:
            return job.path, None
        if not final_url.startswith(self.site.base_url):
            return None, f"redirects off-site to {final_url}; not followed into the archive"
        key = page_key(self.site.base_url, final_url)
        if key == page_key(self.site.base_url, job.url):
            return job.path, None
        owner = self.keys.get(key)
        if owner is not None:
            return self.mapping[owner], None  # the page it moved to is listed itself: one file
        rel = relative_path(self.site.base_url, final_url)
        taken = set(self.mapping.values()) - {job.path}
        return (job.path if rel in taken else rel), None

    def add(self, mapping: dict[str, str]) -> None:
        """Pages that join the run after the first fetches (the API specs its pages load)."""
        self.mapping.update(mapping)
        self.keys.update({page_key(self.site.base_url, u): u for u in mapping})
        for url, rel in mapping.items():
            self.owner.setdefault(rel, url)

    def apply(self, outcome: PageOutcome, links: list[str] | None) -> PageResult:
        """Write, move or remove one page's file according to its outcome; update its state."""
        result = self._apply(outcome, links)
        if self.bodies is not None and outcome.kind is OutcomeKind.CONVERTED:
            if result.status in (PageStatus.FAILED, PageStatus.SKIPPED):
                self.bodies.discard(outcome.job.url)
            else:
                self.bodies.accept(outcome.job.url)
        return result

    def _apply(self, outcome: PageOutcome, links: list[str] | None) -> PageResult:
        job = outcome.job
        ps = self.pages[job.url] = self.state.pages.get(job.url) or PageState()
        ps.path = ps.path or job.path
        if links is not None:
            ps.links = links
        runs_gone = ps.gone  # (a page that answers is no longer gone: _outcome resets the count)
        result = self._outcome(outcome, ps)
        return result if job.listed else self.still_unlisted(job, ps, result, runs_gone)

    def _outcome(self, outcome: PageOutcome, ps: PageState) -> PageResult:
        job, kind = outcome.job, outcome.kind
        if kind is OutcomeKind.FAILED:
            return self.failed(job, ps, outcome.error or "failed")
        if kind is OutcomeKind.SKIPPED:
            ps.status = PageStatus.SKIPPED.value
            return PageResult(job.url, job.path, PageStatus.SKIPPED, outcome.error)
        if kind is OutcomeKind.BINARY:
            return self.keep_bytes(outcome, ps)
        if kind is OutcomeKind.GONE:
            return self.gone(outcome, ps)
        if kind is OutcomeKind.SHELL:  # (run/render.py renders every one first; never written as it is)
            return self.failed(job, ps, f"{job.url}: an app shell that was not rendered")
        return self.keep_page(outcome, ps)

    def gone(self, outcome: PageOutcome, ps: PageState) -> PageResult:
        """A 404/410: counted, and the file removed once it has been gone ``remove_after`` runs; a
        page listed by hand that was never archived is a failure (a typo in ``pages:``)."""
        job = outcome.job
        never_archived = ps.status in (None, PageStatus.FAILED.value, PageStatus.SKIPPED.value)
        if job.url in self.hand_listed and never_archived and not self.repo.has_page(self.site.name, job.path):
            return self.failed(job, ps, f"{job.url}: {outcome.error}: check the URL in pages: (never archived)")
        ps.gone += 1
        ps.failures, ps.error = 0, None
        ps.forget_validators()
        status = PageStatus.GONE
        if ps.gone >= self.site.remove_after and self.remove(job.url, job.path):
            status = PageStatus.REMOVED
        ps.status = status.value
        return PageResult(job.url, job.path, status, f"gone: {outcome.error}")

    def keep_page(self, outcome: PageOutcome, ps: PageState) -> PageResult:
        """A page that answered: its Markdown written (or kept) under the path its final URL gives."""
        site, repo, job, kind = self.site, self.repo, outcome.job, outcome.kind
        target, error = self.target(job, outcome.final_url)
        if target is None:
            return self.failed(job, ps, f"{job.url}: {error}")
        if kind is OutcomeKind.CONVERTED and outcome.spec:  # an API spec: kept as YAML (paths.spec_path)
            target = spec_file(job.url, target, {u: r for u, r in self.mapping.items() if u != job.url})
        old = markdown = None  # unchanged and in place: its file is not read back (20,000 reads a run)
        if kind is OutcomeKind.CONVERTED or target != job.path:
            old = read_text(repo, site.name, job.path)
            markdown = outcome.markdown if kind is OutcomeKind.CONVERTED else old
        problem = refusal(old, markdown) if markdown is not None else None
        if problem and old is None:  # nothing to keep yet: not a failure, and nothing written
            ps.status = PageStatus.SKIPPED.value
            return PageResult(job.url, job.path, PageStatus.SKIPPED, problem)
        if problem:
            return self.failed(job, ps, f"{job.url}: {problem}")
        ps.failures, ps.gone, ps.error = 0, 0, None
        ps.etag, ps.last_modified, ps.body_hash = outcome.etag, outcome.last_modified, outcome.body_hash
        ps.twin, ps.content_type = outcome.twin, outcome.content_type or ps.content_type
        if kind is OutcomeKind.CONVERTED:
            ps.rendered = outcome.rendered
            ps.blocks = list(outcome.blocks) if outcome.blocks is not None else None
            ps.specs = list(outcome.specs) or None
            self.converted.add(job.url)
            if not job.conditional and _validators_stayed(job, outcome):
                self.lying.add(urlsplit(job.url).netloc)
        if kind in (OutcomeKind.CONVERTED, OutcomeKind.SAME_BODY):
            ps.verified = self.now
            ps.twin_url = outcome.twin_url
        status = PageStatus.UNCHANGED
        if markdown is not None and (kind is OutcomeKind.CONVERTED or target != job.path):
            status = repo.write_page(site.name, target, markdown)
            if outcome.spec and (status is not PageStatus.UNCHANGED or target != job.path):
                self.api_changes(target, old, markdown)
        ps.path = target
        self.owner.setdefault(target, job.url)
        if target != job.path and self.remove(job.url, job.path):
            ps.status = PageStatus.MOVED.value
            why = (
                f"redirects to {outcome.final_url}" if outcome.final_url not in (None, job.url) else "API spec as YAML"
            )
            return PageResult(
                job.url, target, PageStatus.MOVED, f"moved from {job.path} ({why})", rendered=outcome.rendered
            )
        ps.status = status.value
        # error: a note, e.g. "stored as text"
        return PageResult(job.url, target, status, outcome.error, rendered=outcome.rendered)

    def api_changes(self, path: str, old: str | None, new: str) -> None:
        """What changed in the API of the spec written to ``path`` (for the commit message)."""
        changes = apispec.compare(old, new)
        if changes:
            self.report.api[path] = changes
        else:
            self.report.api.pop(path, None)

    @staticmethod
    def failed(job: PageJob, ps: PageState, error: str) -> PageResult:
        """A failure: counted in the page's state, and its file (the last good snapshot) kept."""
        ps.failures += 1
        ps.error = error
        ps.status = PageStatus.FAILED.value
        return PageResult(job.url, job.path, PageStatus.FAILED, error)

    def keep_bytes(self, outcome: PageOutcome, ps: PageState) -> PageResult:
        """Store what is not a page as it came (``store_binary``), under the URL's own file name."""
        job = outcome.job
        assert outcome.body is not None
        target = binary_path(job.path)
        status = self.repo.write_bytes(self.site.name, target, outcome.body)
        if target != job.path:  # it used to be a page: its Markdown goes
            self.remove(job.url, job.path)
        self.owner.setdefault(target, job.url)
        ps.failures, ps.gone, ps.error = 0, 0, None
        ps.etag, ps.last_modified, ps.body_hash = outcome.etag, outcome.last_modified, outcome.body_hash
        ps.content_type, ps.path, ps.status = outcome.content_type, target, status.value
        ps.verified = self.now
        return PageResult(job.url, target, status)

    def still_unlisted(self, job: PageJob, ps: PageState, result: PageResult, runs_gone: int) -> PageResult:
        """A page discovery no longer finds, fetched by its URL: its run counts towards removal
        (a 404 counted already), and once ``remove_after`` runs have passed its file goes, unless this
        run brought a new version (archived now, removed the next run)."""
        if result.status is PageStatus.REMOVED:  # a 404 that reached remove_after: forgotten
            self.pages.pop(job.url, None)
        if result.status in (PageStatus.GONE, PageStatus.REMOVED):
            return result
        ps.gone = runs_gone + 1
        runs = f"{ps.gone} of {self.site.remove_after} runs before removal"
        if result.status in (PageStatus.ADDED, PageStatus.CHANGED):
            return dataclasses.replace(result, error=f"no longer listed ({runs}); its last version is archived")
        if ps.gone >= self.site.remove_after and self.remove(job.url, result.path):
            self.pages.pop(job.url, None)
            return PageResult(job.url, result.path, PageStatus.REMOVED, "no longer listed")
        # (a page nobody links to that fails to answer is no failure of the site's run)
        failed = f"; fetching it failed: {result.error}" if result.status is PageStatus.FAILED else ""
        ps.status = PageStatus.GONE.value
        return PageResult(job.url, result.path, PageStatus.GONE, f"no longer listed ({runs}){failed}")

    def unlisted(self) -> None:
        """Pages the last run had that discovery no longer finds, and that were not fetched (see
        still_unlisted): removed after ``remove_after`` runs."""
        for url, ps in sorted(self.state.pages.items()):
            if url in self.mapping or url in self.pages or not ps.path:
                continue
            ps.gone += 1
            if ps.gone >= self.site.remove_after:
                if self.remove(url, ps.path):
                    self.report.results.append(
                        PageResult(url, ps.path, PageStatus.REMOVED, "no longer listed", fetched=False)
                    )
                continue
            self.pages[url] = ps  # remembered until it is removed (or comes back)
            if self.repo.has_page(self.site.name, ps.path):
                why = f"no longer listed ({ps.gone} of {self.site.remove_after} runs before removal)"
                self.report.results.append(PageResult(url, ps.path, PageStatus.GONE, why, fetched=False))

    def strays(self, archived: set[str]) -> None:
        """Files no page accounts for (the state was lost, or a file was added by hand): like an
        unlisted page, one is removed after ``remove_after`` runs in a row (counted in
        ``stray_runs``), so a lost state never deletes a page that only one run did not find."""
        claimed = {ps.path for ps in self.pages.values() if ps.path} | {r.path for r in self.report.results}
        claimed |= {o.job.path for o in self.switched}  # (written after the docs commit)
        for rel in sorted(archived - claimed):
            runs = self.state.strays.get(rel, 0) + 1
            if runs >= self.site.remove_after:
                if self.repo.remove_page(self.site.name, rel):
                    result = PageResult("", rel, PageStatus.REMOVED, "no longer listed", fetched=False)
                    self.report.results.append(result)
                continue
            self.stray_runs[rel] = runs
            why = f"no page lists it ({runs} of {self.site.remove_after} runs before removal)"
            self.report.results.append(PageResult("", rel, PageStatus.GONE, why, fetched=False))
