"""Each alert's timeline: what happened to it, when and by whom."""

from __future__ import annotations

from alerts.model import TimelineEntry, TimelineEvent
from alerts.store.table import Table


class Timeline(Table):
    def note(self, alert_id: int, t_ms: int, what: TimelineEvent, who: str,
             detail: str) -> None:
        """One line on the alert's timeline."""
        self._run("INSERT INTO timeline (alert_id, t_ms, what, who, detail) "
                  "VALUES (?, ?, ?, ?, ?)", (alert_id, t_ms, str(what), who, detail))

    def of(self, alert_id: int) -> list[TimelineEntry]:
        """The alert's timeline, oldest first."""
        rows = self._run("SELECT alert_id, t_ms, what, who, detail FROM timeline "
                         f"WHERE alert_id = ? ORDER BY t_ms, {self.backend.row_order}",
                         (alert_id,)).fetchall()
        return [TimelineEntry(*row) for row in rows]
