"""A real archive with several snapshots on known dates, built by real runs against the test server.

``docs`` gets four snapshots (v1, v2, then two edits of guide/auth.md) and ``other`` one in
between, so "the site's second-latest snapshot" and "the last snapshot on a day" are not simply
HEAD~1 or a date in git's own sense.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import DATA, FaultServer, make_config, make_site

from archiver.archive.repo import ArchiveRepo
from archiver.run import pipeline

FILLER = "".join(f"<p>Token rule {n}: keep tokens out of logs.</p>\n" for n in range(1, 13))
AUTH_V3 = f"""<!doctype html><html lang="en"><head><title>Auth</title></head><body><main>
<h1>Authentication</h1>
<p>Send the <code>token</code> parameter with every request &amp; keep it secret.</p>
<h2>Tokens</h2>
{FILLER}<h2>Examples</h2>
<pre><code class="language-python"># not a heading
client = Client(token="&lt;script&gt;alert(1)&lt;/script&gt;")
print(client.get("/items"))
</code></pre>
<p>Never paste a &lt;script&gt;alert("xss")&lt;/script&gt; tag or &lt;b&gt;markup&lt;/b&gt; &amp; such here.</p>
<h2>Errors</h2>
<p>Error 401 means the token expired.</p>
<p>Error 403 means the token lacks a scope.</p>
</main></body></html>
"""
AUTH_V4 = AUTH_V3.replace('client.get("/items")', 'client.get("/items", limit=5)').replace(
    "the token expired.", "the token has expired or was revoked."
)
DATES = [
    "2026-06-01T10:00:00+00:00",
    "2026-06-05T09:00:00+00:00",
    "2026-06-10T12:00:00+00:00",
    "2026-06-12T08:00:00+00:00",
]
OTHER_DATE = "2026-06-07T00:00:00+00:00"


@dataclass
class Built:
    repo: Path
    docs: list[str]  # the shas of docs' snapshots, oldest first
    other: str
    url: str
    archive: ArchiveRepo
    server: FaultServer


def isolate(mp: pytest.MonkeyPatch, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "gitconfig").write_text("")
    mp.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
    mp.setenv("TZ", "UTC")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "NO_PROXY"):
        mp.delenv(var, raising=False)


def snapshot(mp: pytest.MonkeyPatch, config, archive: ArchiveRepo, site, when: str) -> str:  # type: ignore[no-untyped-def]
    """One real run of ``site`` whose commit is dated ``when``; its sha."""
    mp.setenv("GIT_AUTHOR_DATE", when)
    mp.setenv("GIT_COMMITTER_DATE", when)
    report = pipeline.run(config, archive, [site], workers=1)
    commit = report.sites[0].commit
    assert commit, report
    return commit


def build(root: Path, server: FaultServer, mp: pytest.MonkeyPatch) -> Built:
    """Archive ``docs`` four times and ``other`` once through ``server`` into ``root/archive-repo``."""
    isolate(mp, root / "home")
    docs = make_site(server.url, name="docs")
    other = make_site(server.url, ["index.html"], name="other")
    config = make_config(docs, other)
    archive = ArchiveRepo.open_or_init(root / "archive-repo")
    server.root = DATA / "site_v1"
    shas = [snapshot(mp, config, archive, docs, DATES[0])]
    server.root = DATA / "site_v2"
    shas.append(snapshot(mp, config, archive, docs, DATES[1]))
    other_sha = snapshot(mp, config, archive, other, OTHER_DATE)
    server.set_page("/guide/auth.html", AUTH_V3.encode())
    shas.append(snapshot(mp, config, archive, docs, DATES[2]))
    server.set_page("/guide/auth.html", AUTH_V4.encode())
    shas.append(snapshot(mp, config, archive, docs, DATES[3]))
    mp.delenv("GIT_AUTHOR_DATE")
    mp.delenv("GIT_COMMITTER_DATE")
    assert os.environ.get("TZ") == "UTC"
    return Built(root / "archive-repo", shas, other_sha, server.url, archive, server)
