"""API specs as pages: recognised by content, stored as canonical YAML, found behind Swagger UI and
Redoc pages, and each snapshot's "API changes" in the commit body, ``show``, the report and the
digest."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import FaultServer, commit_count, git, make_config, make_site
from typer.testing import CliRunner

from archiver.archive import apichanges
from archiver.archive.repo import ArchiveRepo
from archiver.cli import app
from archiver.convert import apispec
from archiver.convert.page import Rules, page_markdown
from archiver.models import PageStatus
from archiver.report.build import build_report
from archiver.run.notify import change_digest
from archiver.run.pipeline import run

RULES = Rules((), ())


def spec_v1() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Pets", "version": "1.0"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": {
            "/pets": {
                "get": {
                    "operationId": "listPets",
                    "parameters": [
                        {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}},
                        {"$ref": "#/components/parameters/Page"},
                    ],
                    "responses": {"200": {"description": "A list of pets."}, "400": {"description": "Bad."}},
                }
            },
            "/pets/{id}": {
                "get": {"operationId": "showPet", "responses": {"200": {"description": "A pet."}}},
                "delete": {"operationId": "deletePet", "responses": {"204": {"description": "Deleted."}}},
            },
        },
        "components": {
            "parameters": {"Page": {"name": "page", "in": "query", "schema": {"type": "integer"}}},
            "schemas": {
                "Pet": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string", "description": ("The pet's name. " * 8).strip()},
                        "tag": {"type": "string"},
                    },
                }
            },
        },
    }


def spec_v2() -> dict[str, Any]:
    """v1 with DELETE /pets/{id} removed and ``limit`` made required (and a few more changes)."""
    spec = spec_v1()
    del spec["paths"]["/pets/{id}"]["delete"]
    spec["paths"]["/pets"]["get"]["parameters"][0]["required"] = True
    spec["paths"]["/pets"]["post"] = {"operationId": "createPet", "responses": {"201": {"description": "Made."}}}
    return spec


def shuffled(value: Any) -> Any:
    """The same document with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {k: shuffled(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [shuffled(v) for v in value]
    return value


def serve_json(server: FaultServer, path: str, data: Any) -> None:
    server.set_page(path, json.dumps(data).encode(), "application/json")


def message(repo: Path, rev: str = "HEAD") -> str:
    return git(repo, "log", "-1", "--format=%B", rev)


# --- canonical form -----------------------------------------------------------------------------


def test_spec_is_canonical_yaml_in_the_conventional_order() -> None:
    converted = page_markdown(json.dumps(shuffled(spec_v1())).encode(), "application/json", "https://x/o.json", RULES)
    assert converted.spec
    text = converted.markdown
    top = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith((" ", "-", "#"))]
    assert top == ["openapi", "info", "servers", "paths", "components"]
    assert text.index("  /pets:") < text.index("  /pets/{id}:")  # paths sorted
    assert text.index("    get:") < text.index("    delete:")  # methods in their usual order
    assert "- name: limit\n        in: query\n        required: false\n" in text  # one field a line
    assert "description: |-\n" in text  # a long string is a literal block
    assert "{" not in text.replace("{id}", "")  # no flow style
    assert yaml.safe_load(text) == spec_v1()  # nothing lost


def test_yaml_served_as_plain_text_is_recognised_and_aliases_are_written_out() -> None:
    body = (
        b"openapi: 3.1.0\ninfo: {title: T, version: '1'}\n"
        b"paths:\n  /a: &item\n    get: {responses: {'200': {description: ok}}}\n  /b: *item\n"
    )
    converted = page_markdown(body, "text/plain", "https://x/spec", RULES)
    assert converted.spec
    assert "&" not in converted.markdown and "*item" not in converted.markdown
    assert converted.markdown.count("get:") == 2


def test_a_json_page_that_is_no_spec_stays_pretty_json() -> None:
    converted = page_markdown(b'{"b": 1, "a": {"paths": {}}}', "application/json", "https://x/data.json", RULES)
    assert not converted.spec
    assert json.loads(converted.markdown) == {"a": {"paths": {}}, "b": 1}


def test_json_schema_is_a_spec_and_its_property_changes_are_listed() -> None:
    old = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
    }
    new = copy.deepcopy(old)
    del new["properties"]["b"]
    new["properties"]["a"]["type"] = "number"
    texts = [
        page_markdown(json.dumps(s).encode(), "application/schema+json", "https://x/s.json", RULES) for s in (old, new)
    ]
    assert all(t.spec for t in texts)
    changes = apispec.compare(texts[0].markdown, texts[1].markdown)
    assert [(c.what, c.where, c.breaking) for c in changes] == [
        ("property removed", "(root).b", True),
        ("type changed", "(root).a: string → number", True),
    ]


