"""Re-render a site's stored raw bodies under its current rules, without fetching.

Used when a site's ``content``/``strip``/``ignore`` settings (or archiver's converter) changed,
before the run that fetches, and by ``archiver rerender``; its commit is marked
``Change-Kind: rules`` so the docs' own history stays readable.
"""

from __future__ import annotations

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import BodyStore, SiteState, StateStore
from archiver.config import Site
from archiver.convert import apispec, page_markdown
from archiver.errors import ConvertError
from archiver.models import PageResult, PageStatus, SiteReport
from archiver.paths import spec_file
from archiver.run.apply import read_text, refusal
from archiver.run.commits import commit_site
from archiver.run.worker import rules_fingerprint, rules_of


def rerender_site(
    site: Site,
    repo: ArchiveRepo,
    state: SiteState,
    only: set[str] | None = None,
    why: str = "rules",
    chrome: list[str] | None = None,
) -> SiteReport:
    """Re-apply the site's current rules (and its state's chrome) to the stored raw bodies of its
    pages (or of the URLs in ``only``); one commit marked as a rules change, ``why`` saying which
    (``rules``: the settings or the converter, ``chrome``: the blocks left out as the site's chrome,
    which ``chrome`` says how)."""
    report = SiteReport(site.name, chrome=chrome or [])
    bodies = BodyStore(repo.bodies_dir(site.name))
    rules = rules_of(site, frozenset(state.chrome))
    files = {url: ps.path for url, ps in state.pages.items() if ps.path}
    for url, ps in sorted(state.pages.items()):
        if only is not None and url not in only:
            continue
        body = bodies.get(url)
        if not ps.path or body is None or not repo.has_page(site.name, ps.path):
            ps.forget_validators()  # no stored body: fetch it in full next time
            continue
        try:
            converted = page_markdown(body, ps.body_type, url, rules)
        except ConvertError as exc:
            report.results.append(PageResult(url, ps.path, PageStatus.FAILED, f"{url}: {exc}", fetched=False))
            continue
        ps.blocks = list(converted.blocks) if converted.blocks is not None else None
        old = read_text(repo, site.name, ps.path)
        problem = refusal(old, converted.markdown)
        if problem:
            report.results.append(PageResult(url, ps.path, PageStatus.FAILED, f"{url}: {problem}", fetched=False))
            continue
        # an API spec is kept as YAML (an archive from before archiver knew specs has it as JSON)
        path = spec_file(url, ps.path, {u: p for u, p in files.items() if u != url}) if converted.spec else ps.path
        status = repo.write_page(site.name, path, converted.markdown)
        note = None
        if path != ps.path and repo.remove_page(site.name, ps.path):
            status, note = PageStatus.MOVED, f"moved from {ps.path} (API spec as YAML)"
        if (
            converted.spec
            and status is not PageStatus.UNCHANGED
            and (changes := apispec.compare(old, converted.markdown))
        ):
            report.api[path] = changes
        ps.path = path
        report.results.append(PageResult(url, path, status, note, fetched=False))
    commit_site(repo, site, report, rules=why)
    state.rules = rules_fingerprint(site)
    return report


def rerender(repo: ArchiveRepo, site: Site, wait: float = 0.0) -> SiteReport:
    """``archiver rerender``: re-render a site from its stored bodies under the repository lock."""
    with repo.lock(wait=wait):
        store = StateStore(repo.state_dir)
        state = store.load(site.name)
        state.forget_validators(repo.recover(site.name)[1])
        report = rerender_site(site, repo, state)
        store.save(site.name, state)
    return report
