"""The alert store owns every SQL statement on the alert tables: no other module of the
product writes one, and the store lends out no raw cursor."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from alerts.state import StateDb

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["telemetry", "broker_config", "registry", "edge_agent", "ingest", "alerts",
           "dashboard", "central", "eldercare_cli"]
SQL_ON_ALERT_TABLES = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|JOIN)\b[^;]*\b(alerts|timeline|silences|"
    r"escalation|notices)\b", re.IGNORECASE | re.DOTALL)


def _strings(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            out.append("".join(v.value for v in node.values
                               if isinstance(v, ast.Constant) and isinstance(v.value, str)))
    return out


def test_no_sql_on_alert_tables_outside_the_store() -> None:
    store = ROOT / "alerts" / "state.py"
    found = {str(path.relative_to(ROOT)): text[:80]
             for package in PRODUCT for path in sorted((ROOT / package).rglob("*.py"))
             if path != store
             for text in _strings(path)
             if re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE)\b", text, re.IGNORECASE)
             and SQL_ON_ALERT_TABLES.search(text)}
    assert found == {}


def test_the_store_has_no_public_way_to_run_sql() -> None:
    assert not hasattr(StateDb, "run") and not hasattr(StateDb, "execute")
