"""Notices: the outbox the dispatcher sends from (``Outbox``), and what the desk, the SMS
callbacks and the metrics read of them (``Notices``)."""

from __future__ import annotations

from typing import Any

from alerts.model import LOCAL_NODE, Notice, NoticeState
from alerts.store.schema import (
    CANCELLED,
    DELIVERED,
    FAILED,
    NOTICE_COLS,
    OPEN,
    PENDING,
    SENDING,
    SENT,
)
from alerts.store.table import Table


class Outbox(Table):
    def queue(self, alert_id: int, step: int, contact: int, channel: str, recipient: str,
              language: str, subject: str, body: str, payload: str, now_ms: int,
              claim_by: str | None = None) -> int | None:
        """A notice due at ``now_ms``; its id, or None if that step and contact have one
        already. With ``claim_by``, claimed by that node for sending at once (as ``claim``
        would, in the same commit)."""
        row = self._run(
            "INSERT INTO notices (alert_id, step, contact, channel, recipient, "
            "language, subject, body, payload, state, attempts, created_ms, next_try_ms, "
            "claimed_by, claimed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING RETURNING notice_id",
            (alert_id, step, contact, channel, recipient, language, subject, body, payload,
             NoticeState.PENDING.value if claim_by is None else NoticeState.SENDING.value,
             0 if claim_by is None else 1, now_ms, now_ms, claim_by,
             None if claim_by is None else now_ms)).fetchone()
        return None if row is None else int(row[0])

    def due(self, now_ms: int, limit: int = 100) -> list[Notice]:
        rows = self._run(f"SELECT {NOTICE_COLS} FROM notices WHERE state = {PENDING} AND "
                         "next_try_ms <= ? ORDER BY next_try_ms, notice_id LIMIT ?",
                         (now_ms, limit)).fetchall()
        return [_notice(row) for row in rows]

    def next_due_ms(self) -> int | None:
        """When the earliest pending notice is due (None: none is pending)."""
        row = self._run(f"SELECT MIN(next_try_ms) FROM notices WHERE state = {PENDING}"
                        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def cancel(self, alert_id: int, responders_too: bool = True) -> None:
        """Every pending notice of the alert (resolved); acknowledged, only the
        escalation's (``responders_too`` False: a responder sent must still be told)."""
        escalation = "" if responders_too else " AND step >= 0"
        self._run(f"UPDATE notices SET state = {CANCELLED} WHERE alert_id = ? AND "
                  f"state = {PENDING}{escalation}", (alert_id,))

    def claim(self, notice_id: int, node_id: str = LOCAL_NODE, now_ms: int = 0) -> bool:
        """Pending -> sending by ``node_id`` at ``now_ms``, one attempt more; False if it is
        no longer pending (acknowledged meanwhile, or another node claimed it first)."""
        cursor = self._run(f"UPDATE notices SET state = {SENDING}, attempts = attempts + 1, "
                           f"claimed_by = ?, claimed_ms = ? WHERE notice_id = ? AND "
                           f"state = {PENDING}", (node_id, now_ms, notice_id))
        return cursor.rowcount > 0

    def unclaim(self, notice_id: int, node_id: str, claimed_ms: int) -> None:
        """Sending -> pending again, if it is still this claim (nobody requeued it)."""
        self._run(f"UPDATE notices SET state = {PENDING}, attempts = attempts - 1 WHERE "
                  f"notice_id = ? AND state = {SENDING} AND claimed_by = ? AND "
                  "claimed_ms = ?", (notice_id, node_id, claimed_ms))

    def sent(self, notice_id: int, now_ms: int, reference: str | None) -> None:
        """Handed over. A delivery report may have overtaken the sender: its state stays."""
        self._run(f"UPDATE notices SET state = CASE state WHEN {SENDING} THEN {SENT} ELSE "
                  "state END, sent_ms = COALESCE(sent_ms, ?), provider_ref = ?, error = NULL "
                  "WHERE notice_id = ?", (now_ms, reference, notice_id))

    def retry_later(self, notice_id: int, next_try_ms: int, error: str) -> None:
        self._run(f"UPDATE notices SET state = {PENDING}, next_try_ms = ?, error = ? "
                  f"WHERE notice_id = ? AND state = {SENDING}",
                  (next_try_ms, error, notice_id))

    def give_up(self, notice_id: int, error: str) -> None:
        self._run(f"UPDATE notices SET state = {FAILED}, error = ? WHERE notice_id = ?",
                  (error, notice_id))

    def requeue_sending(self, keep: tuple[str, ...] = (), claimed_before_ms: int = 2**62,
                        mine: str | None = None) -> int:
        """Notices a dead process left sending go out again; how many. Those claimed by
        a node in ``keep`` (the other live nodes) are still being sent and stay, and so do
        those claimed after ``claimed_before_ms`` (a node that only paused may still be
        sending them); those claimed by ``mine`` (this node, restarted) go whatever age."""
        others = f"claimed_by NOT IN ({', '.join('?' * len(keep))})" if keep else "1 = 1"
        cursor = self._run(
            f"UPDATE notices SET state = {PENDING} WHERE state = {SENDING} AND "
            f"(claimed_by = ? OR ((claimed_by IS NULL OR {others}) AND "
            "(claimed_ms IS NULL OR claimed_ms <= ?)))",
            (mine or "", *keep, claimed_before_ms))
        return cursor.rowcount

    def delivery(self, notice_id: int, delivered: bool, now_ms: int, error: str) -> None:
        """The gateway's delivery report for a notice that was sent (or being sent)."""
        if delivered:
            self._run(f"UPDATE notices SET state = {DELIVERED}, delivered_ms = ? WHERE "
                      f"notice_id = ? AND state IN ({SENT}, {SENDING})", (now_ms, notice_id))
        else:
            self._run(f"UPDATE notices SET state = {FAILED}, error = ? WHERE notice_id = ? "
                      f"AND state IN ({SENT}, {SENDING})", (error, notice_id))


class Notices(Table):
    def get(self, notice_id: int) -> Notice | None:
        row = self._run(f"SELECT {NOTICE_COLS} FROM notices WHERE notice_id = ?",
                        (notice_id,)).fetchone()
        return _notice(row) if row else None

    def of(self, alert_id: int | None = None) -> list[Notice]:
        """The notices of one alert (every notice: None), oldest first."""
        if alert_id is None:
            rows = self._run(f"SELECT {NOTICE_COLS} FROM notices ORDER BY notice_id")
        else:
            rows = self._run(f"SELECT {NOTICE_COLS} FROM notices WHERE alert_id = ? "
                             "ORDER BY notice_id", (alert_id,))
        return [_notice(row) for row in rows.fetchall()]

    def counts(self) -> list[tuple[str, NoticeState, int]]:
        """Notices by channel and state."""
        rows = self._run("SELECT channel, state, COUNT(*) FROM notices "
                         "GROUP BY channel, state").fetchall()
        return [(channel, NoticeState(state), n) for channel, state, n in rows]

    def texted(self, channel: str, phone: str) -> list[tuple[int, int, str]]:
        """(alert, contact, language) of every open alert an escalation step sent by
        ``channel`` to ``phone``, the newest notice first, each alert once."""
        rows = self._run(
            "SELECT n.alert_id, n.contact, n.language FROM notices n JOIN alerts a "
            f"USING (alert_id) WHERE n.channel = ? AND n.recipient = ? AND a.state = {OPEN} "
            "AND n.step >= 0 "  # escalation's, not a responder's (``alerts.response``)
            f"AND n.state IN ({SENT}, {DELIVERED}, {SENDING}) ORDER BY n.notice_id DESC "
            "LIMIT 50", (channel, phone)).fetchall()
        out: dict[int, tuple[int, int, str]] = {}
        for alert_id, contact, language in rows:
            out.setdefault(int(alert_id), (int(alert_id), int(contact), str(language)))
        return list(out.values())


def _notice(row: tuple[Any, ...]) -> Notice:
    values = list(row)
    values[10] = NoticeState(values[10])
    return Notice(*values)
