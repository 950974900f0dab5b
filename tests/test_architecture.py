"""The import rules of docs/architecture (DESIGN.md, "Parts and how they plug in"), read from the
source with an AST walk: every import counts, including function-local and TYPE_CHECKING ones.

- no part imports the composition root (gateway.app) or the CLI module (gateway.cli);
- gateway/store/ imports no part;
- ports (gateway/ports.py) import no part;
- no import circles anywhere under gateway/.
"""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.assembly import all_parts

GATEWAY = Path(__file__).resolve().parents[1] / "gateway"
PART_PACKAGES = ("consent", "rules", "sync", "tts", "voice", "api", "wyoming", "analytics")


def _modules() -> dict[str, Path]:
    found = {}
    for path in GATEWAY.rglob("*.py"):
        parts = path.relative_to(GATEWAY.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    """The gateway modules `path` imports (a package's __init__ counts as the package)."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named.add(node.module)
            named.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in named if name in known}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, known) - {name} for name, path in modules.items()}


def _part_of(module: str) -> str | None:
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 and pieces[1] in PART_PACKAGES else None


def test_no_part_imports_the_root_or_the_cli() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if _part_of(module) is not None
        for target in targets
        if target in ("gateway.app", "gateway.cli")
    )
    assert wrong == []


def test_the_store_and_the_ports_import_no_part() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if module.startswith("gateway.store") or module == "gateway.ports"
        for target in targets
        if _part_of(target) is not None
    )
    assert wrong == []


def test_no_import_circles() -> None:
    graph = _graph()
    circles = [sorted(component) for component in _strongly_connected(graph) if len(component) > 1]
    assert circles == []


def test_the_walk_sees_what_it_judges() -> None:
    """The rules above would pass on an empty graph: the walk must find real edges."""
    graph = _graph()
    assert "gateway.ports" in graph["gateway.part"]
    assert "gateway.part" in graph["gateway.consent.part"]
    assert any(_part_of(m) == "voice" for m in graph) and "gateway.store" in graph


def test_every_part_is_found_and_named_after_its_package() -> None:
    parts = all_parts()
    assert {p.name for p in parts} == {"consent", "sync", "rules", "tts", "voice", "analytics", "api", "wyoming"}
    for part in parts:
        assert type(part).__module__ == f"gateway.{part.name}.part"


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iteratively (no recursion limit on a deep chain)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for target in edges:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components
