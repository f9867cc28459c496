"""The house rules, read from the source: imports run one way, the engines stand alone, the services
speak no HTTP. An `ast` walk over every module of the four packages (imports inside functions count;
those under `if TYPE_CHECKING:` do not, as they never run)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("parcours", "docgen", "signing", "webhooks")
ENGINES = ("docgen", "signing", "webhooks")
WITHOUT_HTTP = ("parcours.service", "parcours.models", "parcours.jobs", "parcours.container", "parcours.errors",
                "parcours.reports", "parcours.db", "parcours.blobs", "parcours.settings", "parcours.resources")
"""Modules a worker or a command uses: none of them may import Flask or the HTTP layer."""


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The project module an imported name lives in (a module, or the package a name comes from)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _runtime_imports(tree: ast.AST):
    """Import nodes, skipping `if TYPE_CHECKING:` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _runtime_imports(node)


def _imports(module: str, path: Path) -> set[str]:
    """Every name `module` imports: dotted module names, and `package.name` for `from package import name`."""
    names = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package
            for _ in range(node.level - 1):
                anchor = anchor.rpartition(".")[0]
            base = f"{anchor}.{base}".rstrip(".")
        named = {f"{base}.{alias.name}" for alias in node.names}
        names.update(named)
        if named - MODULES.keys():  # `from package import module` depends on the module, not on the package's names
            names.add(base)
    return names


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        targets = set()
        for name in _imports(module, path):
            owner = _owner(name)
            if owner and owner != module:
                targets.add(owner)
        graph[module] = targets
    return graph


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_the_project():
    assert len(MODULES) > 80
    assert "parcours.service.batches" in GRAPH["parcours.jobs.handlers"]
    assert "parcours.http.api.templates" in GRAPH["parcours.http.api"]


def test_no_import_circle_anywhere():
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_engine_imports_neither_parcours_nor_flask_nor_another_engine(engine):
    wrong = {}
    for module, path in MODULES.items():
        if module.split(".")[0] != engine:
            continue
        names = {name.split(".")[0] for name in _imports(module, path)}
        bad = names & ({"parcours", "flask", "werkzeug", *PACKAGES} - {engine})
        if bad:
            wrong[module] = sorted(bad)
    assert wrong == {}


def test_the_services_models_and_jobs_import_no_flask_and_no_http_layer():
    wrong = {}
    for module, path in MODULES.items():
        if not module.startswith(WITHOUT_HTTP):
            continue
        names = _imports(module, path)
        bad = {n for n in names if n.split(".")[0] in ("flask", "werkzeug") or n.startswith(("parcours.http", "parcours.app", "parcours.cli"))}
        if bad:
            wrong[module] = sorted(bad)
    assert wrong == {}


def test_a_plain_process_loads_every_service_and_handler_without_flask():
    """Transitively, not only by the module's own lines: a worker process must not pay for Flask."""
    script = ("import pkgutil, importlib, sys\n"
              "import parcours.service, parcours.jobs.handlers, parcours.container, parcours.reports\n"
              "for m in pkgutil.iter_modules(parcours.service.__path__):\n"
              "    importlib.import_module('parcours.service.' + m.name)\n"
              "print(sorted(k for k in sys.modules if k.split('.')[0] in ('flask', 'werkzeug')))\n")
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
