"""Import layering, read from the source (ast), so a function-local import can't hide a cycle.

- No import cycle among the project's modules.
- `chatsite` is the layer both apps share: it imports no other project package. (Settings and URLs
  name apps in strings, `include("rooms.urls")`: those are configuration, not imports.)
- `rooms` may use `accounts`, never the reverse.
- Only the benchmark itself imports `bench`.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_PROJECT = {"tests", "node_modules", "staticfiles"}


def _project_modules() -> dict[str, Path]:
    """Every module of every top-level package (a directory with __init__.py), tests aside."""
    modules = {}
    for package in sorted(p.parent for p in ROOT.glob("*/__init__.py")):
        if package.name in NOT_PROJECT or package.name.startswith("."):
            continue
        for path in package.rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


class _OnFirstUse(Mapping):
    """A dict made when a test first reads it: every xdist worker collects this file, and reading
    the whole project's source (~0.5 s of CPU) is only needed where these tests run."""

    def __init__(self, make):
        self._make, self._made = make, None

    def _dict(self) -> dict:
        if self._made is None:
            self._made = self._make()
        return self._made

    def __getitem__(self, key):
        return self._dict()[key]

    def __iter__(self):
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())


MODULES = _OnFirstUse(_project_modules)


def _resolve(name: str) -> str | None:
    """The project module an import of ``name`` loads: the longest prefix that is one."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imports(module: str) -> set[str]:
    path = MODULES[module]
    return _imports_in(path.read_text(), module=module, is_package=path.name == "__init__.py")


def _imports_in(source: str, *, module: str, is_package: bool = False) -> set[str]:
    """The project modules ``source`` imports, anywhere in it (functions and TYPE_CHECKING too)."""
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from accounts import services` imports the module accounts.services.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found.update(target for name in names if (target := _resolve(name)) and target != module)
    return found


GRAPH = _OnFirstUse(lambda: {module: _imports(module) for module in MODULES})


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
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


def _package(module: str) -> str:
    return module.partition(".")[0]


def _crossings(source: str, forbidden) -> list[str]:
    return sorted(f"{module} imports {target}" for module, targets in GRAPH.items() if _package(module) == source
                  for target in targets if forbidden(_package(target)))


def test_the_scan_sees_the_project():
    assert {"accounts", "rooms", "chatsite"} <= {_package(m) for m in MODULES}
    assert "accounts.auth" in GRAPH["accounts.services"]
    assert "accounts.models" in GRAPH["accounts.session_patterns"]


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_imports_hidden_in_functions_and_relative_imports_count():
    source = "def f():\n    from accounts import services\n\nfrom . import models\nimport rooms.views as v\n"
    assert _imports_in(source, module="accounts.auth") == {"accounts.services", "accounts.models", "rooms.views"}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_chatsite_imports_no_app():
    assert _crossings("chatsite", lambda target: target != "chatsite") == []


def test_accounts_never_imports_rooms():
    assert _crossings("accounts", lambda target: target == "rooms") == []


def test_only_the_benchmark_imports_bench():
    outside = {_package(m) for m in MODULES} - {"bench"}
    assert [line for source in sorted(outside) for line in _crossings(source, lambda t: t == "bench")] == []
