"""What the desk does with an alarm after it sees it: take it (the answer), hand it to
another user or back to the queue, send responders and follow them until one is on site,
and what happens when nobody acts (the ack timeout, a responder who does not arrive).

Every time is the alert core's clock, stored when it happens (the report computes from
the stored times). Every change is one conditional statement, so on several nodes a take,
a reply or a timer acts once, whichever node has it.

* **Take**: the alert is acknowledged (its escalation paused) and the user owns it; the
  first take is the answer (``answered_ms``). Unless a responder is sent or it is resolved
  within the policy's ``ack_timeout_s`` (by condition), it opens again and its escalation
  goes on: it never goes quiet on its own. A family's SMS yes acknowledges with the same
  timeout, but is not a desk answer.
* **Give back**: the owner hands it back, or signs out: open again, in the queue, the
  escalation going on.
* **Dispatch**: a responder (the resident's family or key-holder, or the site's staff
  and community workers) is texted who, where, what, since when and the reply codes; a
  reply "1" (on my way), "2" (arrived) or "9" (cannot come), or the desk by hand (a phone
  call), moves it on. Not arrived by the plan's time (the resident's, else the policy's
  for a home or an institution), or "cannot come": the desk is warned, the next responder
  is sent if the policy says so, and otherwise, with nobody else on the way, the alert
  opens again.

A responder's SMS is a notice like any other (sent, retried and reported by the
dispatcher), filed under step ``DISPATCH_STEP`` with the dispatch's id as its contact.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, NamedTuple

from alerts.errors import AlertsError
from alerts.model import (
    REQUESTS,
    Alert,
    AlertState,
    Change,
    Condition,
    Dispatch,
    DispatchState,
    Signal,
    TimelineEvent,
)
from alerts.notify import texts
from alerts.pipeline.base import SYSTEM
from alerts.policy import NoticeChannel, Policies, rescue_address
from alerts.store import AlertStore
from registry import Registry
from registry.model import Contact
from registry.time import utc_offset_min
from telemetry.clock import SECOND_MS, Clock

if TYPE_CHECKING:
    from alerts.core import AlertCore

log = logging.getLogger(__name__)

DISPATCH_STEP = -1  # the notices of dispatches: step -1, contact = the dispatch's id


class ResponseError(AlertsError):
    """An action the alarm's state does not allow, or input that names nothing: refused
    with the reason (the desk shows it), counted, nothing changed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Responder(NamedTuple):
    ref: str  # "c0" the resident's first contact, "s1" the site's second responder
    contact: Contact


# What a reply code or the desk may move a dispatch to.
MOVES = (DispatchState.ON_THE_WAY, DispatchState.ARRIVED, DispatchState.CANNOT_COME)


