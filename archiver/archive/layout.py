"""Where each site's history lives: one repository for every site, or one repository per site.

``layout: single`` (the default): ``archive-repo/`` is one git repository and each site is a
folder in it (``archive-repo/<site>/…``). ``layout: per-site``: ``archive-repo/`` is a plain
folder and ``archive-repo/<site>/`` is the site's own repository, with its own lock, state and
remote. Inside a per-site repository the site's pages are still under ``<site>/``, so a site's
repository has the same shape in both layouts: every read (``archive.history``, the report) works
unchanged on either, and a site can be moved from one layout to the other with plain git (a
``git pull --allow-unrelated-histories`` of its repository, or ``git subtree split`` of its folder).

The read side needs no config: the folder says which layout it is (:func:`site_repos`).
"""

from __future__ import annotations

from pathlib import Path

from archiver.archive.gitcmd import has_commits, open_git
from archiver.errors import HistoryError, StoreError

META = ".archiver"  # a per-site archive's own files (the daemon's schedule), beside the site repositories


def is_per_site(root: Path) -> bool:
    """True if ``root`` is a folder of site repositories, not a repository itself."""
    if (root / ".git").exists() or not root.is_dir():
        return False
    return any((child / ".git").exists() for child in root.iterdir() if child.is_dir())


def site_repos(root: Path) -> dict[str, Path]:
    """Each site in the archive at ``root`` and the repository that holds its history, by name."""
    if is_per_site(root):
        return {c.name: c for c in sorted(root.iterdir()) if c.is_dir() and (c / ".git").exists()}
    if not (root / ".git").exists():
        return {}
    repo = open_git(root)
    if not has_commits(repo):
        return {}
    return {t.name: root for t in sorted(repo.head.commit.tree.trees, key=lambda t: t.name)}


def repo_of(root: Path, site: str) -> Path:
    """The repository that holds ``site``'s history: ``root`` itself, or ``root/<site>`` in a per-site
    archive (a site that is not there is the caller's error to say, with the sites that are)."""
    if not (root / ".git").exists() and (root / site / ".git").exists():
        return root / site
    if is_per_site(root):
        known = ", ".join(site_repos(root)) or "none"
        raise HistoryError(f"no snapshots of site {site!r} in {root} (sites: {known})")
    return root


def site_meta(repo: Path) -> Path:
    """Where archiver keeps its own files (state, bodies, lock) in the repository at ``repo``, also
    before that repository exists: ``.git/archiver/``, as :class:`ArchiveRepo` opens it."""
    return repo / ".git" / "archiver"


def prepare(root: Path, per_site: bool) -> None:
    """Check that the archive folder ``root`` is of the layout the config says before a run writes
    into it; for ``per-site``, make it (with its ``.archiver/``) if it is new. Each site's repository
    is then ``root`` (single) or ``root/<site>`` (per-site), made by ``ArchiveRepo.open_or_init``."""
    if per_site and (root / ".git").exists():
        raise StoreError(
            f"{root} is one repository for every site, but sites.yaml says layout: per-site: "
            "pass --repo a new folder, or remove layout: per-site"
        )
    if not per_site and is_per_site(root):
        raise StoreError(
            f"{root} holds one repository per site, but sites.yaml says the single layout: "
            "add layout: per-site to sites.yaml, or pass --repo another folder"
        )
    if not per_site:
        return
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root} is a file, not a folder: pass --repo a folder for the archive")
    marked = (root / META).is_dir() or is_per_site(root)
    if root.is_dir() and any(root.iterdir()) and not marked:
        # never fill a folder full of something else (say the home folder) with site repositories
        raise StoreError(
            f"{root} is a folder with files in it but no archive: pass --repo an empty or new folder, "
            "or an existing archive"
        )
    try:
        (root / META).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{root}: cannot create the archive folder: {exc.strerror or exc}") from exc
