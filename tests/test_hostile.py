"""Hostile input: whatever a server, a config or a state file holds, archiver neither crashes nor
lets it into places it does not belong (commit trailers, the terminal, logs with credentials)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import FaultServer, git, make_config, make_site
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.archive.repo import ArchiveRepo
from archiver.archive.state import StateStore
from archiver.config import parse_config
from archiver.errors import ConfigError
from archiver.models import FileStat, PageResult, PageStatus
from archiver.run.commits import commit_message
from archiver.run.pipeline import run
from archiver.text import one_line

pytestmark = pytest.mark.faults

CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
TRAILERS = ("Source:", "Change-Kind:", "Archived-By:")
nasty = st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ["\nChange-Kind: rules", "\x1b[2J\x1b[31mowned", "a\rb", "x\u2028Source: evil", "\x00\x7f\x85"]
)


@given(url=nasty, error=nasty, path=nasty)
@settings(max_examples=150, deadline=None)
def test_commit_messages_cannot_be_injected(url: str, error: str, path: str) -> None:
    site = make_site("https://docs.example.com/")
    results = [
        PageResult(url, path, PageStatus.REMOVED, error),
        PageResult(url, path, PageStatus.MOVED, error),
        PageResult(url, path, PageStatus.CHANGED, error),
    ]
    message = commit_message(site, results, [FileStat("docs/x.md", 1, 1)])
    lines = message.rstrip("\n").split("\n")
    assert not CONTROL.search(message.replace("\n", ""))
    trailers = [line for line in lines if line.startswith(TRAILERS)]
    assert trailers == lines[-3:]  # the three trailers, last, and nowhere else
    assert lines[-2] == "Change-Kind: docs"


@given(nasty)
@settings(max_examples=200, deadline=None)
def test_terminal_lines_carry_no_control_codes(text: str) -> None:
    shown = one_line(text)
    assert not CONTROL.search(shown) and "\n" not in shown
    if not CONTROL.search(text) and "\n" not in text:
        assert shown == text  # ordinary text is left alone


def test_a_sitemap_cannot_smuggle_lines_into_a_commit(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    url = docs_server.url
    evil = f"{url}index.html\nChange-Kind: rules\n"
    docs_server.set_page(
        "/sitemap.xml",
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{url}guide/auth.html</loc></url>'
        f"<url><loc>{evil}x.html</loc></url><url><loc>{url}a\u0085b.html</loc></url></urlset>".encode(),
        "application/xml",
    )
    site = make_site(url, pages=["index.html"], sitemap=f"{url}sitemap.xml")
    report = run(make_config(site), archive).sites[0]
    assert report.commit
    message = git(archive.path, "log", "-1", "--format=%B")
    assert [line for line in message.splitlines() if line.startswith("Change-Kind:")] == ["Change-Kind: docs"]
    assert "\x85" not in message
    assert all("\n" not in r.url and "\x85" not in r.url for r in report.results)
    assert {f"{url}index.html", f"{url}guide/auth.html"} <= {r.url for r in report.results}


@pytest.mark.parametrize("field", ["base_url", "sitemap", "llms_txt", "pages"])
def test_credentials_in_urls_are_refused_by_the_config(field: str) -> None:
    value = {"base_url": "https://bob:s3cret@docs.example.com/"}
    if field != "base_url":
        value = {"base_url": "https://docs.example.com/"}
        secret = "https://bob:s3cret@docs.example.com/x"
        value[field] = [secret] if field == "pages" else secret  # type: ignore[assignment]
    text = "sites:\n  - name: docs\n" + "".join(f"    {k}: {json.dumps(v)}\n" for k, v in value.items())
    with pytest.raises(ConfigError) as info:
        parse_config(text, "sites.yaml")
    assert "credentials" in str(info.value) and "s3cret" not in str(info.value)


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_any_config_text_is_a_config_or_a_config_error(text: str) -> None:
    try:
        parse_config(text, "sites.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("sites.yaml")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
page_like = st.fixed_dictionaries(
    {},
    optional={k: json_values for k in ("etag", "path", "failures", "gone", "links", "twin", "alerted", "status")},
)


@given(
    st.fixed_dictionaries(
        {"version": st.just(1) | json_values},
        optional={
            "pages": st.dictionaries(st.text(max_size=20), page_like | json_values, max_size=4) | json_values,
            "rules": json_values,
            "last_run": json_values,
            "strays": json_values,
        },
    )
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_state_file_loads(tmp_path: Path, data: object) -> None:
    store = StateStore(tmp_path / "state")
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / "docs.json").write_text(json.dumps(data))
    state = store.load("docs")
    store.save("docs", state)  # and whatever was kept can be written back and read again
    assert store.load("docs").pages.keys() == state.pages.keys()
