"""What the desk reads of the alert store, and nothing it could change it with: the
``AlertQueries`` the dashboard is handed (``dashboard.queries``)."""

from __future__ import annotations

from alerts.model import Alert, AlertState, Condition, Notice, Silence, TimelineEntry
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
