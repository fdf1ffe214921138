"""Escalate: the site's policy turned into timers in the store when an alert opens or
reopens (a flapping alert's pending timers are cancelled instead; a silenced one gets
none; steps already taken are not taken again). ``Escalator`` turns the timers that
fall due into notices in the outbox."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from alerts.model import Alert, TimelineEvent
from alerts.notify import texts
from alerts.pipeline.base import SYSTEM, Decision, Pending
from alerts.policy import NoticeChannel, Policies, Step, Target, rescue_address
from alerts.store import AlertStore
from registry import Contact, Registry, Resident, Site
from registry.time import utc_offset_min

FLAPPING_AT = 3  # flaps after which an alert no longer escalates by itself


# Inside the pipeline's transaction: take the alert's step that is due at once and make
# its notices, claimed for this node to send (their ids).
AtOnce = Callable[[AlertStore, Alert, int, int], list[int]]


class Escalate:
    def __init__(self, policies: Callable[[], Policies], count: Callable[[str], None],
                 at_once: AtOnce | None = None) -> None:
        """``policies``: the policies in force (the desk may change them at any time).
        ``at_once``: a step due when the alert opens (a fall's first SMS) is taken in the
        alert's own commit, its notices claimed (``Pending.claimed``), instead of waiting
        for the escalation timers' next round: one commit fewer before the first notice."""
        self.policies = policies
        self._count = count
        self._at_once = at_once

    def __call__(self, p: Pending, store: AlertStore) -> bool:
        if p.decision is Decision.REOPEN:
            if p.flaps + 1 >= FLAPPING_AT:
                self._count("flapping")
                store.steps.cancel(p.alert_id)
            elif not p.silenced:
                self.schedule(p, store)
        elif p.decision is Decision.NEW:
            if p.silenced:
                self._count("silenced")
            else:
                self.schedule(p, store)
        return True

    def schedule(self, p: Pending, store: AlertStore) -> None:
        steps = self.policies().for_site(p.signal.site_id).steps_for(p.signal.condition)
        now = []
        for index, step in enumerate(steps):
            due_ms = p.now_ms + int(step.after_s * 1000)
            store.steps.add(p.alert_id, index, 0, due_ms)
            if due_ms <= p.now_ms:
                now.append(index)
        if now and self._at_once is not None:
            alert = store.alerts.get(p.alert_id)
            assert alert is not None  # recorded in this transaction
            for index in now:
                p.claimed += self._at_once(store, alert, index, p.now_ms)


class Escalator:
    """Due timers to notices: a family step texts one contact and sets the timer for the
    next; a rescue step sends the rescue summary."""

    def __init__(self, store: AlertStore, registry: Registry, policies: Callable[[], Policies],
                 start_ms: int) -> None:
        self.store = store
        self.registry = registry
        self.policies = policies
        self._offsets = {s.site_id: utc_offset_min(s.timezone, start_ms)
                         for s in registry.sites.values()}

    def due(self, now_ms: int, claim_for: str | None = None) -> list[tuple[Alert, list[int]]]:
        """Take each due timer; the alerts escalated, with the ids of the notices made for
        each. With ``claim_for``, each notice is claimed by that node in the same commit
        (the caller sends it at once)."""
        out: list[tuple[Alert, list[int]]] = []
        for alert_id, step_index, contact in self.store.steps.due(now_ms):
            alert = self.store.alerts.get(alert_id)
            assert alert is not None
            with self.store.transaction() as store:
                made = self.take(store, alert, step_index, contact, now_ms, claim_for)
            out.append((alert, made))
        return out

    def take(self, store: AlertStore, alert: Alert, step_index: int, contact: int,
             now_ms: int, claim_for: str | None) -> list[int]:
        """Inside the caller's transaction: take one due timer of ``alert`` (if it is still
        pending and the alert open) and make its notices; their ids."""
        steps = self.policies().for_site(alert.site_id).steps_for(alert.condition)
        if not store.steps.take(alert.alert_id, step_index, contact) \
                or step_index >= len(steps):  # acknowledged meanwhile
            return []
        return self._notify(store, alert, step_index, steps[step_index], contact, now_ms,
                            claim_for)

    def rescue_now(self, store: AlertStore, alert: Alert, step_index: int, contact: int,
                   channel: NoticeChannel, now_ms: int) -> int | None:
        """Inside the caller's transaction: the rescue summary by ``channel`` now, filed
        under ``step_index`` and ``contact`` (the desk sent the rescue service)."""
        made = self._notify(store, alert, step_index, Step(0, channel, Target.RESCUE),
                            contact, now_ms, None)
        return made[0] if made else None

    def _notify(self, store: AlertStore, alert: Alert, step_index: int, step: Step,
                contact: int, now_ms: int, claim_for: str | None) -> list[int]:
        resident = self.registry.residents.get(alert.subject)
        site = self.registry.sites.get(alert.site_id)
        # a site no longer in the registry (its alerts outlive it): the time in UTC
        since = texts.local_time(alert.opened_ms, self._offsets.get(alert.site_id, 0))
        name = resident.display_name if resident else alert.subject
        room = resident.room if resident else alert.device_id
        if step.to is Target.VISITOR:  # a reminder: the visit is due
            person = visitor_of(resident, site)
            if person is None or contact > 0:
                return []
            recipient, language = person.phone, person.language
            body = texts.visitor_sms(language=language, resident=name, room=room,
                                     address=site.address if site else "")
            payload = "{}"
        elif step.to is Target.FAMILY:
            contacts = resident.contacts if resident else []
            if contact >= len(contacts):
                return []
            person = contacts[contact]
            recipient, language = person.phone, person.language
            body = texts.family_sms(language=language, resident=name,
                                    condition=alert.condition, room=room, since=since,
                                    ref=texts.reference(alert.alert_id))
            payload = "{}"
            if contact + 1 < len(contacts):
                store.steps.add(alert.alert_id, step_index, contact + 1,
                                now_ms + int(step.next_contact_after_s * 1000))
        else:
            rescue = self.policies().for_site(alert.site_id).rescue
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
        args = (alert.alert_id, step_index, contact, step.channel.value, recipient, language,
                subject, body, payload, now_ms)
        notice_id = store.outbox.queue(*args, claim_by=claim_for)
        queued = [] if notice_id is None else [notice_id]
        if queued:
            store.timeline.note(
                alert.alert_id, now_ms, TimelineEvent.NOTICE_QUEUED, SYSTEM,
                f"step {step_index} {step.to.value} #{contact} by {step.channel.value}")
        return queued


def visitor_of(resident: Resident | None, site: Site | None) -> Contact | None:
    """The person named as the resident's visitor, among the site's responders and the
    resident's contacts (None: no such person, or none named)."""
    if resident is None or not resident.visitor:
        return None
    people = [*(site.responders if site else []), *resident.contacts]
    return next((p for p in people if p.name == resident.visitor), None)