# --- bad input ------------------------------------------------------------------------------------


def test_a_spec_that_does_not_parse_is_kept_as_text_with_a_note(docs_server: FaultServer, archive: ArchiveRepo) -> None:
    body = b"openapi: 3.0.0\ninfo:\n  title: [unclosed\npaths: {}\n"
    docs_server.set_page("/openapi.yaml", body, "application/yaml")
    report = run(make_config(make_site(docs_server.url, ["openapi.yaml"])), archive, workers=1).sites[0]
    (result,) = report.results
    assert result.status is PageStatus.ADDED
    assert result.error and "API spec does not parse" in result.error and "stored as text" in result.error
    assert any("API spec does not parse" in note for note in report.notes)  # said in the run's output
    assert (archive.path / "docs/openapi.yaml.md").read_bytes() == body  # as text, where a text page goes


def test_a_yaml_alias_cycle_or_bomb_is_no_spec_and_costs_bounded_time() -> None:
    cycle = b"openapi: 3.0.0\ninfo: {title: T, version: '1'}\npaths:\n  /a: &a\n    get: *a\n"
    levels = ["a: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb = (
        "openapi: 3.0.0\ninfo: {title: T, version: '1'}\npaths: {}\nx-bomb:\n"
        + "".join(f"  {line}\n" for line in levels)
    ).encode()
    for body in (cycle, bomb):
        started = time.monotonic()
        converted = page_markdown(body, "application/yaml", "https://x/openapi.yaml", RULES)
        assert time.monotonic() - started < 20
        assert not converted.spec and converted.note and "stored as text" in converted.note
        assert converted.markdown.encode() == body


def test_ref_cycles_are_kept_as_refs_and_compared_without_recursion() -> None:
    spec = spec_v1()
    spec["components"]["schemas"]["Node"] = {
        "type": "object",
        "properties": {"next": {"$ref": "#/components/schemas/Node"}},
    }
    spec["components"]["parameters"]["Loop"] = {"$ref": "#/components/parameters/Loop"}
    spec["paths"]["/pets"]["get"]["parameters"].append({"$ref": "#/components/parameters/Loop"})
    new = copy.deepcopy(spec)
    new["components"]["schemas"]["Node"]["properties"]["value"] = {"type": "string"}
    old_text = apispec.canonical(spec, "https://x/o.json")
    new_text = apispec.canonical(new, "https://x/o.json")
    assert "$ref: '#/components/schemas/Node'" in old_text  # kept as written, not expanded
    changes = apispec.compare(old_text, new_text)
    assert [(c.what, c.where) for c in changes] == [("property added", "Node.value")]


def test_a_5_mb_spec_converts_in_bounded_time_and_a_big_change_is_capped() -> None:
    def big(ops: int) -> dict[str, Any]:
        spec = spec_v1()
        for i in range(ops):
            params = [{"name": f"p{j}", "in": "query", "description": "A parameter. " * 6} for j in range(6)]
            spec["paths"][f"/things/{i}"] = {
                "get": {"parameters": params, "responses": {"200": {"description": "ok " * 40}}}
            }
        return spec

    body = json.dumps(big(5200)).encode()
    assert len(body) > 5_000_000
    started = time.monotonic()
    converted = page_markdown(body, "application/json", "https://x/o.json", RULES)
    assert converted.spec and time.monotonic() - started < 30  # ~5 s here under load
    # comparing parses both versions back (PyYAML: ~8 s for 5 MB), so a smaller pair here
    changes = apispec.compare(apispec.canonical(big(1500), "o"), apispec.canonical(big(500), "o"))
    assert len(changes) == 1000 and all(c.what == "operation removed" for c in changes)
    lines = apichanges.summary("o.yaml", changes)
    assert lines[0] == "API changes in o.yaml (1000 breaking):"
    assert len(lines) == apichanges.MAX_LISTED + 2 and lines[-1] == "- … and 960 more"
    (parsed,) = apichanges.parse("\n".join(["subject", "", *lines, "", "Source: x"]))
    assert parsed.breaking == 1000 and parsed.more == 960 and len(parsed.changes) == apichanges.MAX_LISTED


