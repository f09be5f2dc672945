"""sites.yaml loading and validation, driven by the files in tests/data/configs/.

Each bad file is one mistake a user could make; the table below says which line the error must
point at and which field it must name, so a message that drifts to the wrong line fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.config import DEFAULT_AUTHOR, DEFAULT_STRIP, Config, Site, field_location, load_config, parse_config
from archiver.errors import ArchiverError, ConfigError

CONFIGS = Path(__file__).parent / "data" / "configs"
REPO = Path(__file__).resolve().parents[1]

# file name -> (line the error points at, field path or None, message fragment)
BAD_CONFIGS: dict[str, tuple[int, str | None, str]] = {
    "unknown-key.yaml": (4, "sites[0].pagez", "unknown field (did you mean pages?)"),
    "duplicate-site.yaml": (8, "sites[2].name", "duplicate site name 'docs'"),
    "duplicate-key.yaml": (5, "sites[0].base_url", "duplicate key 'base_url'"),
    "bad-url.yaml": (
        3,
        "sites[0].base_url",
        "must be an absolute http(s) URL with a host, got 'ftp://docs.example.com/'",
    ),
    "page-outside-base.yaml": (6, "sites[0].pages[1]", "'../x.html' resolves to https://docs.example.com/en/x.html"),
    "bad-selector.yaml": (6, "sites[0].strip[0]", "invalid CSS selector 'div['"),
    "wrong-type.yaml": (4, "sites[0].concurrency", "write 4 without quotes"),
    "bad-name.yaml": (4, "sites[1].name", "site name 'My Docs' must match"),
    "missing-name.yaml": (2, "sites[0].name", "required field is missing"),
    "malformed.yaml": (5, None, "malformed YAML"),
    "not-a-mapping.yaml": (1, None, "expected a mapping with a 'sites:' list"),
    "bad-author.yaml": (5, "author", "author must look like 'Name <email>', got 'just a name'"),
    "negative-delay.yaml": (4, "sites[0].delay", "greater than or equal to 0"),
}


def test_every_bad_file_is_in_the_table() -> None:
    """A new file in tests/data/configs/ without a row would silently go untested."""
    on_disk = {p.name for p in CONFIGS.glob("*.yaml")} - {"valid.yaml"}
    assert on_disk == set(BAD_CONFIGS)


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config(name: str) -> None:
    line, field, fragment = BAD_CONFIGS[name]
    path = CONFIGS / name
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    if field is not None:
        assert message.startswith(f"{path}:{line}: {field}: "), message
    assert fragment in message
    assert "\n" not in message  # the CLI prints it as one line
    assert isinstance(info.value, ArchiverError)


def test_bad_config_via_parse_config_uses_given_path() -> None:
    """parse_config only uses ``path`` in messages; the line numbers are the same."""
    text = (CONFIGS / "bad-url.yaml").read_text()
    with pytest.raises(ConfigError, match=r"^my/sites\.yaml:3: sites\[0\]\.base_url: "):
        parse_config(text, "my/sites.yaml")


def test_valid_config_values() -> None:
    config = load_config(CONFIGS / "valid.yaml")
    assert isinstance(config, Config)
    assert config.author == "Docs Bot <bot@example.org>"
    assert (config.author_name, config.author_email) == ("Docs Bot", "bot@example.org")
    full, minimal = config.sites
    assert isinstance(full, Site)

    assert full.name == "full.site_1"
    assert full.base_url == "https://docs.example.com/en/latest/"  # trailing slash added
    assert full.page_urls() == [
        "https://docs.example.com/en/latest/index.html",
        "https://docs.example.com/en/latest/guide/",
        "https://docs.example.com/en/latest/api.html",
    ]  # absolute, in order, the repeated index.html listed once
    assert full.sitemap == "https://docs.example.com/sitemap.xml"
    assert full.content == ["div.body", "main"]
    assert full.strip == [".sidebar", "nav"]
    assert full.strip_selectors == [*DEFAULT_STRIP, ".sidebar"]  # "nav" is already built in
    assert (full.concurrency, full.retries, full.max_bytes, full.max_redirects, full.remove_after) == (8, 0, 2048, 3, 2)
    assert full.delay == 0.5
    assert full.timeout == 10.0
    assert isinstance(full.timeout, float)
    assert full.user_agent == "test-agent/1.0"

    assert minimal.name == "minimal"
    assert minimal.base_url == "http://example.org/"
    assert minimal.pages == []
    assert minimal.page_urls() == []
    assert minimal.sitemap is None
    assert minimal.content == []  # empty: the generator preset, then DEFAULT_CONTENT (see convert)
    assert minimal.strip == []
    assert minimal.strip_selectors == DEFAULT_STRIP
    assert minimal.concurrency == 4
    assert minimal.retries == 2
    assert minimal.max_bytes == 10 * 1024 * 1024
    assert minimal.max_redirects == 10
    assert minimal.remove_after == 2
    assert minimal.delay == 0.0
    assert minimal.timeout == 30.0
    assert minimal.user_agent is None


def test_default_author() -> None:
    config = parse_config("sites:\n  - name: docs\n    base_url: https://x.org/\n")
    assert config.author == DEFAULT_AUTHOR
    assert (config.author_name, config.author_email) == ("archiver", "archiver@localhost")


def test_config_is_frozen() -> None:
    config = load_config(CONFIGS / "valid.yaml")
    with pytest.raises(ValueError):
        config.sites[0].concurrency = 1  # type: ignore[misc]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "sites.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "archiver init" in str(info.value)


def test_undecodable_file(tmp_path: Path) -> None:
    path = tmp_path / "sites.yaml"
    path.write_bytes(b"sites:\n  - name: caf\xe9\n")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "expected a mapping"),
        ("sites:\n", 1, "sites: expected a list ([a, b] or lines starting with '- '), got nothing"),
        ("author: A <a@b.org>\n", 1, "sites: required field is missing"),
        ("sites:\n  - name: docs\n    base_url: https://x.org/\n    1: x\n", 4, "keys must be strings"),
        ("sites: []\n---\nsites: []\n", 2, "malformed YAML"),
        (
            "sites:\n  - name: 123\n    base_url: https://x.org/\n",
            2,
            "sites[0].name: expected text, got the number 123",
        ),
        ("sites:\n  - name: d\n    base_url: https://x.org/\n    retries: true\n", 4, "sites[0].retries"),
        ("sites:\n  - name: d\n    base_url: https://x.org/\n    concurrency: 4.0\n", 4, "sites[0].concurrency"),
        ("sites:\n  - name: d\n    base_url: https://x.org/\n    concurrency: 0\n", 4, "sites[0].concurrency"),
        ("sites:\n  - name: d\n    base_url: https://x.org/\n    pages: index.html\n", 4, "sites[0].pages"),
        ("sites:\n  - name: d\n    base_url: https://x.org/\n    sitemap: /sitemap.xml\n", 4, "sites[0].sitemap"),
        ("sites:\n  - name: d\n    base_url: /docs/\n", 3, "sites[0].base_url"),
        ("sites:\n  - name: d\n    base_url: https://x.org/d/\n    pages: ['//evil.org/d/x']\n", 4, "outside base_url"),
        ("sites:\n  - name: .hidden\n    base_url: https://x.org/\n", 2, "sites[0].name"),
        ("sites:\n  - name: a/b\n    base_url: https://x.org/\n", 2, "sites[0].name"),
        ("report: ''\nsites:\n  - name: d\n    base_url: https://x.org/\n", 1, "report: a folder for the report"),
        (
            "report: 5\nsites:\n  - name: d\n    base_url: https://x.org/\n",
            1,
            "report: expected text, got the number 5",
        ),
        ("reprot: out\nsites:\n  - name: d\n    base_url: https://x.org/\n", 1, "did you mean report?"),
        ("report_base_url: x.org\nsites:\n  - name: d\n    base_url: https://x.org/\n", 1, "absolute http(s) URL"),
        ("sites:\n  - name: d\n    base_url: https://x.org/\n    content: ['']\n", 4, "invalid CSS selector"),
    ],
)
def test_inline_errors(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "s.yaml")
    assert str(info.value).startswith(f"s.yaml:{line}: "), str(info.value)
    assert fragment in str(info.value)


def test_field_location_names_the_line_of_a_valid_field(tmp_path: Path) -> None:
    path = tmp_path / "sites.yaml"
    path.write_text("sites:\n  - name: a\n    base_url: https://x.org/\n\n    schedule: every 1h\n")
    load_config(path)
    assert field_location(path, ("sites", 0, "schedule")) == f"{path}:5: sites[0].schedule"
    assert field_location(path, ("sites", 0, "jitter")) == f"{path}:2: sites[0].jitter"  # unset: its site
    assert field_location(path, ("schedule",)) == f"{path}:1: schedule"  # unset at the top: line 1


def test_page_urls_accept_absolute_urls_under_base() -> None:
    config = parse_config(
        "sites:\n  - name: d\n    base_url: https://x.org/docs\n    pages: [a, 'https://x.org/docs/b/', /docs/c]\n"
    )
    assert config.sites[0].page_urls() == ["https://x.org/docs/a", "https://x.org/docs/b/", "https://x.org/docs/c"]


def test_select() -> None:
    config = load_config(CONFIGS / "valid.yaml")
    assert [s.name for s in config.select([])] == ["full.site_1", "minimal"]
    assert [s.name for s in config.select(["minimal", "full.site_1"])] == ["minimal", "full.site_1"]
    with pytest.raises(ConfigError) as info:
        config.select(["minimal", "nope"])
    message = str(info.value)
    assert "'nope'" in message
    assert "full.site_1, minimal" in message


@pytest.mark.parametrize(
    "path", [REPO / "sites.yaml", REPO / "archiver" / "cli" / "sample_sites.yaml"], ids=lambda p: p.name
)
def test_shipped_config_loads(path: Path) -> None:
    config = load_config(path)
    assert config.sites
    for site in config.sites:
        assert site.base_url.endswith("/")
        assert all(url.startswith(site.base_url) for url in site.page_urls())
        assert site.page_urls() or site.sitemap


@pytest.mark.parametrize(
    "text",
    [
        'sites:\n  - name: "docs\\n"\n    base_url: https://x.org/\n',
        'author: "A <a@b.org>\\n"\nsites:\n  - name: docs\n    base_url: https://x.org/\n',
    ],
    ids=["name", "author"],
)
def test_trailing_newline_is_rejected(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_config(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sites:\n  - name: d\n    base_ulr: http://x.org/\n",
            "x.yaml:3: sites[0].base_ulr: unknown field (did you mean base_url?)",  # each thing once
        ),
        (
            'sites:\n  - name: d\n    base_url: http://x.org/\n    concurrency: "4"\n',
            "x.yaml:4: sites[0].concurrency: write 4 without quotes",
        ),
        ("sites: []\n", "x.yaml:1: sites: no sites listed"),
        (
            "sites:\n  - name: d\n    base_url: http://x.org/\n    crawl: 5\n",
            "sites[0].crawl: expected a mapping of settings (key: value lines below it), got the number 5",
        ),
        ("sites:\n\t- name: d\n", "x.yaml:2: malformed YAML: tabs are not allowed for indentation"),
        (
            "sites:\n  - name: d\n    base_url: http://x.org/\n    robots: maybe\n",
            "sites[0].robots: expected true or false, got the text 'maybe'",
        ),
    ],
)
def test_config_messages_speak_yaml_not_pydantic(text: str, expected: str) -> None:
    """Issue 12, item 11: what a user wrote wrong, in the words of sites.yaml."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "x.yaml")
    assert expected in str(caught.value)
    assert "Input should" not in str(caught.value) and "instance of" not in str(caught.value)


@pytest.mark.parametrize(
    "page",
    [
        "a/b.html",
        "guide/",
        "x",
        "deep/er/index.html",
        "c++/std.html",
        "a~b/c-d_e.htm",
        "../up.html",
        "./here.html",
        "a/../b.html",
        "a/./b",
        "%2e%2e/x",
        "?q=1",
        "#frag",
        "/abs/x.html",
        "//other.host/x",
        "http://other/x",
        "a//b",
        ".hidden/x",
        "a b.html",
        "é.html",
        "a:b",
    ],
)
@pytest.mark.parametrize("base", ["https://x.org/docs/", "https://x.org/", "https://x.org/docs", "https://x.org/d/i?"])
def test_join_page_is_urljoin(base: str, page: str) -> None:
    from urllib.parse import urljoin

    from archiver.config.models import join_page

    assert join_page(base, page) == urljoin(base, page)
