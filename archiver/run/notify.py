"""Tell people what changed: one digest per site after a run that committed, and page failure alerts.

Targets are Apprise URLs (``mailto://…``, ``slack://…``, ``json://host/path``, …): the config's
``notify`` list plus each site's own. A digest carries the commit's subject, its list of added,
changed and removed pages (read back from git), the sections that changed, a link (``web_url``)
and the patch as an attachment, cut to :data:`MAX_PATCH_BYTES`.

Failures are told only when a page's state changes: once when it has failed
``notify_failures_after`` runs in a row, once when it works again. What was told is kept in the
page's state (``PageState.alerted``), so a page failing for a week sends two messages, not one per
run. Nothing here ever fails the archive run: every delivery has a time limit and a failed one is
logged (and a failure alert is retried on the next run).

A site's watches (``watch:``) get their own digest, sent to the watch's ``notify`` only when a
snapshot changes a line in the watch's scope (:mod:`archiver.archive.scope`), listing only those
pages, sections and lines; a re-render under new rules never notifies.
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.archive import history, layout, scope
from archiver.archive.patch import parse_patch
from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import SiteState, StateStore
from archiver.config import Config, Site, Watch
from archiver.errors import ArchiverError
from archiver.models import RunReport
from archiver.schedules import period_start

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds for one message to all of a site's targets
MAX_PATCH_BYTES = 256 * 1024
MAX_WATCH_LINES = 200  # lines in scope a watch digest shows (the rest are counted)
LOCK_WAIT = 30.0  # seconds to wait for the repository lock to record which alerts were sent


@dataclass(frozen=True, slots=True)
class Message:
    """One notification. ``kind`` is ``changes`` (a snapshot's digest), ``failures`` (page alerts)
    or ``digest`` (the scheduled digest of every site, ``site`` then being ``digest``)."""

    site: str
    kind: str
    title: str
    body: str
    attachment: bytes | None = None
    attachment_name: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of sending one message."""

    site: str
    kind: str
    ok: bool
    error: str | None = None


def targets_for(config: Config, site: Site) -> list[str]:
    """The site's Apprise URLs: the config's, then the site's own, without duplicates."""
    return list(dict.fromkeys([*config.notify, *site.notify]))


def _cut(data: bytes, limit: int, note: str) -> bytes:
    if len(data) <= limit:
        return data
    head = data[:limit].rsplit(b"\n", 1)[0]
    return head + f"\n\n[cut at {limit // 1024} KB of {len(data) // 1024} KB: {note}]\n".encode()


def change_digest(config: Config, repo_path: Path, site: str, sha: str) -> Message:
    """The digest of snapshot ``sha`` of ``site``: summary, pages (with sections), link, patch."""
    message = history.commit_message(repo_path, sha)
    subject, _, rest = message.partition("\n")
    sections = history.sections(repo_path, site, sha)
    lines: list[str] = []
    for line in rest.strip("\n").splitlines():
        if line.startswith(("Source: ", "Archived-By: ")):
            continue  # trailers: the site URL is said below, the version is noise here
        if line.startswith("- "):
            found = sections.get(line[2:].split("  ", 1)[0], [])
            if found:
                line += "\n    sections: " + ", ".join(found)
        lines.append(line)
    when = history.commit_date(repo_path, sha)
    link = config.web_url.replace("{sha}", sha) if config.web_url else None
    head = [subject, f"{when.replace('T', ' ')} · commit {sha[:10]}"]
    if link:
        head.append(link)
    patch_text = history.diff(repo_path, site, sha).encode("utf-8", "surrogateescape")
    name = f"{site}-{sha[:10]}.patch"
    body = "\n".join([*head, "", *lines, "", f"Patch attached: {name} (git show {sha[:10]} -- {site}/)"])
    attachment = _cut(patch_text, MAX_PATCH_BYTES, f"see git show {sha[:10]} -- {site}/")
    return Message(site, "changes", subject, body.strip() + "\n", attachment, name)


def watch_digests(config: Config, repo_path: Path, site: Site, sha: str) -> list[tuple[Watch, Message]]:
    """The digest of snapshot ``sha`` for each of the site's watches with targets that it touches:
    only the pages, sections and lines in the watch's scope (none for a ``Change-Kind: rules``)."""
    watches = [w for w in site.watch if w.notify]
    if not watches:
        return []
    message = history.commit_message(repo_path, sha)
    if not scope.counts(history.trailer(message, "Change-Kind") or "docs"):
        return []
    files = parse_patch(history.patch(repo_path, site.name, sha, full_context=True))
    when = history.commit_date(repo_path, sha)
    link = config.web_url.replace("{sha}", sha) if config.web_url else None
    out: list[tuple[Watch, Message]] = []
    for watch in watches:
        pages = scope.scoped(watch, site.name, files, site.base_url)
        if not pages:
            continue
        title = scope.headline(site.name, watch, pages)
        head = [title, f"{when.replace('T', ' ')} · commit {sha[:10]}", *([link] if link else [])]
        head.append(f"Watch {watch.name} of {site.base_url}: {scope.describe_watch(watch)}")
        paths = " ".join(f"{site.name}/{p.path}" for p in pages)
        tail = f"The whole change: git show {sha[:10]} -- {paths}"
        body = "\n".join([*head, "", *scope.describe(pages, MAX_WATCH_LINES), "", tail])
        out.append((watch, Message(site.name, f"watch {watch.name}", title, body + "\n")))
    return out


def _notify_watches(config: Config, repo: ArchiveRepo, report: RunReport, timeout: float) -> list[Delivery]:
    """Send the watch digests of every site the run committed (:func:`watch_digests`)."""
    by_name = {s.name: s for s in config.sites}
    sent: list[Delivery] = []
    for site_report in report.sites:
        site = by_name.get(site_report.site)
        if not site or not site_report.commit:
            continue
        try:
            for watch, message in watch_digests(config, repo.path, site, site_report.commit):
                sent.append(send(watch.notify, message, timeout))
        except Exception as exc:  # reading git, or a plugin: never the archive run's problem
            logger.warning("%s: watch notification skipped: %s: %s", site.name, type(exc).__name__, exc)
            sent.append(Delivery(site.name, "watch", False, str(exc)))
    return sent


def failure_changes(config: Config, state: SiteState) -> tuple[list[str], list[str]]:
    """URLs that just reached ``notify_failures_after`` failures (not yet told), and told ones that work again."""
    after = config.notify_failures_after
    failing = [url for url, ps in sorted(state.pages.items()) if ps.failures >= after and not ps.alerted]
    recovered = [url for url, ps in sorted(state.pages.items()) if ps.alerted and ps.failures == 0]
    return failing, recovered


def failure_alert(config: Config, site: str, state: SiteState, failing: list[str], recovered: list[str]) -> Message:
    n = config.notify_failures_after
    parts = []
    if failing:
        parts.append(f"{len(failing)} page{'s' if len(failing) != 1 else ''} failing")
    if recovered:
        parts.append(f"{len(recovered)} working again")
    lines = []
    if failing:
        lines.append(f"Failing for {n} or more runs in a row (the last good snapshot is kept):")
        lines += [f"- {url}: {state.pages[url].error or 'error'}" for url in failing]
    if recovered:
        lines.append("No longer failing:")
        lines += [f"- {url}" for url in recovered]
    return Message(site, "failures", f"{site}: {', '.join(parts)}", "\n".join(lines) + "\n")


def _apprise_box(urls: list[str], message: Message) -> tuple[Any, Any]:
    """An Apprise object holding the valid ``urls``, and the message's attachment (or None)."""
    # apprise loads its plugins on first use; one imports imghdr, deprecated since Python 3.11
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise  # heavy: only when there is something to send
        from apprise.attachment.memory import AttachMemory

        box = apprise.Apprise()
        for url in urls:
            if not box.add(url):  # the URL may hold a token: name only its scheme
                scheme = url.partition(":")[0]
                logger.warning("%s: ignoring an invalid notification URL (%s://…)", message.site, scheme)
    attach = None
    if message.attachment is not None:
        attach = apprise.AppriseAttachment()
        memory = AttachMemory(  # type: ignore[no-untyped-call]
            content=message.attachment, name=message.attachment_name, mimetype="text/x-diff"
        )
        attach.add(memory)
    return box, attach


def send(urls: list[str], message: Message, timeout: float = DEFAULT_TIMEOUT) -> Delivery:
    """Send ``message`` to the Apprise ``urls``; waits at most ``timeout`` seconds; never raises."""
    box, attach = _apprise_box(urls, message)
    if not len(box):
        return Delivery(message.site, message.kind, False, "no valid notification URL")
    from apprise import NotifyFormat  # loaded by _apprise_box already

    outcome: dict[str, object] = {}

    def deliver() -> None:
        try:
            text = NotifyFormat.TEXT
            outcome["ok"] = bool(box.notify(body=message.body, title=message.title, body_format=text, attach=attach))
        except Exception as exc:  # a plugin bug must not reach the archive run
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    # a daemon thread: a target that hangs past every socket timeout is abandoned, never waited for
    worker = threading.Thread(target=deliver, name=f"notify-{message.site}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        error: str | None = f"timed out after {timeout:g} s"
    elif "error" in outcome:
        error = str(outcome["error"])
    else:
        error = None if outcome.get("ok") else "not delivered to every target (see the log above)"
    if error:
        logger.warning("%s: %s notification failed: %s", message.site, message.kind, error)
    return Delivery(message.site, message.kind, error is None, error)


def _record_alerts(repo: ArchiveRepo, site: str, failing: list[str], recovered: list[str]) -> None:
    """Remember which alerts went out (under the lock, on fresh state: a run may have saved since)."""
    try:
        with repo.lock(wait=LOCK_WAIT):
            store = StateStore(repo.state_dir)
            state = store.load(site)
            for url in failing + recovered:
                if url in state.pages:
                    state.pages[url].alerted = url in failing
            store.save(site, state)
    except ArchiverError as exc:
        logger.warning("%s: could not record the alerts sent (they may be sent again): %s", site, exc)


DIGEST_PAGES = 25  # pages listed per site in a scheduled digest (the rest: archiver digest SITE)


def send_digest(config: Config, root: Path, now: datetime, *, timeout: float = DEFAULT_TIMEOUT) -> Delivery | None:
    """The scheduled digest (``digest:``) of every site of ``config`` in the archive at ``root``, for
    the period ending ``now``, sent to ``digest.notify`` (else the config's ``notify``). None when
    nothing was sent: no ``digest:`` or no target, or an empty period with ``when_empty: skip``.
    Never raises: a failure is logged and returned."""
    from archiver.report import digest as digests

    plan = config.digest
    if plan is None:
        return None
    urls = plan.notify or config.notify
    if not urls:
        logger.warning("digest: no notification target (digest.notify or notify)")
        return None
    try:
        there = set(layout.site_repos(root))
        names = [s.name for s in config.sites if s.name in there]
        found = digests.build_digest(root, period_start(plan.since, now), now, names)
    except (ArchiverError, ValueError) as exc:
        logger.warning("digest: not sent: %s", exc)
        return Delivery("digest", "digest", False, str(exc))
    if found.empty and plan.when_empty == "skip":
        logger.info("digest: no changes since %s, none sent (when_empty: skip)", found.since)
        return None
    message = Message("digest", "digest", digests.title(found), digests.to_markdown(found, DIGEST_PAGES))
    return send(urls, message, timeout)


def notify_run(
    config: Config, repo: ArchiveRepo, report: RunReport, *, timeout: float = DEFAULT_TIMEOUT
) -> list[Delivery]:
    """Send each site's digest (if the run committed) and failure alerts (if a page's state changed).

    Call it after ``pipeline.run`` has returned (it takes the repository lock briefly to record
    the alerts sent). Never raises for a notification problem; returns what was attempted.
    """
    by_name = {s.name: s for s in config.sites}
    sent: list[Delivery] = []
    for site_report in report.sites:
        site = by_name.get(site_report.site)
        urls = targets_for(config, site) if site else []
        if not site or not urls:
            continue
        try:
            if site_report.commit:
                digest = change_digest(config, repo.path, site.name, site_report.commit)
                sent.append(send(urls, digest, timeout))
            state = StateStore(repo.state_dir).load(site.name)
            failing, recovered = failure_changes(config, state)
            if failing or recovered:
                delivery = send(urls, failure_alert(config, site.name, state, failing, recovered), timeout)
                sent.append(delivery)
                if delivery.ok:
                    _record_alerts(repo, site.name, failing, recovered)
        except Exception as exc:  # reading git, or a plugin: never the archive run's problem
            logger.warning("%s: notification skipped: %s: %s", site.name, type(exc).__name__, exc)
            sent.append(Delivery(site.name, "changes", False, str(exc)))
    return sent + _notify_watches(config, repo, report, timeout)
