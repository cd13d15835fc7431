"""Tasks call services; services only name tasks (console.services.run_kinds.enqueue sends by task name).

The import graph is read from the source, function-local imports included, since a cycle hidden inside a
function still ties the two layers together."""

from __future__ import annotations

import ast
from pathlib import Path

import console

ROOT = Path(console.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Every console module this file imports anywhere in it (``from console import tasks`` included)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for path in ROOT.rglob("*.py") if "migrations" not in path.parts}
    known = set(files)
    return {module: _imports(path, module, known) for module, path in files.items()}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_graph_sees_function_local_imports():
    graph = import_graph()
    assert "console.services.runs" in graph["console.services.leases"]  # top-level
    assert "console.services.images" in graph["console.services.syncs"]  # inside _detect_images
    assert "console.services.run_kinds" in graph["console.tasks"]


def test_no_cycle_between_services_and_tasks():
    graph = import_graph()
    services = sorted(module for module in graph if module.startswith("console.services"))
    assert services
    reaching_tasks = [module for module in services if "console.tasks" in _reachable(graph, module)]
    assert reaching_tasks == [], f"these services import console.tasks (directly or through others): {reaching_tasks}"
