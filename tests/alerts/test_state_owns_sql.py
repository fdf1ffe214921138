"""The alert store owns every SQL statement on the alert tables: no other module of the
product writes one, and the store lends out no raw cursor."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from alerts.store import AlertStore
from alerts.store.table import Table

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["telemetry", "runtime", "broker_config", "registry", "edge_agent", "ingest",
           "alerts", "dashboard", "central", "eldercare_cli"]
SQL_ON_ALERT_TABLES = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|JOIN)\b[^;]*\b(alerts|timeline|silences|"
    r"escalation|notices|nodes|partition_leases)\b", re.IGNORECASE | re.DOTALL)


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
    store = ROOT / "alerts" / "store"
    found = {str(path.relative_to(ROOT)): text[:80]
             for package in PRODUCT for path in sorted((ROOT / package).rglob("*.py"))
             if store not in path.parents
             for text in _strings(path)
             if re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE)\b", text, re.IGNORECASE)
             and SQL_ON_ALERT_TABLES.search(text)}
    assert found == {}


def test_each_table_family_is_a_small_class() -> None:
    """The store is a facade over families of tables, none of them a grab bag."""
    store = AlertStore(":memory:")
    families = {name: type(value) for name, value in vars(store).items()
                if isinstance(value, Table)}
    assert set(families) == {"alerts", "timeline", "silences", "steps", "outbox",
                             "notices", "nodes", "leases", "learned", "answers",
                             "dispatches", "reports", "erasure", "visits", "duty", "rounds"}
    sizes = {name: len([m for m in vars(cls) if not m.startswith("__")])
             for name, cls in families.items()}
    assert max(sizes.values()) <= 12, sizes
    facade = [m for m in vars(AlertStore) if not m.startswith("_")]
    assert len(facade) <= 6, facade


def test_the_store_has_no_public_way_to_run_sql() -> None:
    assert not hasattr(AlertStore, "run") and not hasattr(AlertStore, "execute")
