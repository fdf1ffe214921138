"""Silences: a resident, gateway or site (optionally one condition) kept from escalating
until a time."""

from __future__ import annotations

from alerts.model import Condition, Silence
from alerts.store.schema import SILENCE_COLS
from alerts.store.table import Table


class Silences(Table):
    def add(self, subject: str, condition: Condition | None, until_ms: int, who: str,
            reason: str) -> int:
        cursor = self._run(
            "INSERT INTO silences (subject, condition, until_ms, created_by, reason) "
            "VALUES (?, ?, ?, ?, ?) RETURNING silence_id",
            (subject, condition.value if condition else None, until_ms, who, reason))
        return int(cursor.fetchone()[0])

    def running(self, now_ms: int) -> list[Silence]:
        """Silences still running at ``now_ms``, the first to end first."""
        rows = self._run(f"SELECT {SILENCE_COLS} FROM silences WHERE until_ms > ? "
                         "ORDER BY until_ms", (now_ms,)).fetchall()
        return [Silence(*row) for row in rows]

    def covers(self, condition: Condition, subjects: tuple[str, ...], now_ms: int) -> bool:
        """A silence running at ``now_ms`` covers one of ``subjects`` (a resident, a
        gateway, a site), for every condition or for ``condition``."""
        marks = ", ".join("?" * len(subjects))
        row = self._run(f"SELECT 1 FROM silences WHERE until_ms > ? AND subject IN ({marks})"
                        " AND (condition IS NULL OR condition = ?) LIMIT 1",
                        (now_ms, *subjects, condition.value)).fetchone()
        return row is not None
