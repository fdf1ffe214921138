"""Who answered each alert and who has it now, how it ended, and when it comes back
unless acted on (``alerts.response``): the response's columns of the alerts table."""

from __future__ import annotations

from alerts.store.schema import ACKED, OPEN, RESOLVED
from alerts.store.table import Table


class Answers(Table):
    def take(self, alert_id: int, owner: str, now_ms: int, follow_up_ms: int | None) -> bool:
        """A desk user has the (acknowledged) alert, if nobody else has it (False: another
        user took it first, on any node): the first to take it answered it. Back by
        ``follow_up_ms`` unless acted on (None: no ack timeout)."""
        cursor = self._run(
            "UPDATE alerts SET owner = ?, answered_by = COALESCE(answered_by, ?), "
            "answered_ms = COALESCE(answered_ms, ?), follow_up_ms = ?, updated_ms = ? "
            "WHERE alert_id = ? AND (owner IS NULL OR owner = ?)",
            (owner, owner, now_ms, follow_up_ms, now_ms, alert_id, owner))
        return cursor.rowcount > 0

    def assign(self, alert_id: int, owner: str | None, now_ms: int) -> None:
        """Another user has it now (None: nobody; back in the queue)."""
        self._run("UPDATE alerts SET owner = ?, updated_ms = ? WHERE alert_id = ?",
                  (owner, now_ms, alert_id))

    def follow_up(self, alert_id: int, due_ms: int | None, now_ms: int) -> None:
        """Come back at ``due_ms`` unless acted on (None: a responder is on it)."""
        self._run("UPDATE alerts SET follow_up_ms = ?, updated_ms = ? WHERE alert_id = ?",
                  (due_ms, now_ms, alert_id))

    def reopen_taken(self, alert_id: int, now_ms: int, *, due_by_ms: int | None = None) -> bool:
        """An acknowledged alert is open again and back in the queue (its escalation goes
        on; who answered it stays on record), once: with ``due_by_ms``, only if its
        follow-up was due by then (the ack timeout)."""
        due = "" if due_by_ms is None else " AND follow_up_ms <= ?"
        cursor = self._run(f"UPDATE alerts SET state = {OPEN}, follow_up_ms = NULL, "
                           f"owner = NULL, updated_ms = ? WHERE alert_id = ? AND "
                           f"state = {ACKED}{due}",
                           (now_ms, alert_id, *(() if due_by_ms is None else (due_by_ms,))))
        return cursor.rowcount > 0

    def follow_ups_due(self, now_ms: int) -> list[int]:
        """Acknowledged alerts whose follow-up time has come, the earliest first."""
        rows = self._run(f"SELECT alert_id FROM alerts WHERE state = {ACKED} AND "
                         "follow_up_ms <= ? ORDER BY follow_up_ms", (now_ms,)).fetchall()
        return [int(r[0]) for r in rows]

    def next_follow_up_ms(self) -> int | None:
        row = self._run(f"SELECT MIN(follow_up_ms) FROM alerts WHERE state = {ACKED}"
                        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def owned_by(self, owner: str) -> list[int]:
        """The unresolved alerts ``owner`` has."""
        rows = self._run(f"SELECT alert_id FROM alerts WHERE owner = ? AND state != "
                         f"{RESOLVED}", (owner,)).fetchall()
        return [int(r[0]) for r in rows]

    def set_outcome(self, alert_id: int, outcome: str) -> None:
        self._run("UPDATE alerts SET outcome = ?, follow_up_ms = NULL, owner = NULL "
                  "WHERE alert_id = ?", (outcome, alert_id))

    def want(self, alert_id: int, wanted_ms: int | None) -> None:
        """A request: when the resident wants it done."""
        self._run("UPDATE alerts SET wanted_ms = ? WHERE alert_id = ?", (wanted_ms, alert_id))