class Response:
    def __init__(self, core: AlertCore) -> None:
        self.core = core

    @property
    def db(self) -> AlertStore:
        return self.core.db

    @property
    def registry(self) -> Registry:
        return self.core.registry

    @property
    def policies(self) -> Policies:
        return self.core.policies

    @property
    def clock(self) -> Clock:
        return self.core.clock

    def _refuse(self, reason: str, message: str) -> ResponseError:
        self.core._count(f"refused:{reason}")
        log.info("response refused: %s", reason)  # the message may name a person
        return ResponseError(reason, message)

    def _get(self, db: AlertStore, alert_id: int) -> Alert:
        alert = db.alerts.get(alert_id)
        if alert is None:
            raise self._refuse("no_alert", f"no alert {alert_id}")
        return alert

    def _emit(self, alert_id: int) -> Alert:
        return self.core._emit(Change.UPDATED, alert_id)

    def ack_timeout_ms(self, alert: Alert, now_ms: int) -> int | None:
        timeout = self.policies.for_site(alert.site_id).response.ack_timeout_for(
            alert.condition)
        return None if timeout is None else now_ms + int(timeout * SECOND_MS)

    # --- take, hand over, give back ----------------------------------------------------

    def take(self, alert_id: int, who: str, note: str = "") -> Alert:
        """``who`` has the alarm, taken from the queue: one owner, also when two desks on
        two nodes take it at once (the other is refused; ``assign`` hands it over)."""
        now = self.clock.now_ms()
        with self.db.transaction() as db:
            alert = self._get(db, alert_id)
            if alert.state is AlertState.RESOLVED:
                raise self._refuse("resolved", f"alert {alert_id} is resolved")
            if alert.owner == who:
                raise self._refuse("yours", f"alert {alert_id} is yours already")
            if alert.owner is not None:
                raise self._refuse("taken", f"alert {alert_id} is {alert.owner}'s: ask them "
                                   "or hand it over")
            if alert.state is AlertState.OPEN:
                db.close_alert(alert_id, AlertState.ACKNOWLEDGED, who, now, note)
            going = any(d.state.going or d.state is DispatchState.ARRIVED
                        for d in db.dispatches.of(alert_id))
            if not db.answers.take(alert_id, who, now,
                                   None if going else self.ack_timeout_ms(alert, now)):
                raise self._refuse("taken", f"alert {alert_id} was taken meanwhile")
            db.timeline.note(alert_id, now, TimelineEvent.TAKEN, who, note)
        return self._emit(alert_id)

    def assign(self, alert_id: int, to: str, who: str) -> Alert:
        """``who`` hands the alarm to user ``to`` (the caller checked ``to`` may have it)."""
        now = self.clock.now_ms()
        with self.db.transaction() as db:
            alert = self._get(db, alert_id)
            if alert.state is AlertState.RESOLVED:
                raise self._refuse("resolved", f"alert {alert_id} is resolved")
            if alert.owner == to:
                raise self._refuse("yours", f"alert {alert_id} is {to}'s already")
            if alert.state is AlertState.OPEN:
                db.close_alert(alert_id, AlertState.ACKNOWLEDGED, who, now, "")
            if alert.owner is None:  # taking it from the queue to give it: the answer
                db.answers.take(alert_id, who, now, self.ack_timeout_ms(alert, now))
            db.answers.assign(alert_id, to, now)  # whoever had it: an explicit handover
            db.timeline.note(alert_id, now, TimelineEvent.REASSIGNED, who, f"to {to}")
        return self._emit(alert_id)

    def give_back(self, alert_id: int, who: str, reason: str) -> Alert:
        """The alarm goes back to the queue, open, its escalation going on."""
        now = self.clock.now_ms()
        with self.db.transaction() as db:
            alert = self._get(db, alert_id)
            if alert.state is AlertState.RESOLVED:
                raise self._refuse("resolved", f"alert {alert_id} is resolved")
            if not db.answers.reopen_taken(alert_id, now):  # open, but someone's
                db.answers.assign(alert_id, None, now)
            db.steps.resume(alert_id, now)
            db.timeline.note(alert_id, now, TimelineEvent.RETURNED, who, reason)
        self.core._on_due()
        return self._emit(alert_id)

    def signed_out(self, username: str) -> list[Alert]:
        """Every alarm ``username`` had goes back to the queue, visibly."""
        return [self.give_back(alert_id, username, "signed out")
                for alert_id in self.db.answers.owned_by(username)]

    # --- requests ----------------------------------------------------------------------

    def request(self, resident_id: str, kind: Condition, who: str, *,
                wanted_ms: int | None = None, note: str = "") -> Alert:
        """A request taken by phone for a resident (a meal, a repair, ...): on the desk
        like an alarm, through the same take, dispatch, arrive and close, never escalated
        (``SitePolicy.steps_for``)."""
        resident = self.registry.residents.get(resident_id)
        if resident is None:
            raise self._refuse("no_resident", f"no resident {resident_id}")
        offered = self.policies.for_site(resident.site_id).response.request_types
        if kind not in REQUESTS or kind.value not in offered:
            raise self._refuse("not_offered", f"{kind.value} is not a request this site takes")
        if self.db.alerts.unresolved(kind, resident_id) is not None:
            raise self._refuse("open_already", f"a {kind.value} for {resident_id} is open")
        gateways = sorted(d.gateway_id for d in self.registry.devices.values()
                          if d.resident_id == resident_id)
        now = self.clock.now_ms()
        self.core.handle([Signal(kind, resident_id, True, now, resident.site_id,
                                 gateways[0] if gateways else "", note[:200], "desk")])
        alert = self.db.alerts.unresolved(kind, resident_id)
        assert alert is not None  # recorded by the pipeline
        with self.db.transaction() as db:
            db.answers.want(alert.alert_id, wanted_ms)
            db.timeline.note(alert.alert_id, now, TimelineEvent.REQUESTED, who, note[:200])
        self.core._count("requested")
        return self._emit(alert.alert_id)

    # --- responders --------------------------------------------------------------------

    def responders(self, alert: Alert) -> list[Responder]:
        """Who may be sent: the resident's contacts, then the site's responders, then the
        rescue service of the site's policy ("r0", when it has an address)."""
        resident = self.registry.residents.get(alert.subject)
        site = self.registry.sites.get(alert.site_id)
        rescue = self._rescue_channel(alert)
        policy = self.policies.for_site(alert.site_id).rescue
        return ([Responder(f"c{i}", c) for i, c in enumerate(resident.contacts)]
                if resident else []) + \
            ([Responder(f"s{i}", c) for i, c in enumerate(site.responders)] if site else []) + \
            ([Responder("r0", Contact(texts.RESCUE_NAME[policy.language == "zh"],
                                      policy.phone or rescue.value, policy.language,
                                      role="rescue"))] if rescue else [])

    def _rescue_channel(self, alert: Alert) -> NoticeChannel | None:
        """How the rescue service of the alert's site is reached (None: it has no address)."""
        policy = self.policies.for_site(alert.site_id).rescue
        for channel in (NoticeChannel.SMS, NoticeChannel.WEBHOOK, NoticeChannel.EMAIL):
            if rescue_address(policy, channel):
                return channel
        return None

    def arrive_within_ms(self, alert: Alert) -> int:
        resident = self.registry.residents.get(alert.subject)
        if resident is not None and resident.arrive_within_min is not None:
            return int(resident.arrive_within_min * 60 * SECOND_MS)
        plan = self.policies.for_site(alert.site_id).response
        site = self.registry.sites.get(alert.site_id)
        institution = site is not None and site.kind == "institution"
        return int((plan.arrive_institution_s if institution else plan.arrive_home_s)
                   * SECOND_MS)

    def dispatch(self, alert_id: int, ref: str, who: str, *, text: bool = True) -> Dispatch:
        """Send responder ``ref`` (``responders``) to the alarm: texted (``text``), or
        phoned by the desk."""
        with self.db.transaction() as db:
            made = self._dispatch(db, alert_id, ref, who, self.clock.now_ms(), text=text)
        self.core._count("dispatched")
        self.core._on_due()
        self._emit(alert_id)
        return made

    def _dispatch(self, db: AlertStore, alert_id: int, ref: str, who: str, now: int, *,
                  text: bool = True) -> Dispatch:
        """``dispatch`` in the caller's transaction; refused before it writes anything."""
        with db.transaction():
            alert = self._get(db, alert_id)
            if alert.state is AlertState.RESOLVED:
                raise self._refuse("resolved", f"alert {alert_id} is resolved")
            found = [r for r in self.responders(alert) if r.ref == ref]
            if not found:
                raise self._refuse("no_responder", f"no responder {ref!r} for this alarm")
            person = found[0].contact
            if text and not person.phone.strip():
                raise self._refuse("no_phone", f"{person.name} has no phone to text")
            if any(d.phone == person.phone and d.state.going
                   for d in db.dispatches.of(alert_id)):
                raise self._refuse("already_sent", f"{person.name} is on the way already")
            due = alert.wanted_ms if alert.wanted_ms is not None and alert.wanted_ms > now \
                else now + self.arrive_within_ms(alert)  # a request: by the time wanted
            dispatch_id = db.dispatches.add(alert_id, person.name, person.role, person.phone,
                                            person.language, who, now, due)
            if alert.state is AlertState.ACKNOWLEDGED:
                db.answers.follow_up(alert_id, None, now)  # a responder is on it
            if text:
                channel = self._rescue_channel(alert) if person.role == "rescue" else None
                notice_id = self.core.escalator.rescue_now(
                    db, alert, DISPATCH_STEP, dispatch_id, channel, now) if channel \
                    else self._text(db, alert, dispatch_id, person, now)
                if notice_id is not None:
                    db.dispatches.set_notice(dispatch_id, notice_id)
            db.timeline.note(alert_id, now, TimelineEvent.DISPATCHED, who,
                             f"{person.role}: {person.name}" + ("" if text else " (phoned)"))
            made = db.dispatches.get(dispatch_id)
        assert made is not None
        return made

    def _text(self, db: AlertStore, alert: Alert, dispatch_id: int, person: Contact,
              now_ms: int) -> int | None:
        resident = self.registry.residents.get(alert.subject)
        site = self.registry.sites.get(alert.site_id)
        offset = utc_offset_min(site.timezone, alert.opened_ms) if site else 0
        body = texts.dispatch_sms(
            language=person.language, responder=person.name,
            resident=resident.display_name if resident else alert.subject,
            condition=alert.condition, address=site.address if site else "",
            room=resident.room if resident else alert.device_id,
            access=resident.access_notes if resident else "",
            since=texts.local_time(alert.opened_ms, offset), ref=texts.reference(alert.alert_id))
        subject = f"{texts.what(alert.condition, person.language)}: dispatch"
        return db.outbox.queue(alert.alert_id, DISPATCH_STEP, dispatch_id,
                               NoticeChannel.SMS.value, person.phone, person.language,
                               subject, body, "{}", now_ms)

    def move(self, dispatch_id: int, to: DispatchState, who: str, detail: str = "") -> Dispatch:
        """A dispatch moves on: by a reply code, or the desk by hand."""
        if to not in MOVES:
            raise self._refuse("bad_step", f"a dispatch cannot be moved to {to.value}")
        now = self.clock.now_ms()
        with self.db.transaction() as db:
            found = db.dispatches.get(dispatch_id)
            if found is None:
                raise self._refuse("no_dispatch", f"no dispatch {dispatch_id}")
            if not db.dispatches.move(dispatch_id, to, now):
                raise self._refuse("finished", f"dispatch {dispatch_id} is "
                                   f"{found.state.value} already")
            event = {DispatchState.ON_THE_WAY: TimelineEvent.ON_THE_WAY,
                     DispatchState.ARRIVED: TimelineEvent.ARRIVED,
                     DispatchState.CANNOT_COME: TimelineEvent.CANNOT_COME}[to]
            db.timeline.note(found.alert_id, now, event, who,
                             f"{found.role}: {found.name}" + (f": {detail}" if detail else ""))
            made = db.dispatches.get(dispatch_id)
            assert made is not None
            sent_next = self._failed(db, made, now) if to is DispatchState.CANNOT_COME \
                else False
        if to is DispatchState.CANNOT_COME:
            self._after_failed(made, sent_next)
        self._emit(found.alert_id)
        return made

    def _failed(self, db: AlertStore, dispatch: Dispatch, now_ms: int) -> bool:
        """A responder cannot come or did not arrive, in the transaction that says so (a
        store lost between the two would leave the alarm taken with nobody going): send
        the next (the policy says so) or, with nobody else on the way or there, open the
        alert again. True if the next responder was sent."""
        alert = db.alerts.get(dispatch.alert_id)
        if alert is None or alert.state is AlertState.RESOLVED:
            return False
        dispatches = db.dispatches.of(alert.alert_id)
        if any(d.dispatch_id != dispatch.dispatch_id
               and (d.state.going or d.state is DispatchState.ARRIVED) for d in dispatches):
            return False
        if self.policies.for_site(alert.site_id).response.send_next:
            sent = {d.phone for d in dispatches}
            nxt = [r for r in self.responders(alert)
                   if r.contact.phone.strip() and r.contact.phone not in sent]
            if nxt:
                try:
                    self._dispatch(db, alert.alert_id, nxt[0].ref, SYSTEM, now_ms)
                    return True
                except ResponseError:
                    pass  # counted; the alert opens again below
        if db.answers.reopen_taken(alert.alert_id, now_ms):
            db.steps.resume(alert.alert_id, now_ms)
        return False

    def _after_failed(self, dispatch: Dispatch, sent_next: bool) -> None:
        """What ``_failed`` leaves for after its commit: counts, and the timers told."""
        self.core._count(f"responder_{dispatch.state.value}")
        if sent_next:
            self.core._count("dispatched")
        self.core._on_due()

    # --- replies -------------------------------------------------------------------------

    def sms(self, phone: str, text: str) -> str | None:
        """A reply from a phone some dispatch texted: the answer to text back ("" none)
        if it was about a dispatch (a reply code moved it, or it went on the timeline as
        the responder's message, or it was refused with a reason); None for the family
        replies' path."""
        dispatches = self.db.dispatches.of_phone(phone)
        if not dispatches:
            return None
        code, ref = texts.parse_dispatch_reply(text)
        named = [d for d in dispatches if ref is None or d.alert_id == ref]
        going = [d for d in named if d.state.going]
        now = self.clock.now_ms()
        if code is None:
            if ref is None and self.db.notices.texted(NoticeChannel.SMS.value, phone):
                return None  # also a family contact texted about an open alarm: theirs
            for d in (going or named)[:1]:
                self.db.timeline.note(d.alert_id, now, TimelineEvent.RESPONDER_MESSAGE,
                                      f"{d.role}: {d.name}", text[:160])
                self._emit(d.alert_id)
            self.core._count("responder_message")
            return ""
        if len({d.alert_id for d in going}) > 1 and ref is None:
            self.core._count("refused:ambiguous_reply")
            for d in going:
                self.db.timeline.note(d.alert_id, now, TimelineEvent.REFUSED,
                                      f"{d.role}: {d.name}",
                                      f"reply {text[:40]!r} names no alarm of several")
            return texts.which_dispatch(going[0].language,
                                       [texts.reference(d.alert_id) for d in going])
        if not going:
            target = named[0] if named else dispatches[0]
            self.core._count("refused:finished")
            self.db.timeline.note(target.alert_id, now, TimelineEvent.REFUSED,
                                  f"{target.role}: {target.name}",
                                  f"reply {text[:40]!r}: the dispatch is "
                                  f"{target.state.value} already")
            self._emit(target.alert_id)
            return ""
        with contextlib.suppress(ResponseError):  # moved meanwhile on another node: counted
            self.move(going[0].dispatch_id, DispatchState(code),
                      f"{going[0].role}: {going[0].name} by SMS")
        return ""

    # --- timers ------------------------------------------------------------------------

    def due(self, now_ms: int) -> int:
        """Act on what has come due: responders not on site in time, alarms taken and left.
        How many."""
        acted = 0
        for dispatch in self.db.dispatches.due(now_ms):
            with self.db.transaction() as db:
                if not db.dispatches.move(dispatch.dispatch_id, DispatchState.NOT_ARRIVED,
                                          now_ms):
                    continue  # answered meanwhile, or another node took it
                minutes = (now_ms - dispatch.sent_ms) / 60_000
                db.timeline.note(dispatch.alert_id, now_ms, TimelineEvent.NOT_ARRIVED, SYSTEM,
                                 f"{dispatch.role}: {dispatch.name}, sent {minutes:.0f} "
                                 "min ago")
                moved = db.dispatches.get(dispatch.dispatch_id)
                assert moved is not None
                sent_next = self._failed(db, moved, now_ms)
            self._after_failed(moved, sent_next)
            self._emit(dispatch.alert_id)
            acted += 1
        for alert_id in self.db.answers.follow_ups_due(now_ms):
            with self.db.transaction() as db:
                if not db.answers.reopen_taken(alert_id, now_ms, due_by_ms=now_ms):
                    continue
                resumed = db.steps.resume(alert_id, now_ms)
                db.timeline.note(alert_id, now_ms, TimelineEvent.ACK_TIMEOUT, SYSTEM,
                                 f"neither a responder sent nor resolved; "
                                 f"{resumed} escalation steps go on")
            self.core._count("ack_timeout")
            self._emit(alert_id)
            acted += 1
        return acted

    def next_due_ms(self) -> int | None:
        due = [t for t in (self.db.dispatches.next_due_ms(), self.db.answers.next_follow_up_ms())
               if t is not None]
        return min(due) if due else None

