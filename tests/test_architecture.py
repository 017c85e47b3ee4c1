"""The package shows its layers: every import goes down, and no module imports itself round a cycle.

Every import counts, function-level ones included, and so does a module named
in a string (the gate table, the registry's public names): the layer order is
the one `canonry/__init__.py` documents.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tooling" / "canonry"

# bottom to top; a module may import its own layer and the ones before it
LAYERS = ["errors", "store", "compare", "learning", "gates", "publication", "runtime", "report", "cli"]
ROOT_LEAVES = {"canonry.errors": "errors", "canonry._version": "errors"}
MODULE_IN_STRING = re.compile(r"\bcanonry(?:\.[a-z_]+)+")


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("canonry", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


MODULES = module_names()


def layer_of(module: str) -> int | None:
    """The layer index, or None for the package root and `__main__` (the top, above cli)."""
    if module in ROOT_LEAVES:
        return 0
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def imports_of(module: str) -> Iterator[tuple[str, int]]:
    """(imported canonry module, line) for every import and module-naming string in a module."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                yield (full if full in MODULES else target), node.lineno
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in MODULE_IN_STRING.finditer(node.value):
                name = match.group(0)
                while name not in MODULES and "." in name:
                    name = name.rpartition(".")[0]
                if name != "canonry":
                    yield name, node.lineno


def edges() -> dict[str, dict[str, int]]:
    graph: dict[str, dict[str, int]] = {m: {} for m in MODULES}
    for module in MODULES:
        for target, line in imports_of(module):
            while target not in MODULES and "." in target:
                target = target.rpartition(".")[0]
            if target in MODULES and target != module and target != "canonry":
                graph[module].setdefault(target, line)
    return graph


def test_every_import_goes_down() -> None:
    upward = []
    for module, targets in edges().items():
        mine = layer_of(module)
        if mine is None:
            continue
        for target, line in targets.items():
            theirs = layer_of(target)
            if theirs is None or theirs > mine:
                upward.append(f"{MODULES[module].relative_to(PACKAGE)}:{line}: {module} imports {target}")
    assert upward == [], "imports that run up a layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    graph = edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == [], f"import cycles: {cycles}"


@pytest.mark.parametrize("layer", LAYERS[1:])
def test_each_layer_says_what_it_owns_and_may_import(layer: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text())) or ""
    assert "Owns" in doc or layer == "cli", f"{layer}/__init__.py does not say what it owns"
    assert "import" in doc, f"{layer}/__init__.py does not say what it may import"


def test_the_analysis_sees_an_upward_import(tmp_path: Path) -> None:
    # the checker itself must be able to fail: a store module that names a gate is upward
    assert layer_of("canonry.store.repo") < layer_of("canonry.gates.engine")  # type: ignore[operator]
    assert "canonry.gates.engine" in edges()["canonry.publication.publish"] or any(
        t.startswith("canonry.gates") for t in edges()["canonry.publication.publish"]
    )


def _calls_and_raises() -> Iterator[tuple[str, ast.AST]]:
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            yield module, node


def test_no_system_exit_below_cli() -> None:
    # layers below cli raise CanonryError subclasses; only cli turns a result into an exit
    named = [
        (module, node.lineno)
        for module, node in _calls_and_raises()
        if isinstance(node, ast.Name | ast.Attribute)
        and (node.id if isinstance(node, ast.Name) else node.attr) == "SystemExit"
    ]
    assert any(m.startswith("canonry.cli") for m, _ in named), "the scan must see cli's own SystemExit"
    found = [
        f"{MODULES[m].relative_to(PACKAGE)}:{line}" for m, line in named if not m.startswith("canonry.cli")
    ]
    assert found == [], f"SystemExit below cli/: {found}"


def test_every_finding_is_built_with_keywords() -> None:
    # Finding is kw_only, so a positional call fails when it runs; this finds the ones that have not run yet
    calls = [
        (module, node)
        for module, node in _calls_and_raises()
        if isinstance(node, ast.Call)
        and (getattr(node.func, "id", None) or getattr(node.func, "attr", None)) == "Finding"
    ]
    assert len(calls) > 20, "the scan must see the gates' findings"
    found = [f"{MODULES[m].relative_to(PACKAGE)}:{node.lineno}" for m, node in calls if node.args]
    assert found == [], f"Finding(...) with positional arguments: {found}"
