"""The alert store's tables, and the enum words written into its SQL (not bound, where a
partial index needs to see them)."""

from __future__ import annotations

from alerts.model import (
    Alert,
    AlertState,
    Dispatch,
    DispatchState,
    EscalationState,
    Notice,
    NoticeState,
    Silence,
)
from runtime.sql import AddedColumns

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS care_visits (
    visit_id INTEGER PRIMARY KEY, resident_id TEXT NOT NULL, site_id TEXT NOT NULL,
    t_ms INTEGER NOT NULL, visitor TEXT NOT NULL, method TEXT NOT NULL,
    found TEXT NOT NULL, note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS care_visits_resident ON care_visits (resident_id, t_ms);
CREATE INDEX IF NOT EXISTS care_visits_time ON care_visits (t_ms);
CREATE TABLE IF NOT EXISTS care_requests (
    resident_id TEXT NOT NULL, due_ms INTEGER NOT NULL, reason TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS care_plans (
    resident_id TEXT PRIMARY KEY, since_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS care_duty (
    site_id TEXT NOT NULL, username TEXT NOT NULL, on_ms INTEGER NOT NULL, off_ms INTEGER
);
CREATE INDEX IF NOT EXISTS care_duty_now ON care_duty (site_id, off_ms);
CREATE TABLE IF NOT EXISTS care_handovers (
    handover_id INTEGER PRIMARY KEY, site_id TEXT NOT NULL, shift_start_ms INTEGER NOT NULL,
    outgoing TEXT NOT NULL, notes TEXT NOT NULL, created_ms INTEGER NOT NULL,
    accepted_by TEXT, accepted_ms INTEGER
);
CREATE TABLE IF NOT EXISTS care_rounds (
    site_id TEXT NOT NULL, room TEXT NOT NULL, slot_ms INTEGER NOT NULL,
    done_ms INTEGER NOT NULL, nurse TEXT NOT NULL, how TEXT NOT NULL,
    PRIMARY KEY (site_id, room, slot_ms)
);
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
CREATE TABLE IF NOT EXISTS learned (
    subject TEXT NOT NULL, detector TEXT NOT NULL, version INTEGER NOT NULL,
    taken_ms INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (subject, detector)
);
CREATE TABLE IF NOT EXISTS dispatches (
    dispatch_id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, name TEXT NOT NULL,
    role TEXT NOT NULL, phone TEXT NOT NULL, language TEXT NOT NULL, state TEXT NOT NULL,
    sent_by TEXT NOT NULL, sent_ms INTEGER NOT NULL, due_ms INTEGER NOT NULL,
    on_way_ms INTEGER, arrived_ms INTEGER, ended_ms INTEGER, notice_id INTEGER
);
CREATE INDEX IF NOT EXISTS dispatches_alert ON dispatches (alert_id);
CREATE INDEX IF NOT EXISTS dispatches_due ON dispatches (state, due_ms);
CREATE INDEX IF NOT EXISTS dispatches_phone ON dispatches (phone, state);
"""

# the node sending a notice, and since when (its clock)
ADDED_COLUMNS: AddedColumns = [("notices", "claimed_by", "TEXT"),
                               ("notices", "claimed_ms", "BIGINT"),
                               # a node says with its heartbeat that its alert core lags
                               ("nodes", "degraded", "INTEGER"),
                               # the response: who answered and when, who has it now,
                               # how it ended, and when it comes back unless acted on
                               ("alerts", "answered_by", "TEXT"),
                               ("alerts", "answered_ms", "BIGINT"),
                               ("alerts", "owner", "TEXT"),
                               ("alerts", "outcome", "TEXT"),
                               ("alerts", "follow_up_ms", "BIGINT"),
                               ("alerts", "wanted_ms", "BIGINT")]
ORDERED = ("timeline",)  # tables read back in insertion order

ALERT_COLS = ", ".join(Alert.__struct_fields__)
NOTICE_COLS = ", ".join(Notice.__struct_fields__)
DISPATCH_COLS = ", ".join(Dispatch.__struct_fields__)
GOING = ", ".join(f"'{s.value}'" for s in DispatchState if s.going)
SILENCE_COLS = ", ".join(Silence.__struct_fields__)
OPEN, ACKED, RESOLVED = (f"'{s.value}'" for s in AlertState)
STEP_PENDING, STEP_DONE, STEP_CANCELLED = (f"'{s.value}'" for s in EscalationState)
PENDING, SENDING, SENT, DELIVERED, FAILED, CANCELLED = (f"'{s.value}'" for s in NoticeState)
