"""The alert pipeline, readable in one place:

    signal ─► inhibit ─► silence ─► dedup / flap ─► record ─► escalate ─► tell the desk

* inhibit: a gateway that is offline hides the silence of the devices behind it;
* silence: a matching silence (maintenance, staff in the room) keeps the alert on the desk
  but stops escalation past it;
* dedup: one alert per (condition, subject) until it is resolved; repeats update it; a
  self-clearing condition that comes back within ``FLAP_WINDOW_MS`` reopens the same alert
  (its escalation steps already taken are not taken again) and counts a flap;
* record: every change is committed before anyone is told;
* escalate: the site's policy is turned into timers in the database; ``tick`` turns due
  timers into notices in the outbox; acknowledging or resolving cancels what is pending.

Listeners (the dashboard's live push) get an ``AlertChange`` after each commit.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import NamedTuple

import msgspec

from alerts import texts
from alerts.bank import utc_offset_min
from alerts.conditions import PROFILES, Condition, Signal
from alerts.policy import Policies, Step, Target, rescue_address
from alerts.state import Alert, AlertState, Notice, StateDb
from registry import Registry
from telemetry.clock import Clock

log = logging.getLogger(__name__)

FLAP_WINDOW_MS = 30 * 60_000
FLAPPING_AT = 3
SYSTEM = "system"


class Change(enum.StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    ESCALATED = "escalated"


class AlertChange(NamedTuple):
    change: Change
    alert: Alert
    at_ms: int
    signal_t_ms: int | None = None  # opened or updated: when the detector saw it


Listener = Callable[[AlertChange], None]


class AlertError(Exception):
    """An operation on an alert that does not exist or is in the wrong state."""


class AlertCore:
    def __init__(self, db: StateDb, registry: Registry, policies: Policies, clock: Clock,
                 listeners: list[Listener] | None = None) -> None:
        self.db = db
        self.registry = registry
        self.policies = policies
        self.clock = clock
        self.listeners = listeners if listeners is not None else []
        self._offline_gateways: set[str] = set()
        self.counts: dict[str, int] = {}
        now = clock.now_ms()
        self._offsets = {s.site_id: utc_offset_min(s.timezone, now)
                         for s in registry.sites.values()}

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def _emit(self, change: Change, alert: Alert, signal_t_ms: int | None = None) -> None:
        event = AlertChange(change, alert, self.clock.now_ms(), signal_t_ms)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a broken page feed must not stop the alert core
                log.exception("alert listener %r failed on %s of alert %d", listener,
                              change.value, alert.alert_id)

    # --- the pipeline --------------------------------------------------------------------

    def handle(self, signals: list[Signal]) -> None:
        for signal in signals:
            if signal.condition is Condition.GATEWAY_OFFLINE:
                if signal.active:
                    self._offline_gateways.add(signal.gateway_id)
                else:
                    self._offline_gateways.discard(signal.gateway_id)
            if self._inhibited(signal):
                self._count("inhibited")
                continue
            if signal.active:
                self._raise(signal)
            else:
                self._clear(signal)

    def _inhibited(self, signal: Signal) -> bool:
        return signal.active and signal.condition is Condition.DEVICE_SILENT \
            and signal.gateway_id in self._offline_gateways

    def _silenced(self, signal: Signal, now_ms: int) -> bool:
        row = self.db.run(
            "SELECT 1 FROM silences WHERE until_ms > ? AND subject IN (?, ?, ?) AND "
            "(condition IS NULL OR condition = ?) LIMIT 1",
            (now_ms, signal.subject, signal.site_id, signal.gateway_id,
             signal.condition.value)).fetchone()
        return row is not None

    def _raise(self, signal: Signal) -> None:
        now = self.clock.now_ms()
        condition = signal.condition
        with self.db.transaction() as db:
            current = db.unresolved(condition, signal.subject)
            if current is not None:  # dedup: one alert while it is open
                db.run("UPDATE alerts SET repeats = repeats + 1, active = 1, updated_ms = ?,"
                       " detail = ? WHERE alert_id = ?", (now, signal.detail, current.alert_id))
                alert_id, change = current.alert_id, Change.UPDATED
            else:
                silenced = self._silenced(signal, now)
                last = db.last_resolved(condition, signal.subject)
                flapping = (last is not None and last.resolved_by == SYSTEM
                            and last.resolved_ms is not None
                            and now - last.resolved_ms < FLAP_WINDOW_MS)
                if flapping and last is not None:
                    alert_id = last.alert_id
                    db.run("UPDATE alerts SET state = 'open', active = 1, flaps = flaps + 1,"
                           " updated_ms = ?, detail = ?, silenced = ?, resolved_by = NULL,"
                           " resolved_ms = NULL, acked_by = NULL, acked_ms = NULL "
                           "WHERE alert_id = ?", (now, signal.detail, int(silenced), alert_id))
                    self._note(db, alert_id, now, "reopened", SYSTEM, signal.detail)
                    if last.flaps + 1 >= FLAPPING_AT:
                        self._count("flapping")
                        db.run("UPDATE escalation SET state = 'cancelled' WHERE alert_id = ?"
                               " AND state = 'pending'", (alert_id,))
                    elif not silenced:
                        self._schedule(db, alert_id, signal, now)
                else:
                    profile = PROFILES[condition]
                    cursor = db.run(
                        "INSERT INTO alerts (condition, subject, site_id, gateway_id, "
                        "device_id, severity, state, active, opened_ms, updated_ms, repeats,"
                        " flaps, silenced, detail) VALUES (?, ?, ?, ?, ?, ?, 'open', 1, ?, ?,"
                        " 0, 0, ?, ?)",
                        (condition.value, signal.subject, signal.site_id, signal.gateway_id,
                         signal.device_id, int(profile.severity), now, now, int(silenced),
                         signal.detail))
                    alert_id = int(cursor.lastrowid or 0)
                    self._note(db, alert_id, now, "opened", SYSTEM, signal.detail)
                    if silenced:
                        self._count("silenced")
                        self._note(db, alert_id, now, "silenced", SYSTEM,
                                   "a silence matches: no escalation")
                    else:
                        self._schedule(db, alert_id, signal, now)
                change = Change.OPENED
            alert = db.alert(alert_id)
        assert alert is not None
        self._count(change.value)
        if change is Change.OPENED:
            log.info("alert %d opened: %s of %s", alert_id, condition.value, signal.subject)
        self._emit(change, alert, signal.t_ms)

    def _clear(self, signal: Signal) -> None:
        now = self.clock.now_ms()
        current = self.db.unresolved(signal.condition, signal.subject)
        if current is None:
            return
        if PROFILES[signal.condition].self_clearing:
            self.resolve(current.alert_id, SYSTEM, signal.detail)
            return
        with self.db.transaction() as db:
            db.run("UPDATE alerts SET active = 0, updated_ms = ? WHERE alert_id = ?",
                   (now, current.alert_id))
            self._note(db, current.alert_id, now, "condition_ended", SYSTEM, signal.detail)
            alert = db.alert(current.alert_id)
        assert alert is not None
        self._emit(Change.UPDATED, alert)

    @staticmethod
    def _note(db: StateDb, alert_id: int, t_ms: int, what: str, who: str,
              detail: str) -> None:
        db.run("INSERT INTO timeline VALUES (?, ?, ?, ?, ?)", (alert_id, t_ms, what, who, detail))

    # --- escalation ------------------------------------------------------------------

    def _schedule(self, db: StateDb, alert_id: int, signal: Signal, now_ms: int) -> None:
        steps = self.policies.for_site(signal.site_id).steps_for(signal.condition)
        for index, step in enumerate(steps):
            db.run("INSERT OR IGNORE INTO escalation VALUES (?, ?, 0, ?, 'pending')",
                   (alert_id, index, now_ms + int(step.after_s * 1000)))

    def tick(self) -> int:
        """Turn due escalation timers into notices. Returns how many notices were made."""
        now = self.clock.now_ms()
        due = self.db.run(
            "SELECT e.alert_id, e.step, e.contact FROM escalation e JOIN alerts a USING "
            "(alert_id) WHERE e.state = 'pending' AND e.due_ms <= ? AND a.state = 'open' "
            "ORDER BY e.due_ms", (now,)).fetchall()
        made = 0
        for alert_id, step_index, contact in due:
            alert = self.db.alert(alert_id)
            assert alert is not None
            steps = self.policies.for_site(alert.site_id).steps_for(alert.condition)
            with self.db.transaction() as db:
                taken = db.run("UPDATE escalation SET state = 'done' WHERE alert_id = ? AND "
                               "step = ? AND contact = ? AND state = 'pending' AND EXISTS "
                               "(SELECT 1 FROM alerts WHERE alert_id = ? AND state = 'open')",
                               (alert_id, step_index, contact, alert_id)).rowcount
                if taken and step_index < len(steps):  # not acknowledged meanwhile
                    made += self._notify(db, alert, step_index, steps[step_index], contact, now)
            self._emit(Change.ESCALATED, alert)
        return made

    def _notify(self, db: StateDb, alert: Alert, step_index: int, step: Step, contact: int,
                now_ms: int) -> int:
        resident = self.registry.residents.get(alert.subject)
        site = self.registry.sites.get(alert.site_id)
        offset = self._offsets.get(alert.site_id, 0)
        since = texts.local_time(alert.opened_ms, offset)
        name = resident.display_name if resident else alert.subject
        room = resident.room if resident else alert.device_id
        if step.to is Target.FAMILY:
            contacts = resident.contacts if resident else []
            if contact >= len(contacts):
                return 0
            person = contacts[contact]
            recipient, language = person.phone, person.language
            body = texts.family_sms(language=language, resident=name,
                                    condition=alert.condition, room=room, since=since)
            payload = "{}"
            if contact + 1 < len(contacts):
                db.run("INSERT OR IGNORE INTO escalation VALUES (?, ?, ?, ?, 'pending')",
                       (alert.alert_id, step_index, contact + 1,
                        now_ms + int(step.next_contact_after_s * 1000)))
        else:
            rescue = self.policies.for_site(alert.site_id).rescue
            recipient, language = rescue_address(rescue, step.channel), rescue.language
            address = site.address if site else ""
            notes = resident.medical_notes if resident else ""
            body = texts.rescue_summary(language=language, resident=name,
                                        condition=alert.condition, address=address,
                                        room=room, since=since, medical_notes=notes)
            payload = msgspec.json.encode({
                "alert_id": alert.alert_id, "condition": alert.condition.value,
                "severity": alert.severity.name.lower(), "since_ms": alert.opened_ms,
                "resident": {"name": name, "room": room, "medical_notes": notes},
                "site": {"site_id": alert.site_id, "name": site.name if site else "",
                         "address": address},
                "detail": alert.detail}).decode()
        subject = f"{texts.what(alert.condition, language)}: {name}"
        cursor = db.run(
            "INSERT OR IGNORE INTO notices (alert_id, step, contact, channel, recipient, "
            "language, subject, body, payload, state, attempts, created_ms, next_try_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
            (alert.alert_id, step_index, contact, step.channel.value, recipient, language,
             subject, body, payload, now_ms, now_ms))
        if cursor.rowcount:
            self._note(db, alert.alert_id, now_ms, "notice_queued", SYSTEM,
                       f"step {step_index} {step.to.value} #{contact} by {step.channel.value}")
        return cursor.rowcount

    def undelivered(self, notice: Notice) -> None:
        """A notice could not be delivered (yet): a family step moves to the next contact
        now instead of waiting for the answer timeout. The notice itself keeps trying."""
        self.db.run("UPDATE escalation SET due_ms = MIN(due_ms, ?) WHERE alert_id = ? AND "
                    "step = ? AND contact = ? AND state = 'pending'",
                    (self.clock.now_ms(), notice.alert_id, notice.step, notice.contact + 1))

    # --- people ------------------------------------------------------------------------

    def acknowledge(self, alert_id: int, who: str, note: str = "") -> Alert:
        return self._close(alert_id, who, note, AlertState.ACKNOWLEDGED)

    def resolve(self, alert_id: int, who: str, note: str = "") -> Alert:
        return self._close(alert_id, who, note, AlertState.RESOLVED)

    def _close(self, alert_id: int, who: str, note: str, state: AlertState) -> Alert:
        now = self.clock.now_ms()
        with self.db.transaction() as db:
            alert = db.alert(alert_id)
            if alert is None:
                raise AlertError(f"no alert {alert_id}")
            if alert.state is AlertState.RESOLVED or alert.state is state:
                raise AlertError(f"alert {alert_id} is already {alert.state.value}")
            column = "acked" if state is AlertState.ACKNOWLEDGED else "resolved"
            db.run(f"UPDATE alerts SET state = ?, {column}_by = ?, {column}_ms = ?, "
                   f"note = COALESCE(NULLIF(?, ''), note), updated_ms = ? WHERE alert_id = ?",
                   (state.value, who, now, note, now, alert_id))
            db.run("UPDATE escalation SET state = 'cancelled' WHERE alert_id = ? AND "
                   "state = 'pending'", (alert_id,))
            db.run("UPDATE notices SET state = 'cancelled' WHERE alert_id = ? AND "
                   "state = 'pending'", (alert_id,))
            self._note(db, alert_id, now, state.value, who, note)
            alert = db.alert(alert_id)
        assert alert is not None
        self._emit(Change.ACKNOWLEDGED if state is AlertState.ACKNOWLEDGED
                   else Change.RESOLVED, alert)
        return alert

    def silence(self, subject: str, until_ms: int, who: str, reason: str,
                condition: Condition | None = None) -> int:
        """Silence a resident, gateway or site (optionally one condition) until a time."""
        cursor = self.db.run(
            "INSERT INTO silences (subject, condition, until_ms, created_by, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            (subject, condition.value if condition else None, until_ms, who, reason))
        return int(cursor.lastrowid or 0)

    def sms_reply(self, phone: str, text: str) -> Alert | None:
        """A family member answered an SMS about the newest open alert we texted them.

        Only an explicit yes (``texts.is_yes``) acknowledges it; any other reply goes on
        the alert's timeline and to the desk as a family message, and escalation goes on.
        Returns the alert, or None when no open alert was texted to that number."""
        row = self.db.run(
            "SELECT n.alert_id, n.contact FROM notices n JOIN alerts a USING (alert_id) "
            "WHERE n.channel = 'sms' AND n.recipient = ? AND a.state = 'open' AND "
            "n.state IN ('sent', 'delivered', 'sending') ORDER BY n.notice_id DESC LIMIT 1",
            (phone,)).fetchone()
        if row is None:
            self._count("sms_reply_unmatched")
            return None
        alert_id, contact = int(row[0]), int(row[1])
        who = f"family contact #{contact} by SMS"
        if texts.is_yes(text):
            return self.acknowledge(alert_id, who, f"SMS reply: {text[:160]}")
        self._count("sms_reply_not_yes")
        with self.db.transaction() as db:
            self._note(db, alert_id, self.clock.now_ms(), "family_message", who, text[:160])
            alert = db.alert(alert_id)
        assert alert is not None
        self._emit(Change.UPDATED, alert)
        return alert

    def delivery_report(self, notice_id: int, delivered: bool, detail: str) -> None:
        """The SMS gateway's delivery report for a notice."""
        notice = self.db.notice(notice_id)
        if notice is None:
            self._count("dlr_unknown_notice")
            return
        now = self.clock.now_ms()
        if delivered:
            self.db.run("UPDATE notices SET state = 'delivered', delivered_ms = ? WHERE "
                        "notice_id = ? AND state IN ('sent', 'sending')", (now, notice_id))
        else:
            self.db.run("UPDATE notices SET state = 'failed', error = ? WHERE notice_id = ? "
                        "AND state IN ('sent', 'sending')", (detail[:200], notice_id))
            self.undelivered(notice)
        self._note(self.db, notice.alert_id, now,
                   "delivered" if delivered else "not_delivered", SYSTEM,
                   f"notice {notice_id}: {detail[:200]}")
