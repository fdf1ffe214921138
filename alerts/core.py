"""The alert core: signals in through the pipeline (``alerts.pipeline.build``), escalation
timers turned into notices, and what people do with alerts (take or acknowledge, resolve
with an outcome, silence, answer an SMS; the gateway's delivery reports). Taking, sending
responders and following them up: ``response`` (``alerts.response``).

Listeners (the dashboard's live push) get an ``AlertChange`` after each commit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import NamedTuple

from alerts.errors import AlertsError
from alerts.model import (
    REQUEST_OUTCOMES,
    REQUESTS,
    SYSTEM_OUTCOMES,
    TIMELINE_ONLY,
    Alert,
    AlertChange,
    AlertState,
    Change,
    Condition,
    Listener,
    Notice,
    Outcome,
    Signal,
    TimelineEvent,
)
from alerts.notify import texts
from alerts.pipeline.base import SYSTEM, GatewayView, Mute, NoGatewayOffline, Pending
from alerts.pipeline.build import build
from alerts.pipeline.escalate import Escalator
from alerts.policy import NoticeChannel, Policies
from alerts.response import Response
from alerts.store import AlertStore, StateError
from registry import Registry
from telemetry.clock import Clock

log = logging.getLogger(__name__)


class SmsReply(NamedTuple):
    alert: Alert | None  # the alert the reply was about, if it names exactly one
    answer: str  # what to text back ("" for nothing): asks which alert a bare yes meant


INJURED = frozenset({Outcome.INJURED_HOSPITAL, Outcome.INJURED_TREATED})


def _family(contact: int) -> str:
    return f"family contact #{contact} by SMS"


class AlertError(AlertsError):
    """An operation on an alert that does not exist or is in the wrong state."""


class AlertCore:
    def __init__(self, db: AlertStore, registry: Registry, policies: Policies, clock: Clock,
                 listeners: list[Listener] | None = None,
                 gateways: GatewayView | None = None,
                 on_due: Callable[[], None] | None = None,
                 claim_for: str | None = None,
                 on_claimed: Callable[[list[int], int], None] | None = None) -> None:
        """``gateways``: the detectors' view of which gateways are offline (the inhibit
        stage hides their devices' silence); without detectors, none is. ``on_due``: told
        when a step may be due sooner than it was (a notice failed). With ``claim_for``
        (this node) and ``on_claimed``, a step due as its alert opens is taken in the
        alert's own commit and its notices, claimed by ``claim_for``, handed to
        ``on_claimed`` (their ids, the claim's time) to send at once; without them, the
        escalation timers' round takes it (``tick``)."""
        self.db = db
        self.registry = registry
        self.policies = policies
        self.clock = clock
        self.listeners = listeners if listeners is not None else []
        self.counts: dict[str, int] = {}
        self._on_due = on_due or (lambda: None)
        self._claim_for = claim_for
        self._on_claimed = on_claimed
        # both read the policies in force: the desk may replace them (``policies``)
        self.pipeline = build(gateways or NoGatewayOffline(), lambda: self.policies,
                              self._count, self._at_once if claim_for and on_claimed else None)
        self.escalator = Escalator(db, registry, lambda: self.policies, clock.now_ms())
        self.response = Response(self)

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def _at_once(self, store: AlertStore, alert: Alert, step_index: int,
                 now_ms: int) -> list[int]:
        return self.escalator.take(store, alert, step_index, 0, now_ms, self._claim_for)

    def _emit(self, change: Change, alert: Alert | int,
              signal_t_ms: int | None = None) -> Alert:
        """Tell the listeners, with the alert (or the alert of that id) as the store has it
        now: read again and told under the store's lock, so two threads that changed it
        one after the other cannot tell the desk in the other order (an open alert shown
        as still taken). The alert told."""
        with self.db.lock:
            if isinstance(alert, int):
                found = self.db.alerts.get(alert)
                if found is None:
                    raise AlertError(f"no alert {alert}")
                alert = found
            else:
                with contextlib.suppress(StateError):  # gone since the commit: as committed
                    alert = self.db.alerts.get(alert.alert_id) or alert
            event = AlertChange(change, alert, self.clock.now_ms(), signal_t_ms)
            for listener in self.listeners:
                try:
                    listener(event)
                except Exception:  # a broken page feed must not stop the alert core
                    log.exception("alert listener %r failed on %s of alert %d", listener,
                                  change.value, alert.alert_id)
        return alert

    # --- signals and timers ----------------------------------------------------------

    def handle(self, signals: list[Signal]) -> None:
        """Each signal through the pipeline; the desk is told what it committed."""
        for signal in signals:
            p = Pending(signal, self.clock.now_ms())
            if self.pipeline.run(p, self.db) is Mute.HIDDEN:
                self._count("inhibited")
                continue
            if p.change is None or p.alert is None:
                continue
            if signal.active:
                self._count(p.change.value)
                if p.change is Change.OPENED:
                    log.info("alert %d opened: %s of %s", p.alert.alert_id,
                             p.alert.condition.value, p.alert.subject)
                if signal.condition in TIMELINE_ONLY:
                    continue  # its end, a moment later, is what the desk hears of it
                self._emit(p.change, p.alert, signal.t_ms)
                if p.claimed and self._on_claimed is not None:
                    self._on_claimed(p.claimed, p.now_ms)
                    self._emit(Change.ESCALATED, p.alert)
            else:
                self._emit(p.change, p.alert)

    def tick(self) -> int:
        """Turn due escalation timers into notices. Returns how many notices were made."""
        return len(self.tick_claiming(None))

    def tick_claiming(self, node_id: str | None, now_ms: int | None = None) -> list[int]:
        """As ``tick`` (at ``now_ms``, default now); with ``node_id``, each notice made is
        claimed by that node at ``now_ms`` in the same commit, for its dispatcher to send at
        once (``Dispatcher.deliver``). The ids of the notices made."""
        made: list[int] = []
        now = self.clock.now_ms() if now_ms is None else now_ms
        self.response.due(now)  # before the steps: an alert re-opened escalates at once
        for alert, notices in self.escalator.due(now, node_id):
            made += notices
            self._emit(Change.ESCALATED, alert)
        return made

    def next_due_ms(self) -> int | None:
        """When the earliest escalation timer, notice or follow-up is due (None: nothing
        pending)."""
        due = [t for t in (self.db.steps.next_due_ms(), self.db.outbox.next_due_ms(),
                           self.response.next_due_ms()) if t is not None]
        return min(due) if due else None

    def undelivered(self, notice: Notice) -> None:
        """A notice could not be delivered (yet): a family step moves to the next contact
        now instead of waiting for the answer timeout. The notice itself keeps trying."""
        self.db.steps.hurry(notice.alert_id, notice.step, notice.contact + 1,
                            self.clock.now_ms())
        self._on_due()

    # --- people ------------------------------------------------------------------------

    def acknowledge(self, alert_id: int, who: str, note: str = "") -> Alert:
        """A desk user acknowledges an open alert: they take it (``Response.take``)."""
        alert = self.db.alerts.get(alert_id)
        if alert is not None and alert.state is not AlertState.OPEN:
            raise AlertError(f"alert {alert_id} is already {alert.state.value}")
        return self.response.take(alert_id, who, note)

    def resolve(self, alert_id: int, who: str, note: str = "", *,
                outcome: Outcome) -> Alert:
        """Closed, with how it ended (``OTHER`` needs a note saying what)."""
        if outcome in SYSTEM_OUTCOMES:
            self._count("refused:system_outcome")
            raise AlertError(f"{outcome.value} is set by the system, not chosen")
        if outcome is Outcome.OTHER and not note.strip():
            self._count("refused:outcome_without_note")
            raise AlertError("the outcome 'other' needs a note saying what happened")
        alert = self.db.alerts.get(alert_id)
        if alert is not None and (alert.condition in REQUESTS) != (outcome in REQUEST_OUTCOMES):
            self._count("refused:outcome_of_the_other_list")
            raise AlertError(f"{outcome.value} is not how "
                             f"{'a request' if alert.condition in REQUESTS else 'an alarm'} "
                             "ends")
        closed = self._close(alert_id, who, note, AlertState.RESOLVED, outcome)
        if outcome in INJURED and closed.subject in self.registry.residents:
            # a major change: a visit within 24 h (``alerts.visits``, for those at home)
            self.db.visits.request(closed.subject, closed.resolved_ms or self.clock.now_ms(),
                                   f"injured ({outcome.value})")
        return closed

    def _close(self, alert_id: int, who: str, note: str, state: AlertState,
               outcome: Outcome | None = None) -> Alert:
        now = self.clock.now_ms()
        with self.db.transaction() as db:
            alert = db.alerts.get(alert_id)
            if alert is None:
                raise AlertError(f"no alert {alert_id}")
            if alert.state is AlertState.RESOLVED or alert.state is state:
                raise AlertError(f"alert {alert_id} is already {alert.state.value}")
            db.close_alert(alert_id, state, who, now, note)
            if outcome is not None:
                db.answers.set_outcome(alert_id, outcome.value)
            elif state is AlertState.ACKNOWLEDGED:  # a family's yes: back unless acted on
                db.answers.follow_up(alert_id, self.response.ack_timeout_ms(alert, now), now)
            db.timeline.note(alert_id, now, TimelineEvent(state.value), who,
                             f"{outcome.value}: {note}" if outcome and note
                             else outcome.value if outcome else note)
            alert = db.alerts.get(alert_id)
        assert alert is not None
        self._emit(Change.ACKNOWLEDGED if state is AlertState.ACKNOWLEDGED
                   else Change.RESOLVED, alert)
        return alert

    def silence(self, subject: str, until_ms: int, who: str, reason: str,
                condition: Condition | None = None) -> int:
        """Silence a resident, gateway or site (optionally one condition) until a time."""
        return self.db.silences.add(subject, condition, until_ms, who, reason)

    def erase(self, subject: str) -> int | None:
        """A data-protection erase of a discharged resident's alarms (``Erasure``): how
        many were anonymised, or None while one is still unresolved (nothing changed)."""
        return self.db.erase_subject(subject)

    def sms_reply(self, phone: str, text: str) -> SmsReply:
        """A family member answered an SMS about an open alert we texted them.

        Only an explicit yes (``texts.parse_reply``) acknowledges, and only the alert it is
        sure of: the one its reference names ("1 A7"), or with a bare "1" the only open
        alert texted to that phone. A bare yes from a phone texted about several open
        alerts (one daughter, both parents) acknowledges none: the answer asks which. Any
        other reply goes on the alerts' timelines and to the desk as a family message, and
        escalation goes on. ``alert`` is None when no open alert was texted to that number
        (or its reference names none of them)."""
        answer = self.response.sms(phone, text)  # a responder's reply code or message
        if answer is not None:
            return SmsReply(None, answer)
        texted = self.db.notices.texted(NoticeChannel.SMS.value, phone)
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
            return SmsReply(self._close(alert_id, _family(contact), f"SMS reply: {text[:160]}",
                                        AlertState.ACKNOWLEDGED), "")
        if yes:  # a yes we cannot place: ask, and let escalation go on meanwhile
            self._count("sms_reply_ambiguous")
            return SmsReply(None, self._which(texted))
        self._count("sms_reply_not_yes")
        alert: Alert | None = None
        for alert_id, contact, _ in named or texted:
            with self.db.transaction() as db:
                db.timeline.note(alert_id, self.clock.now_ms(), TimelineEvent.FAMILY_MESSAGE,
                                 _family(contact), text[:160])
                alert = db.alerts.get(alert_id)
            assert alert is not None
            self._emit(Change.UPDATED, alert)
        return SmsReply(alert if len(named or texted) == 1 else None, "")

    def _which(self, texted: list[tuple[int, int, str]]) -> str:
        listed: list[tuple[str, str, Condition]] = []
        for alert_id, _, _ in texted[:5]:
            alert = self.db.alerts.get(alert_id)
            if alert is not None:
                resident = self.registry.residents.get(alert.subject)
                listed.append((texts.reference(alert_id),
                               resident.display_name if resident else alert.subject,
                               alert.condition))
        return texts.which_alert(texted[0][2], listed) if listed else ""

    def delivery_report(self, notice_id: int, delivered: bool, detail: str) -> None:
        """The SMS gateway's delivery report for a notice."""
        notice = self.db.notices.get(notice_id)
        if notice is None:
            self._count("dlr_unknown_notice")
            return
        now = self.clock.now_ms()
        self.db.outbox.delivery(notice_id, delivered, now, detail[:200])
        if not delivered:
            self.undelivered(notice)
        self.db.timeline.note(notice.alert_id, now, TimelineEvent.DELIVERED if delivered
                              else TimelineEvent.NOT_DELIVERED, SYSTEM,
                              f"notice {notice_id}: {detail[:200]}")
