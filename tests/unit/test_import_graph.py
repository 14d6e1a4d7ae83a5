"""The package's import graph: no cycle outside the Faust wiring, no simulator in production code,
and nothing outside the wiring builds the Faust app when imported.

The graph is read with ``ast`` from the source, so it sees every import, including those inside
functions (a lazy import hides a cycle, it does not remove it); imports under
``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = "npo_integration"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE
SIMULATORS = ("npo_integration.sandbox", "npo_sandbox")

WIRING = (
    "npo_integration.app",
    "npo_integration.agents",
    "npo_integration.timers",
    "npo_integration.views",
    "npo_integration.tables",
    "npo_integration.worker_resources",
    "npo_integration.grant_broker",  # sets the HTTP client's grant broker
    "npo_integration.boot",
    "npo_integration.sensors",
    "npo_integration.cli.main",
    "npo_integration.cli.__main__",
    "npo_integration.topics",  # the topics are declared on the app (app.topic)
)
"""Faust's own wiring: the app and what registers on it. These may import each other."""


def _is_under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _runtime_nodes(tree: ast.Module) -> list[ast.stmt | ast.expr]:
    """Every node of the module except what is under ``if TYPE_CHECKING:``."""
    nodes: list[ast.stmt | ast.expr] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.stmt | ast.expr):
            nodes.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def _imported(module: str, path: Path) -> set[str]:
    """Every module name ``module`` imports (absolute, of any package)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)  # submodules
    return names


def _graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports; importing ``a.b.c`` also imports ``a.b``."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges: set[str] = set()
        for name in _imported(module, path):
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                target = ".".join(parts[:end])
                if target in MODULES and target != module and not module.startswith(target + "."):
                    edges.add(target)
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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


def _path(graph: dict[str, set[str]], start: str, members: set[str]) -> list[str]:
    """One cycle through ``start`` within ``members``, for the failure message."""
    trail = [start]
    seen = {start}
    while True:
        targets = sorted(graph[trail[-1]] & members)
        if start in targets and len(trail) > 1:
            return [*trail, start]
        step = next((t for t in targets if t not in seen), None)
        if step is None:
            return [*trail, "..."]
        trail.append(step)
        seen.add(step)


def test_no_import_cycle_outside_the_faust_wiring() -> None:
    graph = _graph()
    production = {m: e for m, e in graph.items() if not _is_under(m, SIMULATORS)}
    problems = []
    for component in _cycles(production):
        outside = [m for m in component if not _is_under(m, WIRING)]
        if outside:
            members = set(component)
            problems.append(" -> ".join(_path(production, outside[0], members)))
    assert not problems, "import cycles outside the Faust wiring:\n" + "\n".join(problems)


def test_the_production_package_does_not_import_the_simulator() -> None:
    offenders = sorted(
        f"{module} imports {name}"
        for module, path in MODULES.items()
        if not _is_under(module, SIMULATORS)
        for name in _imported(module, path)
        if _is_under(name, SIMULATORS)
    )
    assert not offenders, "\n".join(offenders)


def test_importing_a_module_outside_the_wiring_does_not_build_the_app() -> None:
    """Each module in turn, in one fresh interpreter: after each, the app is still not imported."""
    modules = sorted(m for m in MODULES if not _is_under(m, WIRING + SIMULATORS))
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    if 'npo_integration.app' in sys.modules:\n"
        "        print(name)\n"
        "        break\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "", f"importing {done.stdout.strip()} builds the Faust app"


def test_the_graph_sees_the_package() -> None:
    """A guard on the checks above: the graph knows the modules and the edges it should."""
    graph = _graph()
    assert "npo_integration.app" in graph["npo_integration.worker_resources"]
    assert "npo_integration.models.events" in graph["npo_integration.transforms.contract"]
    assert len(MODULES) > 50
