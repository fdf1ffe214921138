"""Alert state in the embedded database: alerts and their timeline, silences, escalation
timers and the notification outbox. Everything the alert core must not forget across a
restart lives here, and every change is committed before it is acted on.

This module owns every SQL statement on these tables; the rest of the alert core, the
dashboard and the metrics call its methods, which take and give the enums below. (The
states are written into the SQL from the enums, not bound, where a partial index needs to
see them.)
"""

from __future__ import annotations

import enum
import threading
from pathlib import Path
from typing import Any

import msgspec

from alerts.model import Condition, Severity
from alerts.store.backends import AddedColumns, Result, connect
from alerts.store.backends import StateError as StateError  # what every method raises

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    alert_id INTEGER PRIMARY KEY,
    condition TEXT NOT NULL, subject TEXT NOT NULL,
    site_id TEXT NOT NULL, gateway_id TEXT NOT NULL, device_id TEXT NOT NULL,
    severity INTEGER NOT NULL, state TEXT NOT NULL, active INTEGER NOT NULL,
    opened_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, repeats INTEGER NOT NULL,
    flaps INTEGER NOT NULL, silenced INTEGER NOT NULL, detail TEXT NOT NULL,
    acked_by TEXT, acked_ms INTEGER, resolved_by TEXT, resolved_ms INTEGER, note TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_open ON alerts (condition, subject)
    WHERE state != 'resolved';
CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts (state, severity);
CREATE INDEX IF NOT EXISTS alerts_unresolved ON alerts (severity DESC, opened_ms DESC)
    WHERE state != 'resolved';
