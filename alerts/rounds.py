"""Rounds (巡视) of a care home: its ``RoundPlan`` gives when each round is due (the site's
clock) and which rooms; a nurse marks each room looked in on. A round with a room not
marked ``LATE_MIN`` after it was due is a warning on the desk (``ROUND_MISSED``, subject
the site), ended when every room of it is marked; the next round missed says so on the
same warning. Raised by one node: the one that watches the site's first resident."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from alerts.every import Every
from alerts.model import Condition, Signal
from alerts.store import AlertStore
from registry import Registry, Site
from registry.time import round_slots, wall_clock
from telemetry.clock import MIN_MS

LATE_MIN = 30
PLAN_KEY = "site:"  # a site's rounds are judged from the day its plan was first seen


class Round(NamedTuple):
    site_id: str
    slot_ms: int  # when it was due
    rooms: list[str]
    done: dict[str, str]  # room -> who marked it


def sites_watched(registry: Registry, resident_ids: Iterable[str]) -> list[str]:
    """The sites whose first resident (by id) is among ``resident_ids``: on several nodes,
    each site's schedules are judged by exactly one of them."""
    mine = set(resident_ids)
    first: dict[str, str] = {}
    for rid, r in registry.residents.items():
        if rid < first.get(r.site_id, "\uffff"):
            first[r.site_id] = rid
    return sorted(site for site, rid in first.items() if rid in mine)


def round_rooms(registry: Registry, site: Site) -> list[str]:
    """The rooms a round looks in on: the plan's, else those of the high-risk residents."""
    if site.rounds is None:
        return []
    if site.rounds.rooms:
        return list(site.rounds.rooms)
    return sorted({r.room for r in registry.residents.values()
                   if r.site_id == site.site_id and r.risk_tier == "high"})


def rounds_between(registry: Registry, db: AlertStore, site_id: str, from_ms: int,
                   to_ms: int) -> list[Round]:
    """The rounds due at a site in ``[from_ms, to_ms)`` with their marks."""
    site = registry.sites.get(site_id)
    if site is None or site.rounds is None:
        return []
    plan = site.rounds
    rooms = round_rooms(registry, site)
    marks = db.rounds.of(site_id, from_ms, to_ms)
    out = []
    for slot in round_slots(site.timezone, plan.start, plan.end, plan.every_min, from_ms,
                            to_ms):
        done = {m.room: m.nurse for m in marks if m.slot_ms == slot}
        out.append(Round(site_id, slot, rooms, done))
    return out


def current_round(registry: Registry, db: AlertStore, site_id: str, now_ms: int
                  ) -> Round | None:
    """The round to be done now: the latest due (within one interval)."""
    site = registry.sites.get(site_id)
    if site is None or site.rounds is None:
        return None
    every = site.rounds.every_min * 60_000
    found = rounds_between(registry, db, site_id, now_ms - every + 1, now_ms + 1)
    return found[-1] if found else None


def rounds_on_time(registry: Registry, db: AlertStore, site_ids: Iterable[str], from_ms: int,
                   to_ms: int, late_min: float = LATE_MIN) -> tuple[int, int]:
    """(rounds due, rounds with every room marked within ``late_min``) at ``site_ids`` in
    ``[from_ms, to_ms)``, counted from the day each site's plan began."""
    late_ms = int(late_min * 60_000)
    sites = [s for s in site_ids if s in registry.sites and registry.sites[s].rounds]
    since = db.visits.plans([PLAN_KEY + s for s in sites])
    due = done = 0
    for site_id in sites:
        begun = since.get(PLAN_KEY + site_id)
        if begun is None:
            continue
        marks = {(m.slot_ms, m.room): m.done_ms for m in db.rounds.of(site_id, from_ms, to_ms)}
        for r in rounds_between(registry, db, site_id, max(from_ms, begun), to_ms - late_ms):
            due += 1
            done += all(marks.get((r.slot_ms, room), r.slot_ms + late_ms + 1)
                        <= r.slot_ms + late_ms for room in r.rooms)
    return due, done


class RoundSweep:
    """Raises and ends ``ROUND_MISSED`` for the sites judged on this node."""

    def __init__(self, late_min: float = LATE_MIN) -> None:
        self.late_ms = int(late_min * 60_000)
        self._raised: dict[str, int] | None = None  # site -> the round it was raised for
        self._every = Every(MIN_MS)  # (once a minute)

    def sweep(self, registry: Registry, db: AlertStore, resident_ids: Iterable[str],
              now_ms: int) -> list[Signal]:
        if not self._every.due(now_ms):
            return []
        sites = [s for s in sites_watched(registry, resident_ids)
                 if s in registry.sites and registry.sites[s].rounds is not None]
        with db.transaction():
            since = db.visits.plan_since([PLAN_KEY + s for s in sites], now_ms)
        first = self._raised is None
        raised = self._raised = {} if self._raised is None else self._raised
        out: list[Signal] = []
        for site_id in sites:
            site = registry.sites.get(site_id)
            if site is None or site.rounds is None:
                continue  # (the registry changed under this sweep)
            every = site.rounds.every_min * 60_000
            judged = [r for r in rounds_between(registry, db, site_id,
                                                now_ms - every - self.late_ms,
                                                now_ms - self.late_ms + 1)
                      if r.slot_ms >= since[PLAN_KEY + site_id]]
            if not judged:
                continue
            latest = judged[-1]
            missing = [room for room in latest.rooms if room not in latest.done]
            if first and db.alerts.unresolved(Condition.ROUND_MISSED, site_id) is not None:
                raised[site_id] = latest.slot_ms  # (raised before a restart)
            if missing and raised.get(site_id) != latest.slot_ms:
                raised[site_id] = latest.slot_ms
                out.append(Signal(Condition.ROUND_MISSED, site_id, True, now_ms, site_id, "",
                                  f"round of {wall_clock(site.timezone, latest.slot_ms)}: "
                                  f"{', '.join(missing)} not looked in on"))
            elif not missing and site_id in raised:
                del raised[site_id]
                if db.alerts.unresolved(Condition.ROUND_MISSED, site_id) is not None:
                    out.append(Signal(Condition.ROUND_MISSED, site_id, False, now_ms,
                                      site_id, "", "round done"))
        return out
