"""Clear: a condition that ended. A self-clearing one (a heart rate back in range) is
resolved by the system; any other (a fall) stays until a person resolves it, marked as
no longer active. One the resident cancelled (an SOS pressed by mistake) is resolved as
cancelled while nobody at the desk has taken it; once someone has, it stays theirs to close,
with the cancel on its timeline."""

from __future__ import annotations

from alerts.model import PROFILES, AlertState, Change, Outcome, TimelineEvent
from alerts.pipeline.base import SYSTEM, Pending
from alerts.store import AlertStore


def clear(p: Pending, store: AlertStore) -> bool:
    s = p.signal
    current = store.alerts.unresolved(s.condition, s.subject)
    if current is None:
        return False
    p.alert_id = current.alert_id
    if s.cancelled and current.state is AlertState.OPEN and current.owner is None:
        outcome = Outcome.CANCELLED_BY_RESIDENT.value
        store.close_alert(current.alert_id, AlertState.RESOLVED, SYSTEM, p.now_ms, s.detail)
        store.answers.set_outcome(current.alert_id, outcome)
        store.timeline.note(current.alert_id, p.now_ms, TimelineEvent.RESOLVED, SYSTEM,
                            f"{outcome}: {s.detail}")
        p.change = Change.RESOLVED
    elif PROFILES[s.condition].self_clearing:
        store.close_alert(current.alert_id, AlertState.RESOLVED, SYSTEM, p.now_ms, s.detail)
        store.timeline.note(current.alert_id, p.now_ms, TimelineEvent.RESOLVED, SYSTEM,
                            s.detail)
        p.change = Change.RESOLVED
    else:
        store.alerts.ended(current.alert_id, p.now_ms)
        store.timeline.note(current.alert_id, p.now_ms, TimelineEvent.CONDITION_ENDED,
                            SYSTEM, s.detail)
        p.change = Change.UPDATED
    return True
