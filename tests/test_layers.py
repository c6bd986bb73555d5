"""Imports run one way: an ast walk of `autonomic_lib` checks the layer rules below and that modules form no cycle.

Every import counts: at module level, inside functions, under `if TYPE_CHECKING:`. Relative imports are
resolved to absolute names. `import pkg` imports `pkg/__init__`; `from pkg import name` imports the module
`pkg.name` when there is one, else `pkg`.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple


ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "autonomic_lib"

_ABOVE_FOUNDATION = ("sandbox", "assets", "swarm", "telemetry", "traffic", "analysis", "reconciliation", "session",
                     "backend", "notebook", "demo", "cli", "muting")
_PRODUCTS = ("metrics", "logs", "dashboards", "monitors", "automation", "llmobs", "downtimes")


def _sandbox(*names: str) -> tuple[str, ...]:
    return tuple(f"sandbox.{n}" for n in names)


# layer -> the layers it must never import (a layer is a module or package of autonomic_lib); docs/ARCHITECTURE.md
# draws the same picture
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "errors": _ABOVE_FOUNDATION + ("catalog", "query", "client", "series", "settings"),
    "catalog": _ABOVE_FOUNDATION + ("client", "series"),
    "query": _ABOVE_FOUNDATION + ("client", "series"),
    "telemetry": ("swarm", "analysis", "reconciliation", "traffic", "session", "sandbox", "assets"),
    "swarm":     ("telemetry", "traffic", "analysis", "reconciliation", "session", "sandbox", "assets"),
    "assets":    ("sandbox", "swarm", "telemetry", "traffic", "session"),
    "sandbox":   ("swarm", "telemetry", "traffic", "analysis", "reconciliation", "session", "assets", "backend",
                  "notebook", "demo", "cli", "sandbox_process", "muting"),
    # inside the sandbox: only app.py (and server.py, which serves it) sees every product; products depend one way
    "sandbox.storage": _sandbox("http", *_PRODUCTS, "pages", "dogstatsd", "app", "server"),
    "sandbox.http": _sandbox("storage", *_PRODUCTS, "pages", "dogstatsd", "app", "server"),
    "sandbox.metrics": _sandbox("logs", "llmobs", "dashboards", "monitors", "automation", "pages", "dogstatsd", "app", "server"),
    "sandbox.logs": _sandbox("metrics", "llmobs", "dashboards", "monitors", "automation", "pages", "dogstatsd", "app", "server"),
    "sandbox.dashboards": _sandbox("logs", "monitors", "automation", "pages", "dogstatsd", "app", "server"),
    "sandbox.monitors": _sandbox("dashboards", "automation", "pages", "dogstatsd", "app", "server", "downtimes"),
    # downtimes silence monitors (the evaluator asks them through an injected hook); nothing but app.py reads them
    "sandbox.downtimes": _sandbox("logs", "metrics", "dashboards", "automation", "pages", "dogstatsd", "app",
                                  "server"),
    "sandbox.automation": _sandbox("metrics", "dashboards", "pages", "dogstatsd", "app", "server"),
    # the read-only pages read every product but logs; no product reads them
    "sandbox.pages": _sandbox("logs", "dogstatsd", "app", "server"),
    # DogStatsD feeds metrics and the events stream, as an Agent would; no product reads it
    "sandbox.dogstatsd": _sandbox("dashboards", "monitors", "automation", "pages", "app", "server"),
    # LLM Observability writes its ml_obs.* metrics through the metrics backend and reads times as log search does
    "sandbox.llmobs": _sandbox("dashboards", "monitors", "automation", "pages", "dogstatsd", "app", "server"),
    "sandbox.config": _sandbox("http", "storage", *_PRODUCTS, "pages", "dogstatsd", "app", "server"),
    # the page links' paths and tokens: written by the client side, checked by the sandbox; imports neither
    "links": _ABOVE_FOUNDATION + ("catalog", "query", "client", "series", "settings", "errors"),
    # RFC 5545 recurrences (downtimes, monitor custom schedules): the foundation, importing none of the package
    "recurrence": _ABOVE_FOUNDATION + ("catalog", "query", "client", "series", "settings", "errors", "links"),
}
# The imports a rule lets through, with the reason. "x.*" is every module of package x; "x" is the module x
# itself (for a package: its __init__.py).
ALLOWED: dict[tuple[str, str], str] = {
    ("swarm.*", "telemetry.records"): "the records the simulation and a real swarm (Recorder) both produce",
    ("swarm.*", "telemetry.prices"): "the price table the simulation and the Recorder both cost calls with",
}


class Import(NamedTuple):
    """One import statement's edge: `importer` (a module) imports `imported` at `file`:`line`."""

    importer: str
    imported: str
    file: Path
    line: int

    def __str__(self) -> str:
        where = self.file.relative_to(ROOT) if self.file.is_relative_to(ROOT) else self.file
        return f"{where}:{self.line}: {self.importer} imports {self.imported}"


