"""The package graph runs one way: each product package imports only those before it, and
none imports a tool (the simulator, the evaluation, the service harness, the benchmarks)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the product, lowest first; the command at the top may import anything
PRODUCT = ["telemetry", "broker_config", "registry", "edge_agent", "ingest", "alerts",
           "dashboard", "central"]
# tools, lowest first: they may import the product and the tools before them
TOOLS = ["firmware_stubs", "harness", "evaluation", "bench"]
CLI = "eldercare_cli"
ALL = [*PRODUCT, *TOOLS, CLI]


def imports_of(package: str) -> dict[str, set[str]]:
    """Top-level project packages each module of ``package`` imports (at any depth,
    inside functions too) -> the modules that do."""
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                if top in ALL and top != package:
                    out.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return out


def allowed(package: str) -> set[str]:
    if package == CLI:
        return set(ALL) - {CLI}
    if package in PRODUCT:
        return set(PRODUCT[:PRODUCT.index(package)])
    return set(PRODUCT) | set(TOOLS[:TOOLS.index(package)])


def test_every_package_is_placed() -> None:
    found = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert found == set(ALL)


def test_imports_run_one_way() -> None:
    wrong = {f"{package} -> {target}": sorted(modules)
             for package in ALL
             for target, modules in imports_of(package).items()
             if target not in allowed(package)}
    assert wrong == {}
