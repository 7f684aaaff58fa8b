"""The layering docs/architecture.md promises, read from the import graph (function-level imports included): nothing
outside vtdemo/ui imports it (the CLI that serves the app excepted), nothing outside vtdemo/bench imports the
benchmarks (the CLI excepted; tests may), vtdemo/models imports nothing else of vtdemo,
tabs do not import tabs, and there is no import cycle."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _graph() -> dict[str, set[str]]:
    modules = {}
    for path in (ROOT / "vtdemo").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                # "from package import module" depends on that module; "from module import name" on the module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


GRAPH = _graph()


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_layers(module):
    for target in GRAPH[module]:
        if target.startswith("vtdemo.ui") and module != "vtdemo.cli":
            assert module.startswith("vtdemo.ui"), f"{module} imports {target}"
        if target.startswith("vtdemo.bench") and module != "vtdemo.cli":
            assert module.startswith("vtdemo.bench"), f"{module} imports {target}"
        if module.startswith("vtdemo.models"):
            assert target.startswith("vtdemo.models"), f"{module} imports {target}"
        if module.endswith("_tab") and target.endswith("_tab"):
            raise AssertionError(f"tab {module} imports tab {target}")


def test_no_import_cycle():
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in GRAPH[node]:
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join(path + [node, nxt]))
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for node in GRAPH:
        if node not in state:
            visit(node, [])
