"""API specs (OpenAPI 3, Swagger 2, JSON Schema) as canonical YAML, and what changed between two.

A spec is recognised by its content, whatever it was served as: a top-level ``openapi:`` or
``swagger:`` key, or a ``$schema`` string. It is stored as YAML in one order for any order of the
served keys: the conventional one at the top (openapi, info, servers, …, paths, components), a
fixed order of well-known fields inside objects (``name``, ``in``, ``required`` before
``description``, HTTP methods in ``get put post delete`` order), everything else sorted; one value
per line (block style, long or multi-line strings as literal blocks, no anchors or aliases), so
git's diff is one line per field. ``$ref`` is kept as written, never expanded, so a cycle of refs
costs nothing; a YAML alias cycle, nesting deeper than ``MAX_DEPTH`` or more than ``MAX_VALUES``
values (an alias bomb) make the spec "not parsed", and it is kept as text.

:func:`compare` reads two stored versions and lists what a client of the API would care about.
Pure: no I/O.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml

from archiver.errors import InvalidJSONError
from archiver.models import ApiChange

MAX_DEPTH = 200  # nesting of objects and lists
MAX_VALUES = 4_000_000  # values in one spec (a 5 MB spec has a few hundred thousand)
LONG_STRING = 80  # characters: a longer string becomes a literal block
MAX_SCHEMA_DEPTH = 12  # how deep compare looks into nested properties

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when it is there: ~10× faster
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# the order of well-known keys in any object (the top level's conventional order included); others sorted after
_ORDER = (
    "openapi", "swagger", "$schema", "$id", "$ref", "operationId", "name", "in", "title", "summary",
    "version", "type", "format", "required", "deprecated", "nullable", "readOnly", "writeOnly",
    "description", "info", "jsonSchemaDialect", "servers", "host", "basePath", "schemes", "consumes",
    "produces", "tags", "security", "externalDocs", "url", "email", "default", "const", "enum",
    "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "minLength", "maxLength", "pattern",
    "minItems", "maxItems", "uniqueItems", "schema", "parameters", *METHODS, "requestBody", "content",
    "items", "properties", "additionalProperties", "allOf", "oneOf", "anyOf", "not", "discriminator",
    "responses", "headers", "links", "callbacks", "example", "examples", "paths", "webhooks",
    "components", "definitions", "securityDefinitions", "$defs",
)  # fmt: skip
_RANK = {key: i for i, key in enumerate(_ORDER)}
# keys whose value maps names (paths, codes, property names…) to objects: those names are sorted
_NAME_MAPS = frozenset(
    {
        "paths", "webhooks", "properties", "patternProperties", "definitions", "$defs", "schemas",
        "responses", "parameters", "requestBodies", "securitySchemes", "securityDefinitions", "examples",
        "headers", "links", "callbacks", "content", "encoding", "variables", "scopes", "mapping",
        "pathItems", "dependentSchemas",
    }
)  # fmt: skip
_SPEC_KEY = re.compile(r"""^["']?(?:openapi|swagger|\$schema)["']?\s*:""", re.MULTILINE)
_SPEC_URL = re.compile(r"\.(?:json|ya?ml)$", re.IGNORECASE)


def kind(data: object) -> str | None:
    """``openapi``, ``swagger``, ``jsonschema``, or None if ``data`` is no API spec."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("openapi"), str) and isinstance(data.get("paths", data.get("webhooks", {})), dict):
        return "openapi"
    if str(data.get("swagger", "")).startswith("2") and isinstance(data.get("paths", {}), dict):
        return "swagger"
    if isinstance(data.get("$schema"), str):
        return "jsonschema"
    return None


def may_be_spec(url: str) -> bool:
    """A URL whose body is worth a look for a spec even when served as ``application/octet-stream``."""
    return bool(_SPEC_URL.search(urlsplit(url).path))


def read(text: str, page_kind: str) -> dict[str, Any] | None:
    """The spec in ``text`` (a page of kind ``json``, ``yaml``, ``text`` or ``other``), or None if it
    is none; InvalidJSONError if it says it is one (its first key) but does not parse."""
    head = text.lstrip()[:1]
    if page_kind == "json" or head in ("{", "["):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            if page_kind == "json":
                return None  # (the JSON path says it is invalid)
            data = None
        if data is not None:
            return data if kind(data) else None
    if not _SPEC_KEY.search(text[:65536]):
        return None  # a plain text page, or YAML that is no spec: not worth parsing
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader, C or Python)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise InvalidJSONError(f"API spec does not parse: {_first_line(exc)}") from exc
    return data if kind(data) else None


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def _rank(key: str) -> tuple[int, str]:
    return _RANK.get(key, len(_ORDER)), key


class _Canon:
    """Copies a loaded spec into plain dicts and lists in canonical order, with bounds."""

    def __init__(self) -> None:
        self.budget = MAX_VALUES
        self.open: set[int] = set()  # ids of the containers being copied (an alias cycle if met again)

    def copy(self, value: Any, key: str, names: bool, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise InvalidJSONError(f"API spec too large: more than {MAX_VALUES:,} values (an alias bomb?)")
        if depth > MAX_DEPTH:
            raise InvalidJSONError(f"API spec nested deeper than {MAX_DEPTH} levels")
        if not isinstance(value, dict | list):
            return value
        if id(value) in self.open:
            raise InvalidJSONError("API spec refers to itself (a cycle of YAML aliases)")
        self.open.add(id(value))
        try:
            if isinstance(value, list):
                items = [self.copy(v, key, False, depth + 1) for v in value]
                if key == "required" and all(isinstance(v, str) for v in items):
                    items = sorted(set(items))  # a set of property names: its order means nothing
                return items
            plain = {str(k): v for k, v in value.items()}
            keys = sorted(plain) if names else sorted(plain, key=_rank)
            return {k: self.copy(plain[k], k, not names and k in _NAME_MAPS, depth + 1) for k in keys}
        finally:
            self.open.discard(id(value))


class _Dumper(_BaseDumper):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True  # every value written out where it is: no anchors, no aliases


def _string(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value or len(value) > LONG_STRING else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def canonical(spec: dict[str, Any], url: str) -> str:
    """The stored form of ``spec`` (see the module docstring), after a ``# source:`` comment line."""
    data = _Canon().copy(spec, "", False, 0)
    try:
        text = yaml.dump(
            data, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True, width=1_000_000
        )
    except (yaml.YAMLError, ValueError) as exc:
        raise InvalidJSONError(f"API spec cannot be written as YAML: {_first_line(exc)}") from exc
    return f"# source: {url}\n{text}"


def spec_links(page: str, url: str) -> tuple[str, ...]:
    """The specs a Swagger UI, Redoc, RapiDoc or Elements page loads (``SwaggerUIBundle({url: …})``,
    ``urls: [{url: …}]``, ``<redoc spec-url=…>``, ``Redoc.init("…")``), as absolute http(s) URLs."""
    found: list[str] = []
    if "SwaggerUIBundle" in page:  # (plain substring checks first: every HTML page comes through here)
        for m in _SWAGGER_UI.finditer(page):
            window = page[m.end() : m.end() + 20_000]
            found += [u.group(2) for u in _URL_FIELD.finditer(window)]
    if "spec-url" in page or "apiDescriptionUrl" in page:
        found += [m.group(1) for m in _ELEMENT_SPEC.finditer(page)]
    if "Redoc.init" in page:
        found += [m.group(2) for m in _REDOC_INIT.finditer(page)]
    out: list[str] = []
    for raw in found:
        target = urljoin(url, html.unescape(raw.strip())).split("#", 1)[0]
        if urlsplit(target).scheme in ("http", "https") and target not in out:
            out.append(target)
    return tuple(out)


_SWAGGER_UI = re.compile(r"SwaggerUIBundle\s*\(\s*\{")
_URL_FIELD = re.compile(r"""(?<![\w$])["']?url["']?\s*:\s*(["'`])([^"'`\s]+)\1""")
_ELEMENT_SPEC = re.compile(
    r"""<(?:redoc|rapi-doc|elements-api)\b[^>]*?\b(?:spec-url|apiDescriptionUrl)\s*=\s*["']([^"']+)["']""",
    re.IGNORECASE,
)
_REDOC_INIT = re.compile(r"""Redoc\.init\(\s*(["'`])([^"'`\s]+)\1""")


# --- what changed between two versions --------------------------------------------------------


def load_stored(text: str | None) -> dict[str, Any] | None:
    """A stored version back as data (also an older archive's pretty JSON), or None if it is no spec."""
    if not text:
        return None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    return data if kind(data) else None


def compare(old: str | None, new: str) -> list[ApiChange]:
    """What changed from the stored spec ``old`` to ``new``: breaking changes first, then the rest,
    each group in the spec's order. A spec new to the archive is one line; unreadable text none."""
    after = load_stored(new)
    if after is None:
        return []
    before = load_stored(old)
    if before is None:
        ops, schemas = sum(1 for _ in _operations(after)), len(_schemas(after))
        return [ApiChange("new API spec", f"{_count(ops, 'operation')}, {_count(schemas, 'schema')}")]
    changes = list(_operation_changes(before, after)) + list(_schema_changes(before, after))
    return [c for c in changes if c.breaking] + [c for c in changes if not c.breaking]


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(``METHOD /path``, the operation, its path item) for every operation of the spec."""
    paths = spec.get("paths")
    if not isinstance(paths, dict):
        return
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                yield f"{method.upper()} {path}", op, item


def _resolve(spec: dict[str, Any], value: Any) -> Any:
    """A local ``$ref`` followed (a few hops at most: a cycle of refs ends as the ref itself)."""
    for _ in range(8):
        if not (isinstance(value, dict) and isinstance(value.get("$ref"), str)):
            return value
        ref = value["$ref"]
        if not ref.startswith("#/"):
            return value
        target: Any = spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        if target is None:
            return value
        value = target
    return value


def _parameters(spec: dict[str, Any], op: dict[str, Any], item: dict[str, Any]) -> dict[str, bool]:
    """An operation's parameters (``query limit``) → required; the path item's, unless overridden."""
    out: dict[str, bool] = {}
    for source in (item.get("parameters"), op.get("parameters")):
        for raw in source if isinstance(source, list) else []:
            param = _resolve(spec, raw)
            if not isinstance(param, dict):
                continue
            if "name" in param:
                out[f"{param.get('in', '?')} {param['name']}"] = param.get("required") is True
            elif isinstance(param.get("$ref"), str):
                out[f"ref {param['$ref']}"] = False
    return out


def _responses(op: dict[str, Any]) -> list[str]:
    responses = op.get("responses")
    return [str(code) for code in responses] if isinstance(responses, dict) else []


def _operation_changes(before: dict[str, Any], after: dict[str, Any]) -> Iterator[ApiChange]:
    old = {name: (op, item) for name, op, item in _operations(before)}
    new = {name: (op, item) for name, op, item in _operations(after)}
    for name in old:
        if name not in new:
            yield ApiChange("operation removed", name, breaking=True)
    for name, (op, item) in new.items():
        if name not in old:
            yield ApiChange("operation added", name)
            continue
        was = _parameters(before, *old[name])
        now = _parameters(after, op, item)
        for param, required in now.items():
            where = f"{name} {param}"
            if param not in was:
                yield ApiChange("required parameter added" if required else "parameter added", where, required)
            elif required and not was[param]:
                yield ApiChange("parameter now required", where, breaking=True)
            elif was[param] and not required:
                yield ApiChange("parameter no longer required", where)
        for param in was:
            if param not in now:
                yield ApiChange("parameter removed", f"{name} {param}")
        codes_was, codes_now = _responses(old[name][0]), _responses(op)
        for code in codes_was:
            if code not in codes_now:
                yield ApiChange("response removed", f"{name} {code}", breaking=True)
        for code in codes_now:
            if code not in codes_was:
                yield ApiChange("response added", f"{name} {code}")


def _schemas(spec: dict[str, Any]) -> dict[str, Any]:
    """Named schemas: ``components.schemas``, ``definitions``, ``$defs``; a JSON Schema's root too."""
    out: dict[str, Any] = {}
    components = spec.get("components")
    for group in (
        components.get("schemas") if isinstance(components, dict) else None,
        spec.get("definitions"),
        spec.get("$defs"),
    ):
        if isinstance(group, dict):
            out.update({str(name): schema for name, schema in group.items() if isinstance(schema, dict)})
    if kind(spec) == "jsonschema":
        out["(root)"] = spec
    return out


def _type(schema: dict[str, Any]) -> str | None:
    value = schema.get("type")
    if isinstance(value, list):
        return " | ".join(sorted(str(v) for v in value))
    return None if value is None else str(value)


def _schema_changes(before: dict[str, Any], after: dict[str, Any]) -> Iterator[ApiChange]:
    old, new = _schemas(before), _schemas(after)
    for name in old:
        if name not in new:
            yield ApiChange("schema removed", name)
    for name, schema in new.items():
        if name not in old:
            yield ApiChange("schema added", name)
        else:
            yield from _compare_schema(old[name], schema, name, 0)


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    found = schema.get("properties")
    return found if isinstance(found, dict) else {}


def _compare_schema(old: dict[str, Any], new: dict[str, Any], where: str, depth: int) -> Iterator[ApiChange]:
    """Properties added / removed and types changed, into nested properties and items (refs not
    followed: the schema they name is compared under its own name)."""
    if depth > MAX_SCHEMA_DEPTH:
        return
    was, now = _type(old), _type(new)
    if was is not None and now is not None and was != now:
        yield ApiChange("type changed", f"{where}: {was} → {now}", breaking=True)
    props_was, props_now = _properties(old), _properties(new)
    for prop in props_was:
        if prop not in props_now:
            yield ApiChange("property removed", f"{where}.{prop}", breaking=True)
    for prop, schema in props_now.items():
        if prop not in props_was:
            yield ApiChange("property added", f"{where}.{prop}")
        elif isinstance(schema, dict) and isinstance(props_was[prop], dict):
            yield from _compare_schema(props_was[prop], schema, f"{where}.{prop}", depth + 1)
    items_was, items_now = old.get("items"), new.get("items")
    if isinstance(items_was, dict) and isinstance(items_now, dict):
        yield from _compare_schema(items_was, items_now, f"{where}[]", depth + 1)