# --- acceptance: a site with an OpenAPI JSON ------------------------------------------------------


def test_removed_operation_and_required_parameter_are_listed_as_breaking_everywhere(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    config = make_config(make_site(docs_server.url, ["openapi.json"]))
    serve_json(docs_server, "/openapi.json", spec_v1())
    run(config, archive, workers=1)
    assert (archive.path / "docs/openapi.yaml").is_file() and not (archive.path / "docs/openapi.json").exists()
    assert "API changes in openapi.yaml:\n- new API spec: 3 operations, 1 schema\n" in message(archive.path)

    serve_json(docs_server, "/openapi.json", spec_v2())
    report = run(config, archive, workers=1).sites[0]
    body = message(archive.path)
    section = body[body.index("API changes in openapi.yaml") :].split("\n\n")[0]
    assert section.splitlines() == [
        "API changes in openapi.yaml (2 breaking):",
        "- BREAKING operation removed: DELETE /pets/{id}",
        "- BREAKING parameter now required: GET /pets query limit",
        "- operation added: POST /pets",
    ]
    assert body.rstrip().splitlines()[-3:][:2] == [f"Source: {docs_server.url}", "Change-Kind: docs"]  # trailers last

    shown = CliRunner().invoke(app, ["show", "docs", "--repo", str(archive.path), "--no-pager"], catch_exceptions=False)
    assert shown.exit_code == 0
    assert "API changes in openapi.yaml (2 breaking):" in shown.output
    assert "BREAKING operation removed: DELETE /pets/{id}" in shown.output
    assert "BREAKING parameter now required: GET /pets query limit" in shown.output

    out = archive.path.parent / "report"
    build_report(archive.path, out)
    page = (out / "docs" / "snap" / f"{report.commit}.html").read_text()
    api = page[page.index("<h2>API changes</h2>") : page.index("<h2>Pages")]
    assert api.count(">breaking</span>") == 2
    assert "operation removed: <code>DELETE /pets/{id}</code>" in api
    assert "parameter now required: <code>GET /pets query limit</code>" in api

    assert report.commit
    digest = change_digest(config, archive.path, "docs", report.commit)
    assert "- BREAKING operation removed: DELETE /pets/{id}" in digest.body


def test_shuffled_key_order_gives_byte_identical_output_and_no_commit(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    config = make_config(make_site(docs_server.url, ["openapi.json"]))
    serve_json(docs_server, "/openapi.json", spec_v1())
    run(config, archive, workers=1)
    before = (archive.path / "docs/openapi.yaml").read_bytes()
    commits = commit_count(archive.path)
    serve_json(docs_server, "/openapi.json", shuffled(spec_v1()))
    report = run(config, archive, workers=1).sites[0]
    assert report.results[0].status is PageStatus.UNCHANGED
    assert report.commit is None and commit_count(archive.path) == commits
    assert (archive.path / "docs/openapi.yaml").read_bytes() == before


SWAGGER_UI = """<!doctype html><html><head><title>API reference</title></head><body>
<h1>API reference</h1><div id="swagger-ui"></div>
<script>
window.onload = () => {
  window.ui = SwaggerUIBundle({
    url: "api/openapi.json",
    dom_id: '#swagger-ui',
    oauth2RedirectUrl: "https://elsewhere.example/oauth2-redirect.html",
  });
};
</script></body></html>"""


def test_the_spec_behind_a_swagger_ui_page_is_archived_and_its_changes_summarised(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    config = make_config(make_site(docs_server.url, ["reference.html"]))
    docs_server.set_page("/reference.html", SWAGGER_UI.encode())
    serve_json(docs_server, "/api/openapi.json", spec_v1())
    first = run(config, archive, workers=1).sites[0]
    assert {r.url: r.status for r in first.results} == {
        docs_server.url + "reference.html": PageStatus.ADDED,
        docs_server.url + "api/openapi.json": PageStatus.ADDED,
    }
    assert (archive.path / "docs/api/openapi.yaml").is_file()
    assert f"- api/openapi.yaml  {docs_server.url}api/openapi.json" in message(archive.path)

    serve_json(docs_server, "/api/openapi.json", spec_v2())  # the UI page itself is unchanged (304 or same body)
    second = run(config, archive, workers=1).sites[0]
    assert {r.url: r.status for r in second.results}[docs_server.url + "api/openapi.json"] is PageStatus.CHANGED
    assert "- BREAKING operation removed: DELETE /pets/{id}" in message(archive.path)

    docs_server.set_page("/reference.html", b"<main><h1>API reference</h1><p>Moved to the new portal.</p></main>")
    run(config, archive, workers=1)  # (this run still fetches it: only now it is known to be unused)
    assert (archive.path / "docs/api/openapi.yaml").exists()
    run(config, archive, workers=1)  # no page loads the spec any more: it goes like an unlisted page
    assert not (archive.path / "docs/api/openapi.yaml").exists()


def test_redoc_and_swagger_urls_are_found_and_specs_outside_the_base_url_are_not_followed(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    page = """<html><body><h1>Ref</h1><redoc spec-url="/docs/redoc.yaml"></redoc>
    <script>Redoc.init('https://cdn.example/other.json', {}, el);
    SwaggerUIBundle({ urls: [{url: "/docs/a.json", name: "A"},
                             {url: '/elsewhere/b.json', name: "B"}] })</script></body></html>"""
    found = apispec.spec_links(page, "http://127.0.0.1:1/docs/ref.html")
    assert found == (
        "http://127.0.0.1:1/docs/a.json",
        "http://127.0.0.1:1/elsewhere/b.json",
        "http://127.0.0.1:1/docs/redoc.yaml",
        "https://cdn.example/other.json",
    )
    docs_server.set_page("/docs/ref.html", page.encode())
    docs_server.set_page("/docs/redoc.yaml", yaml.safe_dump(spec_v1()).encode(), "application/yaml")
    serve_json(docs_server, "/docs/a.json", spec_v2())
    serve_json(docs_server, "/elsewhere/b.json", spec_v1())
    run(make_config(make_site(docs_server.url + "docs/", ["ref.html"])), archive, workers=1)
    assert sorted(p.name for p in (archive.path / "docs").iterdir()) == ["a.yaml", "redoc.yaml", "ref.md"]
    assert "/elsewhere/b.json" not in docs_server.hits


@pytest.mark.parametrize("served", ["openapi.json", "openapi.yaml"])
def test_json_and_yaml_of_one_spec_are_stored_alike(
    docs_server: FaultServer, archive: ArchiveRepo, served: str
) -> None:
    body = json.dumps(spec_v1()).encode() if served.endswith(".json") else yaml.safe_dump(spec_v1()).encode()
    docs_server.set_page("/" + served, body, "application/octet-stream")
    run(make_config(make_site(docs_server.url, [served])), archive, workers=1)
    text = (archive.path / "docs/openapi.yaml").read_text()
    assert text.split("\n", 1)[1] == apispec.canonical(spec_v1(), "x").split("\n", 1)[1]


def test_an_archive_from_before_specs_moves_its_json_to_yaml_in_a_rules_commit(
    docs_server: FaultServer, archive: ArchiveRepo
) -> None:
    config = make_config(make_site(docs_server.url, ["openapi.json"]))
    serve_json(docs_server, "/openapi.json", spec_v1())
    run(config, archive, workers=1)
    # make it what an older archiver left: the spec as pretty JSON under openapi.json, older rules
    site = archive.path / "docs"
    (site / "openapi.yaml").unlink()
    (site / "openapi.json").write_text(json.dumps(spec_v1(), indent=2, sort_keys=True) + "\n")
    git(archive.path, "add", "--all")
    git(archive.path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "docs: older")
    state_file = archive.state_dir / "docs.json"
    state = json.loads(state_file.read_text())
    (page,) = state["pages"].values()
    page["path"], state["rules"] = "openapi.json", "older-rules"
    state_file.write_text(json.dumps(state))
    commits = commit_count(archive.path)

    report = run(config, archive, workers=1).sites[0]
    assert commit_count(archive.path) == commits + 1  # the move, as a rules change; the docs did not change
    assert "Change-Kind: rules" in message(archive.path)
    assert "- openapi.yaml  " in message(archive.path) and "API changes" not in message(archive.path)
    assert (site / "openapi.yaml").is_file() and not (site / "openapi.json").exists()
    assert report.commit is None
