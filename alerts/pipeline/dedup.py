"""Dedup and flap: one alert per (condition, subject) until it is resolved, repeats update
it; a self-clearing condition back within ``FLAP_WINDOW_MS`` of the system resolving it
reopens the same alert and counts a flap."""

from __future__ import annotations

from alerts.pipeline.base import SYSTEM, Decision, Pending
from alerts.store import AlertStore

FLAP_WINDOW_MS = 30 * 60_000


def dedup(p: Pending, store: AlertStore) -> bool:
    s = p.signal
    current = store.alerts.unresolved(s.condition, s.subject)
    if current is not None:
        p.decision, p.alert_id = Decision.REPEAT, current.alert_id
        return True
    last = store.alerts.last_resolved(s.condition, s.subject)
    if (last is not None and last.resolved_by == SYSTEM and last.resolved_ms is not None
            and p.now_ms - last.resolved_ms < FLAP_WINDOW_MS):
        p.decision, p.alert_id, p.flaps = Decision.REOPEN, last.alert_id, last.flaps
    return True
