"""Load and validate ``sites.yaml``.

Validation happens once, here: unknown keys, duplicate keys or site names, bad URLs, bad CSS
selectors and wrong types are all :class:`ConfigError`, whose message names the file, the line and
the field (``sites.yaml:7: sites[0].base_url: …``). YAML is composed by hand so that every key
keeps its line. The rest of the code only sees valid config.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from archiver.config.models import Config, Crawl, FieldError, Ignore, Site, Watch
from archiver.errors import ConfigError

Loc = tuple[str | int, ...]


# libyaml's loader when PyYAML was built with it: several times faster on a long page list
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _build(loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: str) -> Any:
    """Turn a composed YAML node into Python data, recording the line of every key and item."""
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise ConfigError(f"{path}:{key_node.start_mark.line + 1}: keys must be strings, got {key!r}")
            if key in out:
                raise ConfigError(
                    f"{path}:{key_node.start_mark.line + 1}: {_dotted(loc + (key,))}: duplicate key {key!r}"
                )
            lines[loc + (key,)] = key_node.start_mark.line + 1
            out[key] = _build(loader, value_node, loc + (key,), lines, path)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, loc + (i,), lines, path) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1


def _describe(err: ErrorDetails) -> tuple[Loc, str]:
    loc: Loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
    msg = str(err["msg"])
    ctx = err.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, FieldError):
        # our model validators run on the parent: point at the nested field they name
        return loc + inner.loc, inner.message
    if err["type"] == "extra_forbidden":
        parent = loc[:-1]
        nested: dict[str, type[BaseModel]] = {"crawl": Crawl, "ignore": Ignore}
        model: type[BaseModel] = Config
        if len(parent) == 2 and parent[0] == "sites":
            model = Site
        elif len(parent) == 3 and parent[0] == "sites" and str(parent[2]) in nested:
            model = nested[str(parent[2])]
        elif len(parent) == 4 and parent[0] == "sites" and parent[2] == "watch":
            model = Watch
        close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.6)
        if close:
            return loc, f"unknown field (did you mean {close[0]}?)"  # (the location names the field)
        allowed = ", ".join(model.model_fields)
        return loc, f"unknown field (allowed: {allowed})"
    if err["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    if err["type"] == "missing":
        msg = "required field is missing"
    given = err.get("input")
    if err["type"] in _NUMBERS and isinstance(given, str) and _number(given):
        msg = f"write {given.strip()} without quotes: a number, not text"
    elif err["type"] in _EXPECTED:
        msg = f"expected {_EXPECTED[err['type']]}, got {_kind(given)}"
    elif err["type"] == "model_type" or err["type"] == "dict_type":
        msg = f"expected a mapping of settings (key: value lines below it), got {_kind(given)}"
    return loc, msg


_NUMBERS = ("int_type", "int_parsing", "float_type", "float_parsing")
_EXPECTED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "list_type": "a list ([a, b] or lines starting with '- ')",
}


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _kind(value: object) -> str:
    """What a YAML value is, in a user's words."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _compose(text: str, path: str) -> tuple[Any, dict[Loc, int]]:
    """The YAML's data and the line of every key and item in it (ConfigError if it does not parse)."""
    lines: dict[Loc, int] = {}
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = _build(loader, node, (), lines, path) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        lines_of = text.splitlines()
        if mark is not None and mark.line < len(lines_of) and "\t" in lines_of[mark.line][: mark.column + 1]:
            problem = "tabs are not allowed for indentation in YAML: indent with spaces"
        raise ConfigError(f"{path}:{line}: malformed YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {exc}") from exc
    return data, lines


def parse_config(text: str, path: str = "sites.yaml") -> Config:
    """Parse and validate config text; ``path`` is only used in messages."""
    data, lines = _compose(text, path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping with a 'sites:' list at the top level")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # an unknown field says more than the required one it hides ("base_ulr" -> base_url missing)
        errors.sort(key=lambda e: e["type"] != "extra_forbidden")
        loc, msg = _describe(errors[0])
        raise ConfigError(f"{path}:{_line_for(loc, lines)}: {_dotted(loc)}: {msg}") from None


def load_config(path: str | Path) -> Config:
    """Read and validate a ``sites.yaml`` file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found (create one with 'archiver init')") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read config: {exc}") from exc
    return parse_config(text, str(p))


def field_location(path: str | Path, loc: Loc) -> str:
    """Where a field of a loaded ``sites.yaml`` is, as its errors say it: ``sites.yaml:7: sites[1].schedule``.

    For messages about a valid config that a command still cannot use (a schedule systemd cannot
    express); the file is read again, and a field it does not set is placed at its nearest parent.
    """
    try:
        _, lines = _compose(Path(path).read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ConfigError):
        lines = {}
    return f"{path}:{_line_for(loc, lines)}: {_dotted(loc)}"
