"""Scoped watches: a part of a site (pages by glob, sections by heading) with its own digests, feed
and ``log --watch``; everything end to end against a real loopback server and a real archive."""

from __future__ import annotations

import pytest

from archiver.config import parse_config
from archiver.errors import ConfigError

SITE = "sites:\n  - name: docs\n    base_url: https://x.org/\n    pages: [a.html]\n"


def test_watches_parse_with_their_defaults() -> None:
    config = parse_config(
        SITE + "    watch:\n      - name: rate-limits\n        pages: ['api/*']\n        sections: [Rate limits]\n"
        "        notify: ['json://127.0.0.1:9/hook']\n      - name: all\n"
    )
    first, second = config.sites[0].watch
    assert (first.name, first.pages, first.sections, first.notify) == (
        "rate-limits",
        ["api/*"],
        ["Rate limits"],
        ["json://127.0.0.1:9/hook"],
    )
    assert (second.pages, second.sections, second.notify) == ([], [], [])
    assert config.sites[0].watch_named("all") is second


@pytest.mark.parametrize(
    ("watch", "expected"),
    [
        (
            "      - name: api\n        sectons: [Errors]\n",
            "x.yaml:7: sites[0].watch[0].sectons: unknown field (did you mean sections?)",
        ),
        (
            "      - name: api\n      - name: api\n",
            "x.yaml:7: sites[0].watch[1].name: duplicate watch name 'api'",
        ),
        (
            "      - name: Rate limits\n",
            "x.yaml:6: sites[0].watch[0].name: watch name 'Rate limits' must match [a-z0-9][a-z0-9._-]*",
        ),
        (
            "      - name: api\n        pages: ['api/*']\n        sections: [Errors, ' ']\n",
            "x.yaml:8: sites[0].watch[0].sections[1]: empty section: write a heading such as Rate limits",
        ),
        (
            "      - name: api\n        pages: ['']\n",
            "x.yaml:7: sites[0].watch[0].pages[0]: empty page: write a glob such as api/*",
        ),
        ("      - pages: [a]\n", "x.yaml:6: sites[0].watch[0].name: required field is missing"),
    ],
)
def test_a_bad_watch_names_file_line_and_field(watch: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(SITE + "    watch:\n" + watch, "x.yaml")
    assert str(caught.value).startswith(expected)


def test_an_unknown_watch_name_says_the_closest_one() -> None:
    site = parse_config(SITE + "    watch:\n      - name: rate-limits\n      - name: errors\n").sites[0]
    with pytest.raises(ConfigError, match=r"site 'docs' has no watch 'rate-limit' \(did you mean rate-limits\?\)"):
        site.watch_named("rate-limit")
    with pytest.raises(ConfigError, match=r"has no watch 'zzz' \(its watches: rate-limits, errors\)"):
        site.watch_named("zzz")
