"""What the desk reads of the alert store, and nothing it could change it with: the
``AlertQueries`` the dashboard is handed (``dashboard.queries``)."""

from __future__ import annotations

from typing import Any

from alerts.model import (
    Alert,
    AlertState,
    Condition,
    Dispatch,
    Notice,
    Silence,
    TimelineEntry,
    TimelineEvent,
)
from alerts.store import AlertStore


class StoreQueries:
    def __init__(self, store: AlertStore) -> None:
        self._store = store

    def alerts(self, *, state: AlertState | None = None, site_id: str | None = None,
               open_only: bool = False, severity_min: int = 0, since_ms: int = 0,
               subjects: tuple[str, ...] = (), sites: tuple[str, ...] = (),
               conditions: tuple[Condition, ...] = (), limit: int = 500) -> list[Alert]:
        return self._store.alerts.find(state=state, site_id=site_id, open_only=open_only,
                                       severity_min=severity_min, since_ms=since_ms,
                                       subjects=subjects, sites=sites,
                                       conditions=conditions, limit=limit)

    def alert(self, alert_id: int) -> Alert | None:
        return self._store.alerts.get(alert_id)

    def timeline(self, alert_id: int) -> list[TimelineEntry]:
        return self._store.timeline.of(alert_id)

    def notices(self, alert_id: int) -> list[Notice]:
        return self._store.notices.of(alert_id)

    def silences(self, now_ms: int) -> list[Silence]:
        return self._store.silences.running(now_ms)

    def dispatches(self, alert_id: int) -> list[Dispatch]:
        return self._store.dispatches.of(alert_id)

    def labels(self, from_ms: int, to_ms: int, sites: tuple[str, ...]) -> list[dict[str, Any]]:
        return self._store.reports.labels(from_ms, to_ms, sites)

    def dispatch(self, dispatch_id: int) -> Dispatch | None:
        return self._store.dispatches.get(dispatch_id)

    def answered_60s_by_site(self, from_ms: int, to_ms: int,
                             sites: tuple[str, ...]) -> dict[str, float]:
        return self._store.reports.answered_60s_by_site(from_ms, to_ms, sites)

    def report(self, from_ms: int, to_ms: int, sites: tuple[str, ...],
               offset_min: int) -> dict[str, Any]:
        """The response report over alarms opened in [``from_ms``, ``to_ms``) on
        ``sites`` (empty: all): see ``alerts.store.reports``."""
        r = self._store.reports
        return {"from_ms": from_ms, "to_ms": to_ms,
                "total": r.answers(from_ms, to_ms, sites)[0],
                "operators": r.answers(from_ms, to_ms, sites, by_operator=True),
                "outcomes": r.outcomes(from_ms, to_ms, sites),
                "false_alarms": r.false_alarms(from_ms, to_ms, sites),
                "dispatches": r.dispatches(from_ms, to_ms, sites),
                "ack_timeouts": r.timeline_counts(TimelineEvent.ACK_TIMEOUT.value, from_ms,
                                                  to_ms, sites),
                "per_day": r.per_day(from_ms, to_ms, offset_min, sites),
                "answer_ms": r.answer_times(from_ms, to_ms, sites),
                "link_faults": r.link_faults(from_ms, to_ms, sites),
                "requests": {"total": r.answers(from_ms, to_ms, sites, requests=True)[0],
                             "outcomes": r.outcomes(from_ms, to_ms, sites, requests=True)}}
