"""The alerts table: one row per alert, at most one unresolved per (condition, subject)."""

from __future__ import annotations

from typing import Any

from alerts.model import Alert, AlertState, Condition, Severity
from alerts.store.schema import ALERT_COLS, OPEN, RESOLVED
from alerts.store.table import Table


class AlertTable(Table):
    def get(self, alert_id: int) -> Alert | None:
        row = self._run(f"SELECT {ALERT_COLS} FROM alerts WHERE alert_id = ?",
                        (alert_id,)).fetchone()
        return _alert(row) if row else None

    def unresolved(self, condition: Condition, subject: str) -> Alert | None:
        row = self._run(f"SELECT {ALERT_COLS} FROM alerts WHERE condition = ? AND subject = ?"
                        f" AND state != {RESOLVED}", (condition.value, subject)).fetchone()
        return _alert(row) if row else None

    def last_resolved(self, condition: Condition, subject: str) -> Alert | None:
        row = self._run(f"SELECT {ALERT_COLS} FROM alerts WHERE condition = ? AND subject = ?"
                        f" AND state = {RESOLVED} ORDER BY resolved_ms DESC LIMIT 1",
                        (condition.value, subject)).fetchone()
        return _alert(row) if row else None

    def find(self, *, state: AlertState | None = None, site_id: str | None = None,
             open_only: bool = False, severity_min: int = 0, since_ms: int = 0,
             subjects: tuple[str, ...] = (), sites: tuple[str, ...] = (),
             conditions: tuple[Condition, ...] = (), limit: int = 500) -> list[Alert]:
        """Alerts, filtered and ordered here: unresolved first, then the most severe, then
        the newest. ``subjects`` keeps alerts about any of those subjects only, ``sites``
        those of any of those sites (a desk user's scope)."""
        where: list[str] = []
        args: list[object] = []
        if open_only:
            where.append(f"state != {RESOLVED}")  # the partial index alerts_unresolved
        if state is not None:
            where.append("state = ?")
            args.append(state.value)
        if site_id is not None:
            where.append("site_id = ?")
            args.append(site_id)
        if severity_min:
            where.append("severity >= ?")
            args.append(severity_min)
        if since_ms:
            where.append("updated_ms >= ?")
            args.append(since_ms)
        for column, values in (("subject", subjects), ("site_id", sites),
                               ("condition", tuple(c.value for c in conditions))):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                args.extend(values)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._run(f"SELECT {ALERT_COLS} FROM alerts {clause} ORDER BY "
                         f"state = {RESOLVED}, severity DESC, opened_ms DESC, alert_id DESC "
                         f"LIMIT ?", (*args, limit)).fetchall()
        return [_alert(row) for row in rows]

    def open_counts(self) -> list[tuple[Condition, Severity, int]]:
        """Unresolved alerts by condition and severity."""
        rows = self._run("SELECT condition, severity, COUNT(*) FROM alerts WHERE state != "
                         f"{RESOLVED} GROUP BY condition, severity").fetchall()
        return [(Condition(c), Severity(s), n) for c, s, n in rows]

    def open(self, condition: Condition, subject: str, site_id: str, gateway_id: str,
             device_id: str, severity: Severity, now_ms: int, silenced: bool,
             detail: str) -> int:
        """A new open alert; its id."""
        cursor = self._run(
            "INSERT INTO alerts (condition, subject, site_id, gateway_id, device_id, "
            "severity, state, active, opened_ms, updated_ms, repeats, flaps, silenced, "
            f"detail) VALUES (?, ?, ?, ?, ?, ?, {OPEN}, 1, ?, ?, 0, 0, ?, ?) RETURNING alert_id",
            (condition.value, subject, site_id, gateway_id, device_id, int(severity), now_ms,
             now_ms, int(silenced), detail))
        return int(cursor.fetchone()[0])

    def repeat(self, alert_id: int, now_ms: int, detail: str) -> None:
        """The condition of an unresolved alert was signalled again."""
        self._run("UPDATE alerts SET repeats = repeats + 1, active = 1, updated_ms = ?, "
                  "detail = ? WHERE alert_id = ?", (now_ms, detail, alert_id))

    def reopen(self, alert_id: int, now_ms: int, detail: str, silenced: bool) -> None:
        """A resolved alert comes back (a flap): open again, one flap more."""
        self._run(f"UPDATE alerts SET state = {OPEN}, active = 1, flaps = flaps + 1, "
                  "updated_ms = ?, detail = ?, silenced = ?, resolved_by = NULL, "
                  "resolved_ms = NULL, acked_by = NULL, acked_ms = NULL, owner = NULL, "
                  "outcome = NULL, follow_up_ms = NULL WHERE alert_id = ?",
                  (now_ms, detail, int(silenced), alert_id))

    def ended(self, alert_id: int, now_ms: int) -> None:
        """The condition is over, but the alert stays until someone resolves it."""
        self._run("UPDATE alerts SET active = 0, updated_ms = ? WHERE alert_id = ?",
                  (now_ms, alert_id))

    def close(self, alert_id: int, state: AlertState, who: str, now_ms: int,
              note: str) -> None:
        """Acknowledged or resolved (the store also cancels what was pending of it)."""
        column = "acked" if state is AlertState.ACKNOWLEDGED else "resolved"
        self._run(f"UPDATE alerts SET state = ?, {column}_by = ?, {column}_ms = ?, "
                  "note = COALESCE(NULLIF(?, ''), note), updated_ms = ? WHERE alert_id = ?",
                  (state.value, who, now_ms, note, now_ms, alert_id))

    def purge_resolved(self, before_ms: int) -> int:
        """Delete alerts resolved before ``before_ms`` with their timeline, escalation and
        notices (retention); an unresolved alert is never deleted, however old. Call in a
        transaction."""
        old = f"SELECT alert_id FROM alerts WHERE state = {RESOLVED} AND resolved_ms < ?"
        for table in ("timeline", "escalation", "notices", "dispatches"):
            self._run(f"DELETE FROM {table} WHERE alert_id IN ({old})", (before_ms,))
        cursor = self._run(f"DELETE FROM alerts WHERE state = {RESOLVED} AND "
                           "resolved_ms < ?", (before_ms,))
        return cursor.rowcount


def _alert(row: tuple[Any, ...]) -> Alert:
    values = list(row)
    values[1] = Condition(values[1])
    values[6] = Severity(values[6])
    values[7] = AlertState(values[7])
    values[8] = bool(values[8])
    values[13] = bool(values[13])
    return Alert(*values)
