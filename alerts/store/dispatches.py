"""Responders sent to alarms: one row per dispatch, each time it moved on stored (the
report's dispatch-to-arrival times are computed from these)."""

from __future__ import annotations

from typing import Any

from alerts.model import Dispatch, DispatchState
from alerts.store.schema import DISPATCH_COLS, GOING, RESOLVED
from alerts.store.table import Table


class Dispatches(Table):
    def add(self, alert_id: int, name: str, role: str, phone: str, language: str,
            sent_by: str, now_ms: int, due_ms: int) -> int:
        cursor = self._run(
            "INSERT INTO dispatches (alert_id, name, role, phone, language, state, sent_by, "
            "sent_ms, due_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING dispatch_id",
            (alert_id, name, role, phone, language, DispatchState.SENT.value, sent_by, now_ms,
             due_ms))
        return int(cursor.fetchone()[0])

    def set_notice(self, dispatch_id: int, notice_id: int) -> None:
        self._run("UPDATE dispatches SET notice_id = ? WHERE dispatch_id = ?",
                  (notice_id, dispatch_id))

    def get(self, dispatch_id: int) -> Dispatch | None:
        row = self._run(f"SELECT {DISPATCH_COLS} FROM dispatches WHERE dispatch_id = ?",
                        (dispatch_id,)).fetchone()
        return _dispatch(row) if row else None

    def of(self, alert_id: int) -> list[Dispatch]:
        rows = self._run(f"SELECT {DISPATCH_COLS} FROM dispatches WHERE alert_id = ? "
                         "ORDER BY dispatch_id", (alert_id,)).fetchall()
        return [_dispatch(row) for row in rows]

    def of_phone(self, phone: str) -> list[Dispatch]:
        """The dispatches to ``phone`` on alerts not yet resolved, the newest first."""
        rows = self._run(
            f"SELECT {', '.join('d.' + c for c in DISPATCH_COLS.split(', '))} FROM "
            "dispatches d JOIN alerts a USING (alert_id) WHERE d.phone = ? AND "
            f"a.state != {RESOLVED} ORDER BY d.dispatch_id DESC", (phone,)).fetchall()
        return [_dispatch(row) for row in rows]

    def move(self, dispatch_id: int, to: DispatchState, now_ms: int) -> bool:
        """Move a dispatch still going on to ``to``, once (on any node): on the way,
        arrived, cannot come, not arrived or cancelled. False if it had ended."""
        column = {DispatchState.ON_THE_WAY: "on_way_ms",
                  DispatchState.ARRIVED: "arrived_ms"}.get(to, "ended_ms")
        cursor = self._run(f"UPDATE dispatches SET state = ?, {column} = ? WHERE "
                           f"dispatch_id = ? AND state IN ({GOING})",
                           (to.value, now_ms, dispatch_id))
        return cursor.rowcount > 0

    def cancel(self, alert_id: int, now_ms: int) -> None:
        """Every dispatch of the alert still going on (it was resolved)."""
        self._run(f"UPDATE dispatches SET state = ?, ended_ms = ? WHERE alert_id = ? AND "
                  f"state IN ({GOING})", (DispatchState.CANCELLED.value, now_ms, alert_id))

    def due(self, now_ms: int) -> list[Dispatch]:
        """Dispatches not confirmed on site by their time, the earliest first."""
        rows = self._run(f"SELECT {DISPATCH_COLS} FROM dispatches WHERE state IN ({GOING}) "
                         "AND due_ms <= ? ORDER BY due_ms", (now_ms,)).fetchall()
        return [_dispatch(row) for row in rows]

    def next_due_ms(self) -> int | None:
        row = self._run(f"SELECT MIN(due_ms) FROM dispatches WHERE state IN ({GOING})"
                        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])


def _dispatch(row: tuple[Any, ...]) -> Dispatch:
    values = list(row)
    values[6] = DispatchState(values[6])
    return Dispatch(*values)
