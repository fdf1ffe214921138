"""Visits due (探访): each resident living at home is visited at least every
``Registry.visit_days`` (their risk tier's interval, set per organisation), counted from
their last visit that saw them, or from the day their visit plan began; a major change (an
injury closed on the desk, a hospital discharge entered) brings it to within 24 h. A visit
not made ``grace_days`` after it fell due (a major change's: at once) is a warning on the
desk (``VISIT_OVERDUE``, subject the
resident), ended by the visit; a visit that did not find the resident at home is an alarm
with the normal escalation (``VISIT_NOT_FOUND``, raised where the visit is recorded).
When a visit falls due and is not made, ``VISIT_DUE`` (information) reminds its visitor
by SMS (the policy's ``visitor`` step).

The sweep judges only the residents whose detectors run on this node (on several nodes,
the partition's owner): a due visit is raised once, by one node."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from alerts.every import Every
from alerts.model import Condition, Signal
from alerts.store import AlertStore
from alerts.store.visits import VISITED, Visit
from registry import Registry
from telemetry.clock import DAY_MS, MIN_MS

GRACE_DAYS = 3.0
CONDITIONS = (Condition.VISIT_DUE, Condition.VISIT_OVERDUE)


class Due(NamedTuple):
    resident_id: str
    site_id: str
    community: str  # the organisation above the site ("" none)
    visitor: str
    last_ms: int | None  # the last visit that saw them (None: none yet)
    due_ms: int
    warned: bool  # overdue past the grace period (on the desk)
    why: str = "plan"  # or the major change that brought it forward


def visited(registry: Registry, resident_ids: Iterable[str]) -> list[str]:
    """Those of ``resident_ids`` who live at home (a care home's residents have rounds)."""
    out = []
    for rid in resident_ids:
        r = registry.residents.get(rid)
        site = registry.sites.get(r.site_id) if r else None
        if r is not None and site is not None and site.kind == "home":
            out.append(rid)
    return out


def due_visits(registry: Registry, db: AlertStore, resident_ids: Iterable[str], now_ms: int,
               grace_days: float = GRACE_DAYS) -> list[Due]:
    """When each of ``resident_ids`` living at home is next due a visit, soonest first."""
    ids = visited(registry, resident_ids)
    with db.transaction():  # (plans begun now: one commit, however many)
        since = db.visits.plan_since(ids, now_ms)
    last = db.visits.last_seen()
    asked = db.visits.requested()
    out = []
    for rid in ids:
        r = registry.residents.get(rid)
        if r is None:
            continue  # discharged a moment ago (the registry changed under this sweep)
        seen = last.get(rid)
        due = max(seen or 0, since[rid]) + registry.visit_days(r) * DAY_MS
        why = "plan"
        request = asked.get(rid)
        if request is not None and request[0] > (seen or -1) and request[1] < due:
            due, why = request[1], request[2]  # a major change since the last visit
        grace = 0 if why != "plan" else grace_days * DAY_MS  # (no grace on a major change)
        out.append(Due(rid, r.site_id, registry.community_of(r.site_id), r.visitor, seen,
                       due, now_ms >= due + grace, why))
    out.sort(key=lambda d: d.due_ms)
    return out


class VisitRate(NamedTuple):
    community: str  # "" for the whole
    residents: int  # living at home
    visited: int  # seen on a visit in the month (well or with concerns)
    share: float | None


def visit_rates(registry: Registry, visits: Iterable[Visit], resident_ids: Iterable[str]
                ) -> list[VisitRate]:
    """The month's visit rate (the share of residents at home seen on a visit in it), in
    all first, then per community, of ``resident_ids`` given ``visits`` (the month's)."""
    home = visited(registry, resident_ids)
    seen = {v.resident_id for v in visits if v.found in VISITED}
    by: dict[str, list[str]] = {}
    for rid in home:
        by.setdefault(registry.community_of(registry.residents[rid].site_id), []).append(rid)

    def rate(community: str, ids: list[str]) -> VisitRate:
        n = sum(1 for rid in ids if rid in seen)
        return VisitRate(community, len(ids), n, round(n / len(ids), 4) if ids else None)
    return [rate("", home), *(rate(c, ids) for c, ids in sorted(by.items()))]


class VisitSweep:
    """Raises and ends ``VISIT_DUE`` (its visitor reminded) and ``VISIT_OVERDUE`` (the
    desk warned) for the residents watched on this node."""

    def __init__(self, grace_days: float = GRACE_DAYS) -> None:
        self.grace_days = grace_days
        self._raised: dict[Condition, set[str]] | None = None  # (None: not yet read)
        self._every = Every(MIN_MS)  # (once a minute)

    def sweep(self, registry: Registry, db: AlertStore, resident_ids: Iterable[str],
              now_ms: int) -> list[Signal]:
        if not self._every.due(now_ms):
            return []
        if self._raised is None:
            self._raised = {c: {a.subject for a in db.alerts.find(
                open_only=True, conditions=(c,), limit=1_000_000)} for c in CONDITIONS}
        out: list[Signal] = []
        for due in due_visits(registry, db, resident_ids, now_ms, self.grace_days):
            rid = due.resident_id
            for condition, now_true, detail in (
                    (Condition.VISIT_DUE, now_ms >= due.due_ms, f"visit due ({due.why})"),
                    (Condition.VISIT_OVERDUE, due.warned,
                     f"visit overdue for {(now_ms - due.due_ms) // DAY_MS} days")):
                raised = self._raised[condition]
                if now_true and rid not in raised:
                    raised.add(rid)
                    out.append(Signal(condition, rid, True, now_ms, due.site_id, "", detail))
                elif not now_true and rid in raised:
                    raised.discard(rid)
                    if db.alerts.unresolved(condition, rid) is not None:  # (else: ended
                        out.append(Signal(condition, rid, False, now_ms,  # where visited)
                                          due.site_id, "", "visited"))
        return out
