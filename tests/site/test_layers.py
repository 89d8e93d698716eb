"""The shape of the code: no import cycle among the project's modules, and no module reaching
into another's private names. (The floor order itself is import-linter's contracts in
pyproject.toml, run by `make lint`.)"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sogoms_site", "tenants", "crud", "mail", "realtime", "cron")


def project_modules() -> dict[str, ast.Module]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = ast.parse(path.read_text(), filename=str(path))
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, tree: ast.Module, known: set[str]) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import, deferred ones included;
    imports only for type checkers are left out, as they never run."""
    found: list[tuple[str, list[str]]] = []
    package = (
        name if name in known and any(m.startswith(name + ".") for m in known) else name.rpartition(".")[0]
    )

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from pkg import module` imports the module; otherwise a name of `base`.
                if f"{base}.{alias.name}" in known:
                    found.append((f"{base}.{alias.name}", []))
                else:
                    found.append((base, [alias.name]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return [(module, names) for module, names in found if module in known]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            connect(node)
    return found


def test_the_cycle_finder_finds_a_cycle_and_no_false_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_project_takes_part_in_an_import_cycle():
    modules = project_modules()
    known = set(modules)
    graph = {
        name: {target for target, _ in imports_of(name, tree, known) if target != name}
        for name, tree in modules.items()
    }
    # A package's __init__ that re-exports its own submodules is not a cycle of behaviour.
    for name in graph:
        graph[name] = {t for t in graph[name] if not (name.startswith(t + ".") and t in known)}
    assert cycles(graph) == []


def test_no_module_imports_a_private_name_of_another():
    modules = project_modules()
    known = set(modules)
    private = [
        f"{name} imports {module}.{taken}"
        for name, tree in modules.items()
        for module, names in imports_of(name, tree, known)
        for taken in names
        if module != name and taken.startswith("_") and not taken.startswith("__")
    ]
    assert private == []