CREATE INDEX IF NOT EXISTS alerts_by_subject ON alerts (subject, opened_ms);
CREATE INDEX IF NOT EXISTS alerts_resolved ON alerts (resolved_ms) WHERE state = 'resolved';
CREATE TABLE IF NOT EXISTS timeline (
    alert_id INTEGER NOT NULL, t_ms INTEGER NOT NULL, what TEXT NOT NULL,
    who TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_alert ON timeline (alert_id, t_ms);
CREATE TABLE IF NOT EXISTS silences (
    silence_id INTEGER PRIMARY KEY, subject TEXT NOT NULL, condition TEXT,
    until_ms INTEGER NOT NULL, created_by TEXT NOT NULL, reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS escalation (
    alert_id INTEGER NOT NULL, step INTEGER NOT NULL, contact INTEGER NOT NULL,
    due_ms INTEGER NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (alert_id, step, contact)
);
CREATE INDEX IF NOT EXISTS escalation_due ON escalation (state, due_ms);
CREATE TABLE IF NOT EXISTS notices (
    notice_id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, step INTEGER NOT NULL,
    contact INTEGER NOT NULL, channel TEXT NOT NULL, recipient TEXT NOT NULL,
    language TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,
    payload TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
    created_ms INTEGER NOT NULL, next_try_ms INTEGER NOT NULL, sent_ms INTEGER,
    delivered_ms INTEGER, provider_ref TEXT, error TEXT,
    UNIQUE (alert_id, step, contact)
);
CREATE INDEX IF NOT EXISTS notices_due ON notices (state, next_try_ms);
CREATE INDEX IF NOT EXISTS notices_alert ON notices (alert_id);
CREATE TABLE IF NOT EXISTS nodes (
    node_id TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partition_leases (
    part INTEGER PRIMARY KEY, owner TEXT NOT NULL, expires_ms INTEGER NOT NULL
);
"""

# the node sending a notice, and since when (its clock)
_ADDED_COLUMNS: AddedColumns = [("notices", "claimed_by", "TEXT"),
                                ("notices", "claimed_ms", "BIGINT"),
                                # a node says with its heartbeat that its alert core lags
                                ("nodes", "degraded", "INTEGER")]


LOCAL_NODE = "local"  # the one node of a single-process deployment


class AlertState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class EscalationState(enum.StrEnum):
    PENDING = "pending"  # a timer: due at ``due_ms``
    DONE = "done"  # taken: its notice is in the outbox
    CANCELLED = "cancelled"  # acknowledged, resolved, or flapping before it was due


class NoticeState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # handed to the provider; if we die here, the outcome is unknown
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Alert(msgspec.Struct, frozen=True):
    alert_id: int
    condition: Condition
    subject: str
    site_id: str
    gateway_id: str
    device_id: str
    severity: Severity
    state: AlertState
    active: bool
    opened_ms: int
    updated_ms: int
    repeats: int
    flaps: int
    silenced: bool
    detail: str
    acked_by: str | None = None
    acked_ms: int | None = None
    resolved_by: str | None = None
    resolved_ms: int | None = None
    note: str | None = None


class Notice(msgspec.Struct, frozen=True):
    notice_id: int
    alert_id: int
    step: int
    contact: int
    channel: str
    recipient: str
    language: str
    subject: str
    body: str
    payload: str
    state: NoticeState
    attempts: int
    created_ms: int
    next_try_ms: int
    sent_ms: int | None = None
    delivered_ms: int | None = None
    provider_ref: str | None = None
    error: str | None = None


class TimelineEntry(msgspec.Struct, frozen=True):
    alert_id: int
    t_ms: int
    what: str
    who: str
    detail: str


class Silence(msgspec.Struct, frozen=True):
    silence_id: int
    subject: str
    condition: str | None
    until_ms: int
    created_by: str
    reason: str


_ALERT_COLS = ", ".join(Alert.__struct_fields__)
_OPEN, _ACKED, _RESOLVED = (f"'{s.value}'" for s in AlertState)
_STEP_PENDING, _STEP_DONE, _STEP_CANCELLED = (f"'{s.value}'" for s in EscalationState)
_PENDING, _SENDING, _SENT, _DELIVERED, _FAILED, _CANCELLED = (
    f"'{s.value}'" for s in NoticeState)
_NOTICE_COLS = ", ".join(Notice.__struct_fields__)
_SILENCE_COLS = ", ".join(Silence.__struct_fields__)


class StateDb:
    """One connection shared by the core, the dispatcher and the callback server.

    ``location`` is an SQLite file (the embedded default) or a PostgreSQL DSN
    (``postgresql://…``, shared by the alert nodes of a multi-node deployment)."""

    def __init__(self, location: Path | str, timeout_s: float | None = None) -> None:
        """``timeout_s``: every statement answers within it or fails (PostgreSQL; the
        lease keeper's connection, which must never hang past its lease)."""
        self.lock = threading.RLock()
        self.backend = connect(location, _SCHEMA, _ADDED_COLUMNS, ordered=("timeline",),
                               timeout_s=timeout_s)

    def close(self) -> None:
        with self.lock:
            self.backend.close()

    def __enter__(self) -> StateDb:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def announce(self, channel: str, payload: str) -> None:
        """Tell every node listening on ``channel`` (PostgreSQL; one process needs none)."""
        if self.backend.name == "postgresql":
            self._run("SELECT pg_notify(?, ?)", (channel, payload))

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> Result:
        with self.lock:
            return self.backend.execute(sql, args)

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    # --- alerts -------------------------------------------------------------------------

    def alert(self, alert_id: int) -> Alert | None:
        row = self._run(f"SELECT {_ALERT_COLS} FROM alerts WHERE alert_id = ?",
                       (alert_id,)).fetchone()
        return _alert(row) if row else None

    def unresolved(self, condition: Condition, subject: str) -> Alert | None:
        row = self._run(f"SELECT {_ALERT_COLS} FROM alerts WHERE condition = ? AND subject = ?"
                       f" AND state != {_RESOLVED}", (condition.value, subject)).fetchone()
        return _alert(row) if row else None

    def last_resolved(self, condition: Condition, subject: str) -> Alert | None:
        row = self._run(f"SELECT {_ALERT_COLS} FROM alerts WHERE condition = ? AND subject = ?"
                       f" AND state = {_RESOLVED} ORDER BY resolved_ms DESC LIMIT 1",
                       (condition.value, subject)).fetchone()
        return _alert(row) if row else None

    def alerts(self, *, state: AlertState | None = None, site_id: str | None = None,
               open_only: bool = False, severity_min: int = 0, since_ms: int = 0,
               subjects: tuple[str, ...] = (), sites: tuple[str, ...] = (),
               conditions: tuple[Condition, ...] = (), limit: int = 500) -> list[Alert]:
        """Alerts, filtered and ordered here: unresolved first, then the most severe, then
        the newest. ``subjects`` keeps alerts about any of those subjects only, ``sites``
        those of any of those sites (a desk user's scope)."""
        where: list[str] = []
        args: list[object] = []
        if open_only:
            where.append(f"state != {_RESOLVED}")  # the partial index alerts_unresolved
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
        if subjects:
            where.append(f"subject IN ({', '.join('?' * len(subjects))})")
            args.extend(subjects)
        if sites:
            where.append(f"site_id IN ({', '.join('?' * len(sites))})")
            args.extend(sites)
        if conditions:
            where.append(f"condition IN ({', '.join('?' * len(conditions))})")
            args.extend(c.value for c in conditions)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._run(f"SELECT {_ALERT_COLS} FROM alerts {clause} ORDER BY "
                        f"state = {_RESOLVED}, severity DESC, opened_ms DESC, alert_id DESC "
                        f"LIMIT ?", (*args, limit)).fetchall()
        return [_alert(row) for row in rows]

    def purge_resolved(self, before_ms: int) -> int:
        """Delete alerts resolved before ``before_ms`` with their timeline, escalation and
        notices (retention); an unresolved alert is never deleted, however old."""
        with self.transaction():
            old = f"SELECT alert_id FROM alerts WHERE state = {_RESOLVED} AND resolved_ms < ?"
            for table in ("timeline", "escalation", "notices"):
                self._run(f"DELETE FROM {table} WHERE alert_id IN ({old})", (before_ms,))
            cursor = self._run(f"DELETE FROM alerts WHERE state = {_RESOLVED} AND "
                               "resolved_ms < ?", (before_ms,))
        return cursor.rowcount

    def timeline(self, alert_id: int) -> list[TimelineEntry]:
        rows = self._run("SELECT alert_id, t_ms, what, who, detail FROM timeline "
                        f"WHERE alert_id = ? ORDER BY t_ms, {self.backend.row_order}",
                         (alert_id,)).fetchall()
        return [TimelineEntry(*row) for row in rows]

    # --- notices ------------------------------------------------------------------------

    def notice(self, notice_id: int) -> Notice | None:
        row = self._run(f"SELECT {_NOTICE_COLS} FROM notices WHERE notice_id = ?",
                       (notice_id,)).fetchone()
        return _notice(row) if row else None

    def notices(self, alert_id: int | None = None) -> list[Notice]:
        if alert_id is None:
            rows = self._run(f"SELECT {_NOTICE_COLS} FROM notices ORDER BY notice_id")
        else:
            rows = self._run(f"SELECT {_NOTICE_COLS} FROM notices WHERE alert_id = ? "
                            "ORDER BY notice_id", (alert_id,))
        return [_notice(row) for row in rows.fetchall()]

    def silences(self, now_ms: int) -> list[Silence]:
        """Silences still running at ``now_ms``, the first to end first."""
        rows = self._run(f"SELECT {_SILENCE_COLS} FROM silences WHERE until_ms > ? "
                        "ORDER BY until_ms", (now_ms,)).fetchall()
        return [Silence(*row) for row in rows]

    # --- what operators count (metrics) ----------------------------------------------

    def open_counts(self) -> list[tuple[Condition, Severity, int]]:
        """Unresolved alerts by condition and severity."""
        rows = self._run("SELECT condition, severity, COUNT(*) FROM alerts WHERE state != "
                         f"{_RESOLVED} GROUP BY condition, severity").fetchall()
        return [(Condition(c), Severity(s), n) for c, s, n in rows]

    def notice_counts(self) -> list[tuple[str, NoticeState, int]]:
        """Notices by channel and state."""
        rows = self._run("SELECT channel, state, COUNT(*) FROM notices "
                        "GROUP BY channel, state").fetchall()
        return [(channel, NoticeState(state), n) for channel, state, n in rows]

    def steps_due(self, now_ms: int, late_after_ms: int) -> tuple[int, int]:
        """Escalation steps pending and due by ``now_ms``, and those of them overdue by
        more than ``late_after_ms`` (the timer thread should have taken them)."""
        due, late = self._run(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN due_ms <= ? THEN 1 ELSE 0 END), 0) "
            "FROM escalation "
            f"WHERE state = {_STEP_PENDING} AND due_ms <= ?",
            (now_ms - late_after_ms, now_ms)).fetchone()
        return int(due), int(late)

    def due_notices(self, now_ms: int, limit: int = 100) -> list[Notice]:
        rows = self._run(f"SELECT {_NOTICE_COLS} FROM notices WHERE state = {_PENDING} AND "
                        "next_try_ms <= ? ORDER BY next_try_ms, notice_id LIMIT ?",
                        (now_ms, limit)).fetchall()
        return [_notice(row) for row in rows]

    # --- the alert lifecycle (the core) ----------------------------------------------

    def silenced(self, condition: Condition, subjects: tuple[str, ...], now_ms: int) -> bool:
        """A silence running at ``now_ms`` covers one of ``subjects`` (a resident, a
        gateway, a site), for every condition or for ``condition``."""
        marks = ", ".join("?" * len(subjects))
        row = self._run(f"SELECT 1 FROM silences WHERE until_ms > ? AND subject IN ({marks})"
                        " AND (condition IS NULL OR condition = ?) LIMIT 1",
                        (now_ms, *subjects, condition.value)).fetchone()
        return row is not None

    def open_alert(self, condition: Condition, subject: str, site_id: str, gateway_id: str,
                   device_id: str, severity: Severity, now_ms: int, silenced: bool,
                   detail: str) -> int:
        """A new open alert; its id."""
        cursor = self._run(
            "INSERT INTO alerts (condition, subject, site_id, gateway_id, device_id, "
            "severity, state, active, opened_ms, updated_ms, repeats, flaps, silenced, "
            f"detail) VALUES (?, ?, ?, ?, ?, ?, {_OPEN}, 1, ?, ?, 0, 0, ?, ?) RETURNING alert_id",
            (condition.value, subject, site_id, gateway_id, device_id, int(severity), now_ms,
             now_ms, int(silenced), detail))
        return int(cursor.fetchone()[0])

    def repeat(self, alert_id: int, now_ms: int, detail: str) -> None:
        """The condition of an unresolved alert was signalled again."""
        self._run("UPDATE alerts SET repeats = repeats + 1, active = 1, updated_ms = ?, "
                  "detail = ? WHERE alert_id = ?", (now_ms, detail, alert_id))

    def reopen(self, alert_id: int, now_ms: int, detail: str, silenced: bool) -> None:
        """A resolved alert comes back (a flap): open again, one flap more."""
        self._run(f"UPDATE alerts SET state = {_OPEN}, active = 1, flaps = flaps + 1, "
                  "updated_ms = ?, detail = ?, silenced = ?, resolved_by = NULL, "
                  "resolved_ms = NULL, acked_by = NULL, acked_ms = NULL WHERE alert_id = ?",
                  (now_ms, detail, int(silenced), alert_id))

    def ended(self, alert_id: int, now_ms: int) -> None:
        """The condition is over, but the alert stays until someone resolves it."""
        self._run("UPDATE alerts SET active = 0, updated_ms = ? WHERE alert_id = ?",
                  (now_ms, alert_id))

    def close_alert(self, alert_id: int, state: AlertState, who: str, now_ms: int,
                    note: str) -> None:
        """Acknowledged or resolved: and every pending step and notice of it cancelled."""
        column = "acked" if state is AlertState.ACKNOWLEDGED else "resolved"
        self._run(f"UPDATE alerts SET state = ?, {column}_by = ?, {column}_ms = ?, "
                  "note = COALESCE(NULLIF(?, ''), note), updated_ms = ? WHERE alert_id = ?",
                  (state.value, who, now_ms, note, now_ms, alert_id))
        self.cancel_steps(alert_id)
        self._run(f"UPDATE notices SET state = {_CANCELLED} WHERE alert_id = ? AND "
                  f"state = {_PENDING}", (alert_id,))

    def note(self, alert_id: int, t_ms: int, what: str, who: str, detail: str) -> None:
        """One line on the alert's timeline."""
        self._run("INSERT INTO timeline (alert_id, t_ms, what, who, detail) "
                  "VALUES (?, ?, ?, ?, ?)",
                  (alert_id, t_ms, what, who, detail))

    def add_silence(self, subject: str, condition: Condition | None, until_ms: int,
                    who: str, reason: str) -> int:
        cursor = self._run(
            "INSERT INTO silences (subject, condition, until_ms, created_by, reason) "
            "VALUES (?, ?, ?, ?, ?) RETURNING silence_id",
            (subject, condition.value if condition else None, until_ms, who, reason))
        return int(cursor.fetchone()[0])

    # --- escalation timers ---------------------------------------------------------------

    def add_step(self, alert_id: int, step: int, contact: int, due_ms: int) -> None:
        """A pending timer (kept as it is if that step and contact have one already)."""
        self._run("INSERT INTO escalation (alert_id, step, contact, due_ms, state) "
                  f"VALUES (?, ?, ?, ?, {_STEP_PENDING}) ON CONFLICT DO NOTHING",
                  (alert_id, step, contact, due_ms))

    def cancel_steps(self, alert_id: int) -> None:
        self._run(f"UPDATE escalation SET state = {_STEP_CANCELLED} WHERE alert_id = ? AND "
                  f"state = {_STEP_PENDING}", (alert_id,))

    def due_steps(self, now_ms: int) -> list[tuple[int, int, int]]:
        """(alert, step, contact) of the pending timers due by ``now_ms`` on open alerts,
        the earliest first."""
        rows = self._run(
            "SELECT e.alert_id, e.step, e.contact FROM escalation e JOIN alerts a USING "
            f"(alert_id) WHERE e.state = {_STEP_PENDING} AND e.due_ms <= ? AND "
            f"a.state = {_OPEN} ORDER BY e.due_ms", (now_ms,)).fetchall()
        return [(int(a), int(s), int(c)) for a, s, c in rows]

    def take_step(self, alert_id: int, step: int, contact: int) -> bool:
        """Mark a due timer done, if it is still pending and its alert still open."""
        cursor = self._run(
            f"UPDATE escalation SET state = {_STEP_DONE} WHERE alert_id = ? AND step = ? AND "
            f"contact = ? AND state = {_STEP_PENDING} AND EXISTS (SELECT 1 FROM alerts "
            f"WHERE alert_id = ? AND state = {_OPEN})", (alert_id, step, contact, alert_id))
        return cursor.rowcount > 0

    def hurry_step(self, alert_id: int, step: int, contact: int, now_ms: int) -> None:
        """A pending timer is due now at the latest."""
        self._run("UPDATE escalation SET due_ms = CASE WHEN due_ms > ? THEN ? ELSE due_ms "
                  f"END WHERE alert_id = ? AND step = ? AND contact = ? AND "
                  f"state = {_STEP_PENDING}", (now_ms, now_ms, alert_id, step, contact))

    # --- the notification outbox -----------------------------------------------------

    def queue_notice(self, alert_id: int, step: int, contact: int, channel: str,
                     recipient: str, language: str, subject: str, body: str, payload: str,
                     now_ms: int) -> bool:
        """A pending notice (none if that step and contact have one already)."""
        cursor = self._run(
            "INSERT INTO notices (alert_id, step, contact, channel, recipient, "
            "language, subject, body, payload, state, attempts, created_ms, next_try_ms) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {_PENDING}, 0, ?, ?) ON CONFLICT DO NOTHING",
            (alert_id, step, contact, channel, recipient, language, subject, body, payload,
             now_ms, now_ms))
        return cursor.rowcount > 0

    def texted_alerts(self, channel: str, phone: str) -> list[tuple[int, int, str]]:
        """(alert, contact, language) of every open alert sent by ``channel`` to ``phone``,
        the newest notice first, each alert once."""
        rows = self._run(
            "SELECT n.alert_id, n.contact, n.language FROM notices n JOIN alerts a "
            f"USING (alert_id) WHERE n.channel = ? AND n.recipient = ? AND a.state = {_OPEN} "
            f"AND n.state IN ({_SENT}, {_DELIVERED}, {_SENDING}) ORDER BY n.notice_id DESC "
            "LIMIT 50", (channel, phone)).fetchall()
        out: dict[int, tuple[int, int, str]] = {}
        for alert_id, contact, language in rows:
            out.setdefault(int(alert_id), (int(alert_id), int(contact), str(language)))
        return list(out.values())

    def claim(self, notice_id: int, node_id: str = LOCAL_NODE, now_ms: int = 0) -> bool:
        """Pending -> sending by ``node_id`` at ``now_ms``, one attempt more; False if it is
        no longer pending (acknowledged meanwhile, or another node claimed it first)."""
        cursor = self._run(f"UPDATE notices SET state = {_SENDING}, attempts = attempts + 1, "
                           f"claimed_by = ?, claimed_ms = ? WHERE notice_id = ? AND "
                           f"state = {_PENDING}", (node_id, now_ms, notice_id))
        return cursor.rowcount > 0

    def unclaim(self, notice_id: int, node_id: str, claimed_ms: int) -> None:
        """Sending -> pending again, if it is still this claim (nobody requeued it)."""
        self._run(f"UPDATE notices SET state = {_PENDING}, attempts = attempts - 1 WHERE "
                  f"notice_id = ? AND state = {_SENDING} AND claimed_by = ? AND "
                  "claimed_ms = ?", (notice_id, node_id, claimed_ms))

    def sent(self, notice_id: int, now_ms: int, reference: str | None) -> None:
        """Handed over. A delivery report may have overtaken the sender: its state stays."""
        self._run(f"UPDATE notices SET state = CASE state WHEN {_SENDING} THEN {_SENT} ELSE "
                  "state END, sent_ms = COALESCE(sent_ms, ?), provider_ref = ?, error = NULL "
                  "WHERE notice_id = ?", (now_ms, reference, notice_id))

    def retry_later(self, notice_id: int, next_try_ms: int, error: str) -> None:
        self._run(f"UPDATE notices SET state = {_PENDING}, next_try_ms = ?, error = ? "
                  f"WHERE notice_id = ? AND state = {_SENDING}",
                  (next_try_ms, error, notice_id))

    def give_up(self, notice_id: int, error: str) -> None:
        self._run(f"UPDATE notices SET state = {_FAILED}, error = ? WHERE notice_id = ?",
                  (error, notice_id))

    def requeue_sending(self, keep: tuple[str, ...] = (), claimed_before_ms: int = 2**62,
                        mine: str | None = None) -> int:
        """Notices a dead process left sending go out again; how many. Those claimed by
        a node in ``keep`` (the other live nodes) are still being sent and stay, and so do
        those claimed after ``claimed_before_ms`` (a node that only paused may still be
        sending them); those claimed by ``mine`` (this node, restarted) go whatever age."""
        others = f"claimed_by NOT IN ({', '.join('?' * len(keep))})" if keep else "1 = 1"
        cursor = self._run(
            f"UPDATE notices SET state = {_PENDING} WHERE state = {_SENDING} AND "
            f"(claimed_by = ? OR ((claimed_by IS NULL OR {others}) AND "
            "(claimed_ms IS NULL OR claimed_ms <= ?)))",
            (mine or "", *keep, claimed_before_ms))
        return cursor.rowcount

    # --- nodes and partition leases (multi-node) ------------------------------------

    def store_now_ms(self) -> int:
        """The shared store's clock: the one time line every node's leases and
        heartbeats are written on, whatever the nodes' own clocks say."""
        return int(self._run(f"SELECT {self.backend.now_ms_sql}").fetchone()[0])

    def beat(self, node_id: str, now_ms: int, degraded: bool = False) -> None:
        """``node_id`` is alive at ``now_ms`` (and its alert core keeps up, or not)."""
        self._run("INSERT INTO nodes (node_id, seen_ms, degraded) VALUES (?, ?, ?) ON CONFLICT "
                  "(node_id) DO UPDATE SET seen_ms = excluded.seen_ms, "
                  "degraded = excluded.degraded", (node_id, now_ms, int(degraded)))

    def degraded_nodes(self, since_ms: int) -> list[str]:
        """Live nodes (seen at or after ``since_ms``) whose alert core said it lags."""
        rows = self._run("SELECT node_id FROM nodes WHERE seen_ms >= ? AND degraded = 1 "
                         "ORDER BY node_id", (since_ms,)).fetchall()
        return [str(row[0]) for row in rows]

    def leave(self, node_id: str) -> None:
        """``node_id`` stops: the others no longer count it."""
        self._run("DELETE FROM nodes WHERE node_id = ?", (node_id,))

    def live_nodes(self, since_ms: int) -> list[str]:
        """Nodes seen at or after ``since_ms``, by id."""
        rows = self._run("SELECT node_id FROM nodes WHERE seen_ms >= ? ORDER BY node_id",
                         (since_ms,)).fetchall()
        return [str(row[0]) for row in rows]

    def leases(self) -> dict[int, tuple[str, int]]:
        """Every partition lease: partition -> (owner, expires_ms)."""
        rows = self._run("SELECT part, owner, expires_ms FROM partition_leases").fetchall()
        return {int(p): (str(o), int(e)) for p, o, e in rows}

    def take_lease(self, part: int, node_id: str, now_ms: int, until_ms: int) -> bool:
        """Take or renew the lease on ``part`` until ``until_ms``: only if it is free,
        expired by ``now_ms``, or ``node_id``'s already. One statement, so two nodes can
        never both hold it."""
        cursor = self._run(
            "INSERT INTO partition_leases (part, owner, expires_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (part) DO UPDATE SET owner = excluded.owner, "
            "expires_ms = excluded.expires_ms WHERE partition_leases.owner = excluded.owner "
            "OR partition_leases.expires_ms <= ?", (part, node_id, until_ms, now_ms))
        return cursor.rowcount > 0

    def release_lease(self, part: int, node_id: str) -> None:
        """Give ``part`` up at once (to a node that joined, or when stopping)."""
        self._run("DELETE FROM partition_leases WHERE part = ? AND owner = ?",
                  (part, node_id))

    def delivery(self, notice_id: int, delivered: bool, now_ms: int, error: str) -> None:
        """The gateway's delivery report for a notice that was sent (or being sent)."""
        if delivered:
            self._run(f"UPDATE notices SET state = {_DELIVERED}, delivered_ms = ? WHERE "
                      f"notice_id = ? AND state IN ({_SENT}, {_SENDING})", (now_ms, notice_id))
        else:
            self._run(f"UPDATE notices SET state = {_FAILED}, error = ? WHERE notice_id = ? "
                      f"AND state IN ({_SENT}, {_SENDING})", (error, notice_id))


class _Transaction:
    def __init__(self, db: StateDb) -> None:
        self._db = db

    def __enter__(self) -> StateDb:
        self._db.lock.acquire()
        try:
            self._db.backend.begin()
        except BaseException:
            self._db.lock.release()
            raise
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._db.backend.end(commit=exc_type is None)
        finally:
            self._db.lock.release()


def _alert(row: tuple[Any, ...]) -> Alert:
    values = list(row)
    values[1] = Condition(values[1])
    values[6] = Severity(values[6])
    values[7] = AlertState(values[7])
    values[8] = bool(values[8])
    values[13] = bool(values[13])
    return Alert(*values)


def _notice(row: tuple[Any, ...]) -> Notice:
    values = list(row)
    values[10] = NoticeState(values[10])
    return Notice(*values)