class Violation(NamedTuple):
    """An import that breaks the rule `layer` must not import `banned`."""

    edge: Import
    layer: str
    banned: str

    def __str__(self) -> str:
        return f"{self.edge} ({self.layer} must not import {self.banned})"


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` under `root` by dotted name (a package's name is its __init__.py)."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(root: Path, package: str) -> list[Import]:
    """Every import of one module of `package` by another, wherever in the file it is written."""
    known = modules(root, package)
    edges: dict[Import, None] = {}  # in order, once per (importer, imported, line)
    for name, path in known.items():
        base = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    anchor = base.split(".")[:len(base.split(".")) - node.level + 1]
                    source = ".".join(anchor + ([source] if source else []))
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names]
            else:
                continue
            edges.update((Import(name, target, path, node.lineno), None) for target in targets
                         if target in known and target != name)
    return list(edges)


def within(module: str, layer: str) -> bool:
    """Whether `module` is the layer `layer` of the package, or inside it."""
    full = f"{PACKAGE}.{layer}"
    return module == full or module.startswith(full + ".")


def allowed(edge: Import) -> bool:
    """Whether an entry of ALLOWED lets `edge` through."""
    for importer, imported in ALLOWED:
        if importer.endswith(".*"):
            source = within(edge.importer, importer[:-2])
        else:
            source = edge.importer == f"{PACKAGE}.{importer}"
        if source and within(edge.imported, imported):
            return True
    return False


def violations(edges: list[Import]) -> list[Violation]:
    """The imports that break a rule of FORBIDDEN and that ALLOWED does not let through."""
    return [Violation(edge, layer, banned) for edge in edges for layer, bans in FORBIDDEN.items()
            for banned in bans if within(edge.importer, layer) and within(edge.imported, banned)
            and not allowed(edge)]


def cycles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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
    return sorted(found)


def describe(component: list[str], edges: list[Import]) -> str:
    """A cycle with the imports that close it, one `file:line` per edge inside the component."""
    inside = [str(e) for e in edges if e.importer in component and e.imported in component]
    return " <-> ".join(component) + "\n    " + "\n    ".join(inside)


EDGES = imports(ROOT, PACKAGE)


def test_layer_rules_hold() -> None:
    broken = [str(v) for v in violations(EDGES)]
    assert not broken, "imports against the layer rules:\n" + "\n".join(broken)


def test_no_import_cycle() -> None:
    found = cycles(EDGES)
    assert not found, "import cycles:\n" + "\n".join(describe(c, EDGES) for c in found)


def test_the_sandbox_has_product_folders_and_few_loose_modules() -> None:
    """One folder per product; at its top only the container, its config, the server and the package file."""
    sandbox = ROOT / PACKAGE / "sandbox"
    products = sorted(p.name for p in sandbox.iterdir() if (p / "__init__.py").exists())
    loose = sorted(p.name for p in sandbox.glob("*.py"))
    assert len(products) >= 4 and set(_PRODUCTS) <= set(products), products
    assert len(loose) <= 6, loose


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The rules are only as good as the walk: function-level, TYPE_CHECKING and relative imports all count."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from .a import thing\n",
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.c import C\nthing = 1\n",
        "b.py": "def f():\n    from . import a, thing\n    import pkg.sub\n",
        "sub/__init__.py": "",
        "sub/c.py": "from .. import b\nfrom ..sub import c\nimport os\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text, encoding="utf-8")
    found = {(e.importer, e.imported, e.line) for e in imports(tmp_path, "pkg")}
    assert found == {("pkg", "pkg.a", 1), ("pkg.a", "pkg.sub.c", 3), ("pkg.b", "pkg.a", 2), ("pkg.b", "pkg", 2),
                     ("pkg.b", "pkg.sub", 3), ("pkg.sub.c", "pkg.b", 1)}
    assert cycles(imports(tmp_path, "pkg")) == [["pkg", "pkg.a", "pkg.b", "pkg.sub.c"]]
