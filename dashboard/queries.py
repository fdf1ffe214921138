"""What the desk may read of the alert store: a read-only protocol, handed in by the
process (``alerts.store.queries.StoreQueries``). Changes go through the alert core's
actions (take, dispatch, resolve, silence), never to the store directly."""

from __future__ import annotations

from typing import Any, Protocol

from alerts.model import Alert, AlertState, Condition, Dispatch, Notice, Silence, TimelineEntry


class AlertQueries(Protocol):
    def alerts(self, *, state: AlertState | None = None, site_id: str | None = None,
               open_only: bool = False, severity_min: int = 0, since_ms: int = 0,
               subjects: tuple[str, ...] = (), sites: tuple[str, ...] = (),
               conditions: tuple[Condition, ...] = (), limit: int = 500) -> list[Alert]:
        """Unresolved first, then the most severe, then the newest."""
        ...

    def alert(self, alert_id: int) -> Alert | None: ...

    def timeline(self, alert_id: int) -> list[TimelineEntry]: ...

    def notices(self, alert_id: int) -> list[Notice]: ...

    def silences(self, now_ms: int) -> list[Silence]:
        """Silences still running at ``now_ms``."""
        ...

    def dispatches(self, alert_id: int) -> list[Dispatch]: ...

    def dispatch(self, dispatch_id: int) -> Dispatch | None: ...

    def labels(self, from_ms: int, to_ms: int, sites: tuple[str, ...]) -> list[dict[str, Any]]:
        """Alarms closed with an outcome as labels for the detectors' evaluation."""
        ...

    def answered_60s_by_site(self, from_ms: int, to_ms: int,
                             sites: tuple[str, ...]) -> dict[str, float]:
        """Per site with alarms opened in the span, the share answered within 60 s."""
        ...

    def report(self, from_ms: int, to_ms: int, sites: tuple[str, ...],
               offset_min: int) -> dict[str, Any]:
        """The response report (``alerts.store.reports``)."""
        ...
