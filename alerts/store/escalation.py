"""Escalation timers: each step of an alert's policy (and each family contact of a step)
due at a time, taken once."""

from __future__ import annotations

from alerts.store.schema import OPEN, STEP_CANCELLED, STEP_DONE, STEP_PENDING
from alerts.store.table import Table


class Escalation(Table):
    def add(self, alert_id: int, step: int, contact: int, due_ms: int) -> None:
        """A pending timer (kept as it is if that step and contact have one already)."""
        self._run("INSERT INTO escalation (alert_id, step, contact, due_ms, state) "
                  f"VALUES (?, ?, ?, ?, {STEP_PENDING}) ON CONFLICT DO NOTHING",
                  (alert_id, step, contact, due_ms))

    def cancel(self, alert_id: int) -> None:
        """Every pending timer of the alert (acknowledged, resolved, flapping)."""
        self._run(f"UPDATE escalation SET state = {STEP_CANCELLED} WHERE alert_id = ? AND "
                  f"state = {STEP_PENDING}", (alert_id,))

    def resume(self, alert_id: int, now_ms: int) -> int:
        """The alert's cancelled timers run again (it was taken, then left: the chain goes
        on), due now at the earliest. How many."""
        cursor = self._run(f"UPDATE escalation SET state = {STEP_PENDING}, due_ms = CASE "
                           "WHEN due_ms < ? THEN ? ELSE due_ms END WHERE alert_id = ? AND "
                           f"state = {STEP_CANCELLED}", (now_ms, now_ms, alert_id))
        return cursor.rowcount

    def due(self, now_ms: int) -> list[tuple[int, int, int]]:
        """(alert, step, contact) of the pending timers due by ``now_ms`` on open alerts,
        the earliest first."""
        rows = self._run(
            "SELECT e.alert_id, e.step, e.contact FROM escalation e JOIN alerts a USING "
            f"(alert_id) WHERE e.state = {STEP_PENDING} AND e.due_ms <= ? AND "
            f"a.state = {OPEN} ORDER BY e.due_ms", (now_ms,)).fetchall()
        return [(int(a), int(s), int(c)) for a, s, c in rows]

    def next_due_ms(self) -> int | None:
        """When the earliest pending timer is due (None: none is pending)."""
        row = self._run(f"SELECT MIN(due_ms) FROM escalation WHERE state = {STEP_PENDING}"
                        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def take(self, alert_id: int, step: int, contact: int) -> bool:
        """Mark a due timer done, if it is still pending and its alert still open."""
        cursor = self._run(
            f"UPDATE escalation SET state = {STEP_DONE} WHERE alert_id = ? AND step = ? AND "
            f"contact = ? AND state = {STEP_PENDING} AND EXISTS (SELECT 1 FROM alerts "
            f"WHERE alert_id = ? AND state = {OPEN})", (alert_id, step, contact, alert_id))
        return cursor.rowcount > 0

    def hurry(self, alert_id: int, step: int, contact: int, now_ms: int) -> None:
        """A pending timer is due now at the latest."""
        self._run("UPDATE escalation SET due_ms = CASE WHEN due_ms > ? THEN ? ELSE due_ms "
                  f"END WHERE alert_id = ? AND step = ? AND contact = ? AND "
                  f"state = {STEP_PENDING}", (now_ms, now_ms, alert_id, step, contact))

    def counts(self, now_ms: int, late_after_ms: int) -> tuple[int, int]:
        """Escalation steps pending and due by ``now_ms``, and those of them overdue by
        more than ``late_after_ms`` (the timer thread should have taken them)."""
        due, late = self._run(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN due_ms <= ? THEN 1 ELSE 0 END), 0) "
            f"FROM escalation WHERE state = {STEP_PENDING} AND due_ms <= ?",
            (now_ms - late_after_ms, now_ms)).fetchone()
        return int(due), int(late)
