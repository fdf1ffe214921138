"""The alert core: signals in (through the pipeline, ``alerts.pipeline``), escalation
timers turned into notices, and what people do with alerts (acknowledge, resolve, silence,
answer an SMS; the gateway's delivery reports).

Listeners (the dashboard's live push) get an ``AlertChange`` after each commit.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import NamedTuple

import msgspec

from alerts import pipeline
from alerts.detectors.bank import utc_offset_min
from alerts.errors import AlertsError
from alerts.model import PROFILES, Condition, Signal
from alerts.notify import texts
from alerts.pipeline import SYSTEM, Decision, Pending
from alerts.policy import NoticeChannel, Policies, Step, Target, rescue_address
from alerts.state import Alert, AlertState, Notice, StateDb
from registry import Registry
from telemetry.clock import Clock

log = logging.getLogger(__name__)



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


class SmsReply(NamedTuple):
    alert: Alert | None  # the alert the reply was about, if it names exactly one
    answer: str  # what to text back ("" for nothing): asks which alert a bare yes meant


def _family(contact: int) -> str:
    return f"family contact #{contact} by SMS"


class AlertError(AlertsError):
    """An operation on an alert that does not exist or is in the wrong state."""


class AlertCore:
    def __init__(self, db: StateDb, registry: Registry, policies: Policies, clock: Clock,
                 listeners: list[Listener] | None = None,
                 gateway_offline: Callable[[str], bool] | None = None) -> None:
        """``gateway_offline``: the detectors' view of which gateways are offline (the
        inhibit stage hides their devices' silence)."""
        self.db = db
        self.registry = registry
        self.policies = policies
        self.clock = clock
        self.listeners = listeners if listeners is not None else []
        self.counts: dict[str, int] = {}
        self._always, self._raised = pipeline.stages(pipeline.Inhibitor(gateway_offline),
                                                     self._escalate)
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
            p = Pending(signal, self.clock.now_ms())
            if not all(stage(p, self.db) for stage in self._always):
                self._count("inhibited")
            elif signal.active:
                self._raise(p)
            else:
                self._clear(signal)

    def _raise(self, p: Pending) -> None:
        with self.db.transaction() as db:
            for stage in self._raised:
                if not stage(p, db):
                    return
            alert = db.alert(p.alert_id)
        assert alert is not None
        change = Change.UPDATED if p.decision is Decision.REPEAT else Change.OPENED
        self._count(change.value)
        if change is Change.OPENED:
            log.info("alert %d opened: %s of %s", alert.alert_id, alert.condition.value,
                     alert.subject)
        self._emit(change, alert, p.signal.t_ms)

    def _escalate(self, p: Pending, db: StateDb) -> bool:
        """The pipeline's escalate stage (it needs the site's policy)."""
        if p.decision is Decision.REOPEN:
            if p.flaps + 1 >= pipeline.FLAPPING_AT:
                self._count("flapping")
                db.cancel_steps(p.alert_id)
            elif not p.silenced:
                self._schedule(db, p.alert_id, p.signal, p.now_ms)
        elif p.decision is Decision.NEW:
            if p.silenced:
                self._count("silenced")
            else:
                self._schedule(db, p.alert_id, p.signal, p.now_ms)
        return True

    def _clear(self, signal: Signal) -> None:
        now = self.clock.now_ms()
        current = self.db.unresolved(signal.condition, signal.subject)
        if current is None:
            return
        if PROFILES[signal.condition].self_clearing:
            self.resolve(current.alert_id, SYSTEM, signal.detail)
            return
        with self.db.transaction() as db:
            db.ended(current.alert_id, now)
            db.note(current.alert_id, now, "condition_ended", SYSTEM, signal.detail)
            alert = db.alert(current.alert_id)
        assert alert is not None
        self._emit(Change.UPDATED, alert)

    # --- escalation ------------------------------------------------------------------

    def _schedule(self, db: StateDb, alert_id: int, signal: Signal, now_ms: int) -> None:
        steps = self.policies.for_site(signal.site_id).steps_for(signal.condition)
        for index, step in enumerate(steps):
            db.add_step(alert_id, index, 0, now_ms + int(step.after_s * 1000))

    def tick(self) -> int:
        """Turn due escalation timers into notices. Returns how many notices were made."""
        now = self.clock.now_ms()
        made = 0
        for alert_id, step_index, contact in self.db.due_steps(now):
            alert = self.db.alert(alert_id)
            assert alert is not None
            steps = self.policies.for_site(alert.site_id).steps_for(alert.condition)
            with self.db.transaction() as db:
                taken = db.take_step(alert_id, step_index, contact)
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
                                    condition=alert.condition, room=room, since=since,
                                    ref=texts.reference(alert.alert_id))
            payload = "{}"
            if contact + 1 < len(contacts):
                db.add_step(alert.alert_id, step_index, contact + 1,
                            now_ms + int(step.next_contact_after_s * 1000))
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
        queued = db.queue_notice(alert.alert_id, step_index, contact, step.channel.value,
                                 recipient, language, subject, body, payload, now_ms)
        if queued:
            db.note(alert.alert_id, now_ms, "notice_queued", SYSTEM,
                    f"step {step_index} {step.to.value} #{contact} by {step.channel.value}")
        return int(queued)

    def undelivered(self, notice: Notice) -> None:
        """A notice could not be delivered (yet): a family step moves to the next contact
        now instead of waiting for the answer timeout. The notice itself keeps trying."""
        self.db.hurry_step(notice.alert_id, notice.step, notice.contact + 1,
                           self.clock.now_ms())

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
            db.close_alert(alert_id, state, who, now, note)
            db.note(alert_id, now, state.value, who, note)
            alert = db.alert(alert_id)
        assert alert is not None
        self._emit(Change.ACKNOWLEDGED if state is AlertState.ACKNOWLEDGED
                   else Change.RESOLVED, alert)
        return alert

    def silence(self, subject: str, until_ms: int, who: str, reason: str,
                condition: Condition | None = None) -> int:
        """Silence a resident, gateway or site (optionally one condition) until a time."""
        return self.db.add_silence(subject, condition, until_ms, who, reason)

    def sms_reply(self, phone: str, text: str) -> SmsReply:
        """A family member answered an SMS about an open alert we texted them.

        Only an explicit yes (``texts.parse_reply``) acknowledges, and only the alert it is
        sure of: the one its reference names ("1 A7"), or with a bare "1" the only open
        alert texted to that phone. A bare yes from a phone texted about several open
        alerts (one daughter, both parents) acknowledges none: the answer asks which. Any
        other reply goes on the alerts' timelines and to the desk as a family message, and
        escalation goes on. ``alert`` is None when no open alert was texted to that number
        (or its reference names none of them)."""
        texted = self.db.texted_alerts(NoticeChannel.SMS.value, phone)
        if not texted:
            self._count("sms_reply_unmatched")
            return SmsReply(None, "")
        yes, ref = texts.parse_reply(text)
        named = [t for t in texted if t[0] == ref] if ref is not None else \
            texted if len(texted) == 1 else []
        if ref is not None and not named:
            self._count("sms_reply_unknown_reference")
        if yes and named:
            alert_id, contact, _ = named[0]
            return SmsReply(self.acknowledge(alert_id, _family(contact),
                                             f"SMS reply: {text[:160]}"), "")
        if yes:  # a yes we cannot place: ask, and let escalation go on meanwhile
            self._count("sms_reply_ambiguous")
            return SmsReply(None, self._which(texted))
        self._count("sms_reply_not_yes")
        alert: Alert | None = None
        for alert_id, contact, _ in named or texted:
            with self.db.transaction() as db:
                db.note(alert_id, self.clock.now_ms(), "family_message", _family(contact),
                        text[:160])
                alert = db.alert(alert_id)
            assert alert is not None
            self._emit(Change.UPDATED, alert)
        return SmsReply(alert if len(named or texted) == 1 else None, "")

    def _which(self, texted: list[tuple[int, int, str]]) -> str:
        listed: list[tuple[str, str, Condition]] = []
        for alert_id, _, _ in texted[:5]:
            alert = self.db.alert(alert_id)
            if alert is not None:
                resident = self.registry.residents.get(alert.subject)
                listed.append((texts.reference(alert_id),
                               resident.display_name if resident else alert.subject,
                               alert.condition))
        return texts.which_alert(texted[0][2], listed) if listed else ""

    def delivery_report(self, notice_id: int, delivered: bool, detail: str) -> None:
        """The SMS gateway's delivery report for a notice."""
        notice = self.db.notice(notice_id)
        if notice is None:
            self._count("dlr_unknown_notice")
            return
        now = self.clock.now_ms()
        self.db.delivery(notice_id, delivered, now, detail[:200])
        if not delivered:
            self.undelivered(notice)
        self.db.note(notice.alert_id, now, "delivered" if delivered else "not_delivered",
                     SYSTEM, f"notice {notice_id}: {detail[:200]}")
