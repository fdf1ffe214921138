"""Shifts and handover at a care home (交接班): the shift running now (``Site.shifts``, the
site's clock), who is on duty, and what the outgoing nurse hands over: the alarms of the
shift with their outcomes, those still open or taken (by whom), the residents with notes,
the rounds missed and the visits overdue. Accepting a handover puts the incoming nurse on
duty and the outgoing off, and hands each alarm the outgoing nurse still has to the
incoming one, or back to the queue, on its timeline.

A care home with shifts where an alarm waits and nobody is on duty is itself a warning
(``NOBODY_ON_DUTY``, subject the site) for whoever supervises it, raised by one node (the
one that judges the site's schedules) and ended when someone signs on or nothing waits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alerts.every import Every
from alerts.model import AlertState, Condition, Severity, Signal
from alerts.rounds import sites_watched
from alerts.store import AlertStore
from alerts.visits import due_visits
from registry import Registry
from registry.time import shift_at
from telemetry.clock import MIN_MS


def handover_view(registry: Registry, db: AlertStore, site_id: str, now_ms: int
                  ) -> dict[str, Any]:
    """What the outgoing shift hands over, as of now."""
    site = registry.sites[site_id]
    shift = shift_at(site.timezone, site.shifts, now_ms)
    start = shift[0] if shift else now_ms - 8 * 3_600_000
    during = [a for a in db.alerts.find(sites=(site_id,), since_ms=start, limit=10_000)
              if a.opened_ms >= start]  # (changed since the start: the index prunes)
    waiting = db.alerts.find(sites=(site_id,), open_only=True, limit=10_000)

    def row(a: Any) -> dict[str, Any]:
        r = registry.residents.get(a.subject)
        return {"alert_id": a.alert_id, "condition": a.condition.value, "subject": a.subject,
                "resident_name": r.display_name if r else "", "room": r.room if r else "",
                "state": a.state.value, "owner": a.owner, "outcome": a.outcome,
                "note": a.note or "", "opened_ms": a.opened_ms}
    notes = sorted({a.subject for a in during if a.note and a.subject in registry.residents})
    mine = [rid for rid, r in registry.residents.items() if r.site_id == site_id]
    return {"site_id": site_id, "shift_start_ms": start,
            "next_shift_ms": shift[1] if shift else None,
            "on_duty": db.duty.on_duty(site_id),
            "alarms": [row(a) for a in during if a.state is AlertState.RESOLVED],
            "open": [row(a) for a in waiting],
            "residents_with_notes": [{"resident_id": rid,
                                      "name": registry.residents[rid].display_name,
                                      "notes": [a.note for a in during
                                                if a.subject == rid and a.note]}
                                     for rid in notes],
            "missed_rounds": [row(a) for a in during if a.condition is Condition.ROUND_MISSED],
            "overdue_visits": [d._asdict() for d in due_visits(registry, db, mine, now_ms)
                               if d.warned]}


class DutySweep:
    """Raises and ends ``NOBODY_ON_DUTY`` for the care homes judged on this node."""

    def __init__(self) -> None:
        self._every = Every(MIN_MS)  # (once a minute)

    def sweep(self, registry: Registry, db: AlertStore, resident_ids: Iterable[str],
              now_ms: int) -> list[Signal]:
        if not self._every.due(now_ms):
            return []
        sites = [s for s in sites_watched(registry, resident_ids)
                 if s in registry.sites and registry.sites[s].shifts]
        if not sites:
            return []
        staffed = db.duty.staffed()
        out: list[Signal] = []
        for site_id in sites:
            waiting = [a for a in db.alerts.find(sites=(site_id,), open_only=True,
                                                 state=AlertState.OPEN,
                                                 severity_min=Severity.ALARM, limit=50)]
            raised = db.alerts.unresolved(Condition.NOBODY_ON_DUTY, site_id) is not None
            if waiting and site_id not in staffed and not raised:
                out.append(Signal(Condition.NOBODY_ON_DUTY, site_id, True, now_ms, site_id, "",
                                  f"{len(waiting)} alarms waiting, nobody on duty"))
            elif raised and (site_id in staffed or not waiting):
                out.append(Signal(Condition.NOBODY_ON_DUTY, site_id, False, now_ms, site_id,
                                  "", "someone on duty" if site_id in staffed
                                  else "no alarm waiting"))
        return out
