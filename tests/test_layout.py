"""The import contract: the folder listing is the architecture drawing, and the code keeps to it.

Read from the source with ``ast`` (every import, also those inside functions and under
TYPE_CHECKING), so a circle or a library in the wrong folder fails here, not in review. The layers
are the ones drawn in ``docs/architecture.md``; change both together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "archiver"

# top to bottom; a unit imports only from units below it (never beside it), or from inside itself
LAYERS: list[set[str]] = [
    {"cli"},
    {"daemon", "demo"},
    {"run"},
    {"fetch", "convert", "report"},
    {"archive", "config"},
    {"schedules", "paths", "models", "errors", "files", "text", "urls", "shards"},
]

# outside library (top-level name or dotted prefix) -> where it may be imported (units or modules)
OWNERS: dict[str, set[str]] = {
    "httpx": {"fetch"},
    "httpcore": {"fetch"},
    "git": {"archive"},
    "typer": {"cli"},
    "rich": {"cli"},
    "apscheduler.schedulers": {"daemon"},
    "apscheduler.executors": {"daemon"},
    "apscheduler.triggers": {"schedules"},
    "apprise": {"run.notify"},
    "markdownify": {"convert.markdown"},
    "bs4": {"convert.markdown"},
    "lxml": {"fetch", "convert"},
    "pydantic": {"config"},
    "pydantic_core": {"config"},
    "yaml": {"config", "convert.apispec"},
    "cssselect": {"config"},
}


def modules() -> dict[str, Path]:
    """Dotted names under ``archiver`` (``run.pipeline``, ``cli``…) → their file."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(name: str, path: Path) -> list[tuple[int, str]]:
    """(line, absolute dotted module) of every import in the file, ``archiver.`` included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = ["archiver", *name.split(".")] if path.name == "__init__.py" else ["archiver", *name.split(".")[:-1]]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((node.lineno, base))
            # "from archiver.run import notify" imports the module archiver.run.notify
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if base.startswith("archiver")]
    return found


def unit(name: str) -> str:
    return name.split(".")[0] if name else ""


def layer(name: str) -> int:
    return next(i for i, units in enumerate(LAYERS) if unit(name) in units)


def internal_edges() -> dict[str, set[tuple[int, str]]]:
    """Module → the archiver modules it imports (names that are modules, not attributes)."""
    mods = modules()
    edges: dict[str, set[tuple[int, str]]] = {}
    for name, path in mods.items():
        edges[name] = set()
        for line, target in imports(name, path):
            if target == "archiver" or not target.startswith("archiver."):
                continue
            rel = target.removeprefix("archiver.")
            if rel in mods:
                edges[name].add((line, rel))
    return edges


def test_every_unit_has_a_layer() -> None:
    placed = set().union(*LAYERS)
    units = {unit(name) for name in modules() if name}
    assert units - {"__main__"} <= placed, f"not in LAYERS: {sorted(units - placed - {'__main__'})}"


def layer_violations() -> list[str]:
    bad = []
    for name, targets in internal_edges().items():
        if not name or name == "__main__":
            continue
        for line, target in sorted(targets):
            if unit(target) == unit(name):
                continue
            if layer(target) <= layer(name):
                where = "beside" if layer(target) == layer(name) else "above"
                bad.append(f"archiver/{name.replace('.', '/')}: line {line} imports {target} ({where} it)")
    return bad


def test_imports_point_down_the_layers() -> None:
    assert layer_violations() == []


def circles() -> list[list[str]]:
    edges = {name: {t for _, t in targets} for name, targets in internal_edges().items()}
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            # a package's face importing its own modules is how packages work, not a circle
            if nxt.startswith(node + ".") or (node == "" and nxt):
                continue
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    return found


def test_no_import_circles() -> None:
    assert circles() == []


def owner_violations() -> list[str]:
    bad = []
    for name, path in modules().items():
        for line, target in imports(name, path):
            for library, owners in OWNERS.items():
                if target != library and not target.startswith(library + "."):
                    continue
                if not any(name == o or name.startswith(o + ".") for o in owners):
                    bad.append(f"archiver/{name.replace('.', '/') or '__init__'}: line {line} imports {target}")
    return bad


def test_each_outside_library_lives_in_its_folder() -> None:
    assert owner_violations() == []


@pytest.mark.parametrize("face", ["archive", "cli", "config", "convert", "daemon", "fetch", "report", "run"])
def test_faces_stay_thin(face: str) -> None:
    """A folder's ``__init__`` only re-exports: no functions, no classes, no logic."""
    tree = ast.parse((PACKAGE / face / "__init__.py").read_text(encoding="utf-8"))
    kinds = {type(node).__name__ for node in tree.body} - {"Expr", "ImportFrom", "Assign"}
    assert kinds == set(), f"{face}/__init__.py holds {sorted(kinds)}"


def test_the_contract_reads_real_imports() -> None:
    """The checks above see what they must: known edges and library imports are found."""
    edges = internal_edges()
    assert (any(t == "run.pipeline" for _, t in edges["run.publish"])) and edges["cli.main"]
    libs = {t for n, p in modules().items() if n == "fetch.client" for _, t in imports(n, p)}
    assert "httpx" in libs
