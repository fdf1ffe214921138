"""The package graph runs one way, in layers: a package imports only packages of the
layers below its own, never a sibling of its layer, and no product package imports a
tool (the simulator, the service harness, the evaluation, the benchmarks)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the product, lowest layer first; packages in one layer never import each other
LAYERS: list[frozenset[str]] = [
    frozenset({"telemetry"}),
    frozenset({"runtime"}),
    frozenset({"registry", "broker_config"}),
    frozenset({"edge_agent", "ingest", "alerts"}),
    frozenset({"dashboard"}),
    frozenset({"central"}),
]
PRODUCT = [p for layer in LAYERS for p in sorted(layer)]
# tools, lowest first: they may import the product and the tools before them
TOOLS = ["firmware_stubs", "harness", "evaluation", "bench"]
CLI = "eldercare_cli"
ALL = [*PRODUCT, *TOOLS, CLI]


def source_dir(package: str) -> Path:
    return ROOT / "tools" / package if package in TOOLS else ROOT / package


def imports_in(source: str, filename: str, package: str) -> set[str]:
    """Top-level project packages ``source`` imports (at any depth, inside functions
    too), other than ``package`` itself."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module] if isinstance(node, ast.ImportFrom) and node.module
                 and node.level == 0 else [])
        out |= {top for name in names
                if (top := name.split(".")[0]) in ALL and top != package}
    return out


def imports_of(package: str) -> dict[str, set[str]]:
    """Project packages each module of ``package`` imports -> the modules that do."""
    out: dict[str, set[str]] = {}
    for path in sorted(source_dir(package).rglob("*.py")):
        for top in imports_in(path.read_text(), str(path), package):
            out.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return out


def layer_of(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def allowed(package: str) -> set[str]:
    if package == CLI:
        return set(ALL) - {CLI}
    if package in TOOLS:
        return set(PRODUCT) | set(TOOLS[:TOOLS.index(package)])
    return {p for layer in LAYERS[:layer_of(package)] for p in layer}


def wrong_imports(package: str, imported: set[str]) -> set[str]:
    return imported - allowed(package)


def test_every_package_is_placed() -> None:
    found = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    tools = {p.parent.name for p in (ROOT / "tools").glob("*/__init__.py")}
    assert found == {*PRODUCT, CLI}
    assert tools == set(TOOLS)


def test_imports_run_one_way() -> None:
    wrong = {f"{package} -> {target}": sorted(modules)
             for package in ALL
             for target, modules in imports_of(package).items()
             if target not in allowed(package)}
    assert wrong == {}


@pytest.mark.parametrize(("package", "line"), [
    ("alerts", "from ingest.dedup import Dedup"),  # a sibling of the same layer
    ("ingest", "import edge_agent.outbox"),  # a sibling
    ("ingest", "from alerts.core import AlertCore"),  # a sibling
    ("telemetry", "from runtime.backoff import Backoff"),  # upward
    ("registry", "from broker_config import nats"),  # a sibling
    ("alerts", "def f() -> None:\n    from dashboard import app"),  # upward, in a function
    ("central", "from bench import alerts"),  # a tool
])
def test_an_import_across_the_layers_is_caught(package: str, line: str) -> None:
    """The checks above fail when such an import is added to a module."""
    assert wrong_imports(package, imports_in(line, "added.py", package))
