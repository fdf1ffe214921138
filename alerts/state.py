"""Alert state in the embedded database: alerts and their timeline, silences, escalation
timers and the notification outbox. Everything the alert core must not forget across a
restart lives here, and every change is committed before it is acted on.
"""

from __future__ import annotations

import enum
import sqlite3
import threading
from pathlib import Path
from typing import Any

import msgspec

from alerts.conditions import Condition, Severity

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
"""


class AlertState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


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


class StateError(Exception):
    """The alert database cannot be opened or written."""


_ALERT_COLS = ", ".join(Alert.__struct_fields__)
_NOTICE_COLS = ", ".join(Notice.__struct_fields__)
_SILENCE_COLS = ", ".join(Silence.__struct_fields__)


class StateDb:
    """One connection shared by the core, the dispatcher and the callback server."""

    def __init__(self, path: Path | str) -> None:
        self.lock = threading.RLock()
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StateError(f"cannot open alert state {path}: {exc}") from exc

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def run(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self.lock:
            try:
                return self.db.execute(sql, args)
            except sqlite3.Error as exc:
                raise StateError(str(exc)) from exc

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    # --- alerts -------------------------------------------------------------------------

    def alert(self, alert_id: int) -> Alert | None:
        row = self.run(f"SELECT {_ALERT_COLS} FROM alerts WHERE alert_id = ?",
                       (alert_id,)).fetchone()
        return _alert(row) if row else None

    def unresolved(self, condition: Condition, subject: str) -> Alert | None:
        row = self.run(f"SELECT {_ALERT_COLS} FROM alerts WHERE condition = ? AND subject = ?"
                       " AND state != 'resolved'", (condition.value, subject)).fetchone()
        return _alert(row) if row else None

    def last_resolved(self, condition: Condition, subject: str) -> Alert | None:
        row = self.run(f"SELECT {_ALERT_COLS} FROM alerts WHERE condition = ? AND subject = ?"
                       " AND state = 'resolved' ORDER BY resolved_ms DESC LIMIT 1",
                       (condition.value, subject)).fetchone()
        return _alert(row) if row else None

    def alerts(self, *, state: AlertState | None = None, site_id: str | None = None,
               open_only: bool = False, severity_min: int = 0, since_ms: int = 0,
               subjects: tuple[str, ...] = (), limit: int = 500) -> list[Alert]:
        """Alerts, filtered and ordered here: unresolved first, then the most severe, then
        the newest. ``subjects`` keeps alerts about any of those subjects only."""
        where: list[str] = []
        args: list[object] = []
        if open_only:
            where.append("state != 'resolved'")  # the partial index alerts_unresolved
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
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.run(f"SELECT {_ALERT_COLS} FROM alerts {clause} ORDER BY "
                        f"state = 'resolved', severity DESC, opened_ms DESC, alert_id DESC "
                        f"LIMIT ?", (*args, limit)).fetchall()
        return [_alert(row) for row in rows]

    def purge_resolved(self, before_ms: int) -> int:
        """Delete alerts resolved before ``before_ms`` with their timeline, escalation and
        notices (retention); an unresolved alert is never deleted, however old."""
        with self.transaction():
            old = "SELECT alert_id FROM alerts WHERE state = 'resolved' AND resolved_ms < ?"
            for table in ("timeline", "escalation", "notices"):
                self.run(f"DELETE FROM {table} WHERE alert_id IN ({old})", (before_ms,))
            cursor = self.run("DELETE FROM alerts WHERE state = 'resolved' AND "
                              "resolved_ms < ?", (before_ms,))
        return cursor.rowcount

    def timeline(self, alert_id: int) -> list[TimelineEntry]:
        rows = self.run("SELECT alert_id, t_ms, what, who, detail FROM timeline "
                        "WHERE alert_id = ? ORDER BY t_ms, rowid", (alert_id,)).fetchall()
        return [TimelineEntry(*row) for row in rows]

    # --- notices ------------------------------------------------------------------------

    def notice(self, notice_id: int) -> Notice | None:
        row = self.run(f"SELECT {_NOTICE_COLS} FROM notices WHERE notice_id = ?",
                       (notice_id,)).fetchone()
        return _notice(row) if row else None

    def notices(self, alert_id: int | None = None) -> list[Notice]:
        if alert_id is None:
            rows = self.run(f"SELECT {_NOTICE_COLS} FROM notices ORDER BY notice_id")
        else:
            rows = self.run(f"SELECT {_NOTICE_COLS} FROM notices WHERE alert_id = ? "
                            "ORDER BY notice_id", (alert_id,))
        return [_notice(row) for row in rows.fetchall()]

    def silences(self, now_ms: int) -> list[Silence]:
        """Silences still running at ``now_ms``, the first to end first."""
        rows = self.run(f"SELECT {_SILENCE_COLS} FROM silences WHERE until_ms > ? "
                        "ORDER BY until_ms", (now_ms,)).fetchall()
        return [Silence(*row) for row in rows]

    # --- what operators count (metrics) ----------------------------------------------

    def open_counts(self) -> list[tuple[Condition, Severity, int]]:
        """Unresolved alerts by condition and severity."""
        rows = self.run("SELECT condition, severity, COUNT(*) FROM alerts WHERE state != "
                        "'resolved' GROUP BY condition, severity").fetchall()
        return [(Condition(c), Severity(s), n) for c, s, n in rows]

    def notice_counts(self) -> list[tuple[str, NoticeState, int]]:
        """Notices by channel and state."""
        rows = self.run("SELECT channel, state, COUNT(*) FROM notices "
                        "GROUP BY channel, state").fetchall()
        return [(channel, NoticeState(state), n) for channel, state, n in rows]

    def steps_due(self, now_ms: int, late_after_ms: int) -> tuple[int, int]:
        """Escalation steps pending and due by ``now_ms``, and those of them overdue by
        more than ``late_after_ms`` (the timer thread should have taken them)."""
        due, late = self.run(
            "SELECT COUNT(*), COALESCE(SUM(due_ms <= ?), 0) FROM escalation "
            "WHERE state = 'pending' AND due_ms <= ?",
            (now_ms - late_after_ms, now_ms)).fetchone()
        return int(due), int(late)

    def due_notices(self, now_ms: int, limit: int = 100) -> list[Notice]:
        rows = self.run(f"SELECT {_NOTICE_COLS} FROM notices WHERE state = 'pending' AND "
                        "next_try_ms <= ? ORDER BY next_try_ms, notice_id LIMIT ?",
                        (now_ms, limit)).fetchall()
        return [_notice(row) for row in rows]


class _Transaction:
    def __init__(self, db: StateDb) -> None:
        self._db = db

    def __enter__(self) -> StateDb:
        self._db.lock.acquire()
        self._db.run("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._db.run("COMMIT" if exc_type is None else "ROLLBACK")
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
