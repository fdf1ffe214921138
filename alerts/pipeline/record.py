"""Record: the alert row and its timeline, as dedup decided (new, repeat, reopen)."""

from __future__ import annotations

from alerts.model import PROFILES, Change, TimelineEvent
from alerts.pipeline.base import SYSTEM, Decision, Pending
from alerts.store import AlertStore


def record(p: Pending, store: AlertStore) -> bool:
    s = p.signal
    if p.decision is Decision.REPEAT:
        store.alerts.repeat(p.alert_id, p.now_ms, s.detail)
    elif p.decision is Decision.REOPEN:
        store.alerts.reopen(p.alert_id, p.now_ms, s.detail, p.silenced)
        store.timeline.note(p.alert_id, p.now_ms, TimelineEvent.REOPENED, SYSTEM, s.detail)
    else:
        p.alert_id = store.alerts.open(s.condition, s.subject, s.site_id, s.gateway_id,
                                       s.device_id, PROFILES[s.condition].severity,
                                       p.now_ms, p.silenced, s.detail)
        store.timeline.note(p.alert_id, p.now_ms, TimelineEvent.OPENED, SYSTEM, s.detail)
        if p.silenced:
            store.timeline.note(p.alert_id, p.now_ms, TimelineEvent.SILENCED, SYSTEM,
                                "a silence matches: no escalation")
    p.change = Change.UPDATED if p.decision is Decision.REPEAT else Change.OPENED
    return True
