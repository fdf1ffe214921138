"""Scheduled care on a scripted simulation: visitors who visit on time or, a scripted share
of the time, late; residents who check in each morning or, a scripted share of the days,
forget. Every visit and check-in goes through the code the central process runs: the
visit register in a real alert store (SQLite), the overdue sweep (``VisitSweep``), the
check-in rules (``CheckInRule``) and the alert core's dedup. A scripted miss counts as
raised once when exactly one warning of its kind starts for its resident before it ends;
a warning that matches no scripted miss is unscripted.

Sites are in two zones (Shanghai, without summer time, and Berlin, whose clocks go forward
during the run), under several communities, residents of the three risk tiers. The
month's visit rate (the KPI) is read from the register as the report reads it and set
beside the rate the script says (``visit_rate_month_truth``)."""

from __future__ import annotations

import collections
import datetime
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from alerts import policy
from alerts.core import AlertCore
from alerts.detectors.checkin import CheckInRule
from alerts.model import Condition, Signal
from alerts.rounds import LATE_MIN, RoundSweep, round_rooms, rounds_on_time
from alerts.store import AlertStore
from alerts.store.visits import Found, Method
from alerts.visits import GRACE_DAYS, VisitSweep, visit_rates, visited
from registry import (
    CheckIn,
    Org,
    Registry,
    RegistryFile,
    Resident,
    RoundPlan,
    Site,
    VisitDays,
)
from registry.model import CheckInMeans, RiskTier
from registry.time import at_local, local_day, round_slots, zone
from telemetry.clock import DAY_MS, FakeClock
from telemetry.kinds import Kind, unit_of
from telemetry.reading import Reading

MIN = 60_000
START = datetime.date(2027, 3, 1)  # a run across Europe's change to summer time (28 March)
ZONES = ("Asia/Shanghai", "Europe/Berlin")
TIERS: tuple[RiskTier, ...] = ("high", "standard", "low")
CARE_HOME = "care-home"  # a care home of ``BEDS`` (its night rounds)
BEDS = 12
METHOD = """A scripted month and more of visits and daily check-ins through the visit
register, the overdue sweep and the check-in rules (`tools/evaluation/care.py`): sites in
Shanghai and Berlin (summer time begins during the run), three risk tiers, several
communities, and a care home of 12 beds whose night nurse does the rounds every 2 h; a
scripted share of visits made after their grace period, of check-ins forgotten and of
rounds with a room not looked in on. Each scripted miss should be raised once, nothing
else at all."""


def _registry(residents: int, communities: int, rng: np.random.Generator) -> Registry:
    orgs = [Org(f"org-{c}", f"Community {c}", visit_days=VisitDays(7, 30, 60) if c % 2
                else None) for c in range(communities)]
    sites = [Site(f"site-{c}-{z}", f"Homes {c}/{z}", timezone=zone, org=f"org-{c}")
             for c in range(communities) for z, zone in enumerate(ZONES)]
    homes = list(sites)
    people = [Resident(f"bed-{i:03d}", CARE_HOME, f"room-{100 + i}", f"Test Resident {i}",
                       risk_tier="high" if i % 2 else "standard") for i in range(BEDS)]
    sites.append(Site(CARE_HOME, "Care home", kind="institution", org="org-0",
                      shifts=["08:00", "16:00", "00:00"],
                      rounds=RoundPlan("22:00", "06:00", 120)))
    for i in range(residents):
        site = homes[i % len(homes)]
        means: list[CheckInMeans] = ["answer"] if i % 3 == 0 else ["activity"]
        people.append(Resident(f"res-{i:05d}", site.site_id, f"flat-{i}",
                               f"Test Resident {i}", risk_tier=TIERS[int(rng.integers(3))],
                               visitor=f"visitor-{i % 4}",
                               checkin=CheckIn(by="10:00", since="06:00", means=means)))
    return Registry(RegistryFile(sites, [], people, [], orgs))


def _rounds(reg: Registry, script: _Script, start_ms: int, end_ms: int,
            rng: np.random.Generator, missed_share: float) -> None:
    """The night nurse's rounds: each room looked in on within 20 min of the round, but
    in a scripted share of rounds one room is not (a miss, ended by the next round)."""
    site = reg.sites[CARE_HOME]
    assert site.rounds is not None
    rooms = round_rooms(reg, site)
    every = site.rounds.every_min * MIN
    for slot in round_slots(site.timezone, site.rounds.start, site.rounds.end,
                            site.rounds.every_min, start_ms, end_ms):
        skipped = rooms[int(rng.integers(len(rooms)))] if rng.random() < missed_share else ""
        if skipped and slot + LATE_MIN * MIN < end_ms:
            script.misses[(Condition.ROUND_MISSED, CARE_HOME, slot)] = \
                slot + max(every, 8 * 3_600_000) + LATE_MIN * MIN + 10 * MIN
        for room in rooms:
            if room != skipped:
                script.marks.append((slot + int(rng.integers(20)) * MIN, room, slot))


class _Script:
    """What the visitors and residents do, and which of it is a miss."""

    def __init__(self, reg: Registry, days: int, start_ms: int, rng: np.random.Generator,
                 late_share: float, forget_share: float) -> None:
        self.events: list[tuple[int, str, str]] = []  # (t, resident, "visit" | kind)
        self.marks: list[tuple[int, str, int]] = []  # (t, room, round) looked in on
        self.late: dict[tuple[Condition, str, int], int] = {}  # visits made late -> when
        self.misses: dict[tuple[Condition, str, int], int] = {}  # -> ends at (ms)
        end_ms = start_ms + days * DAY_MS
        for rid, r in reg.residents.items():
            if r.site_id == CARE_HOME:
                continue  # (rounds, not visits or check-ins)
            zone = reg.sites[r.site_id].timezone
            every = reg.visit_days(r) * DAY_MS
            last = start_ms
            while True:
                due = last + every
                if rng.random() < late_share:  # after the grace period: a scripted miss
                    t = due + int((GRACE_DAYS + 0.5 + 2 * rng.random()) * DAY_MS)
                    if due <= end_ms - 10 * MIN:  # its visitor reminded by the last sweep
                        self.late[(Condition.VISIT_DUE, rid, due)] = t
                    if due + GRACE_DAYS * DAY_MS < end_ms:  # (its warning within the run)
                        self.misses[(Condition.VISIT_OVERDUE, rid, due)] = t
                else:
                    t = due - int(rng.random() * min(3 * DAY_MS, every / 2))
                if t >= end_ms:
                    break
                self.events.append((t, rid, "visit"))
                last = t
            kind = Kind.ANSWER if r.checkin and r.checkin.means == ["answer"] else Kind.MOTION
            for d in range(days):
                day = local_day(zone, start_ms) + datetime.timedelta(days=d)
                watched = at_local(zone, day, 6 * 60) >= start_ms  # (its window whole)
                if watched and rng.random() < forget_share:  # forgotten: up at noon
                    t = at_local(zone, day, 12 * 60 + int(rng.integers(60)))
                    self.misses[(Condition.CHECKIN_MISSED, rid, at_local(zone, day, 600))] = t
                else:
                    t = at_local(zone, day, 6 * 60 + 30 + int(rng.integers(200)))
                self.events.append((t, rid, kind.value))
        self.events.sort()


def evaluate(residents: int = 120, days: int = 62, communities: int = 3, seed: int = 5,
             late_share: float = 0.15, forget_share: float = 0.04,
             missed_round_share: float = 0.08) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    reg = _registry(residents, communities, rng)
    start_ms = at_local("UTC", START, 0)
    clock = FakeClock(start_ms)
    script = _Script(reg, days, start_ms, rng, late_share, forget_share)
    _rounds(reg, script, start_ms, start_ms + days * DAY_MS, rng, missed_round_share)
    script.marks.sort()
    with tempfile.TemporaryDirectory() as tmp:
        db = AlertStore(Path(tmp) / "alerts.db")
        core = AlertCore(db, reg, policy.load(policy.SAMPLE), clock)
        sweeps = (VisitSweep(), RoundSweep())
        rules = {rid: CheckInRule(rid, r.site_id, "", r.checkin, start_ms=start_ms,
                                  timezone=reg.sites[r.site_id].timezone)
                 for rid, r in reg.residents.items() if r.checkin is not None}
        marks = iter(script.marks)
        mark = next(marks, None)
        raised: list[Signal] = []
        events = iter(script.events)
        pending = next(events, None)
        seq = 0
        for now in range(start_ms, start_ms + days * DAY_MS, 10 * MIN):
            clock.advance((now - clock.now_ms()) / 1000)
            while pending is not None and pending[0] <= now:
                t, rid, what = pending
                r = reg.residents[rid]
                if what == "visit":
                    db.visits.add(rid, r.site_id, t, r.visitor, Method.HOME, Found.WELL, "")
                    if db.alerts.unresolved(Condition.VISIT_OVERDUE, rid) is not None:
                        core.handle([Signal(Condition.VISIT_OVERDUE, rid, False, t,
                                            r.site_id, "", "visited")])
                else:
                    seq += 1
                    kind = Kind(what)
                    reading = Reading(r.site_id, "", f"{what}-1", kind, 1.0, unit_of(kind), t,
                                      t, seq, rid)
                    core.handle(rules[rid].observe(reading))
                pending = next(events, None)
            while mark is not None and mark[0] <= now:
                db.rounds.mark(CARE_HOME, mark[1], mark[2], mark[0], "nurse-1", "tap")
                mark = next(marks, None)
            signals = [s for sweep in sweeps
                       for s in sweep.sweep(reg, db, list(reg.residents), now)]
            for rule in rules.values():
                signals += rule.tick(now)
            core.handle(signals)
            raised += [s for s in signals if s.active]
        month_from = at_local("UTC", START, 0)
        month_to = at_local("UTC", datetime.date(START.year, START.month + 1, 1), 0)
        zone_visits = [v for v in db.visits.between(month_from - DAY_MS, month_to + DAY_MS)
                       if datetime.datetime.fromtimestamp(
                           v.t_ms / 1000, datetime.UTC).astimezone(
                           _zone(reg, v.site_id)).month == START.month]
        rate = visit_rates(reg, zone_visits, list(reg.residents))[0]
        rounds_due, rounds_done = rounds_on_time(reg, db, [CARE_HOME], start_ms,
                                                 start_ms + days * DAY_MS)
        db.close()
    truth_seen = {rid for t, rid, what in script.events if what == "visit" and
                  datetime.datetime.fromtimestamp(t / 1000, datetime.UTC).astimezone(
                      _zone(reg, reg.residents[rid].site_id)).month == START.month}
    truth = round(len(truth_seen) / len(visited(reg, reg.residents)), 4)
    result = _score(script, raised, rate.share, truth, residents, days)
    result["summary"].update(rounds_due=rounds_due, rounds_on_time=rounds_done,
                             rounds_on_time_truth=rounds_due - sum(
                                 1 for k in script.misses if k[0] is Condition.ROUND_MISSED))
    return result


def _zone(reg: Registry, site_id: str) -> datetime.tzinfo:
    return zone(reg.sites[site_id].timezone)


def _window(scripted: dict[tuple[Condition, str, int], int], s: Signal
            ) -> tuple[Condition, str, int] | None:
    """The scripted event of signal ``s``'s condition whose window holds it (the latest: a
    round missed after another is its own)."""
    match = [key for key, ends in scripted.items()
             if key[0] is s.condition and key[1] == s.subject and key[2] <= s.t_ms <= ends]
    return max(match, key=lambda k: k[2]) if match else None


def _score(script: _Script, raised: list[Signal], rate: float | None, truth: float,
           residents: int, days: int) -> dict[str, Any]:
    hits: dict[tuple[Condition, str, int], int] = collections.Counter()
    unscripted: list[str] = []
    # a visit that falls due unmade reminds its visitor once: each late one (its window:
    # from the due day to the visit, as the overdue warning's)
    reminded: dict[tuple[Condition, str, int], int] = collections.Counter()
    stray = 0
    for s in raised:
        if s.condition is not Condition.VISIT_DUE:
            continue
        match = _window(script.late, s)
        if match is None:
            stray += 1
        else:
            reminded[match] += 1
    for s in (s for s in raised if s.condition is not Condition.VISIT_DUE):
        match = _window(script.misses, s)
        if match is not None:
            hits[match] += 1
        else:
            unscripted.append(f"{s.condition.value} {s.subject} at {s.t_ms}")
    by_kind = collections.Counter(k[0].value for k in script.misses)
    once = {k[0].value: 0 for k in script.misses}
    for key, n in hits.items():
        if n == 1:
            once[key[0].value] += 1
    rows = ["| miss | scripted | raised once |", "|---|---|---|"]
    rows += [f"| {kind} | {n} | {once.get(kind, 0)} |" for kind, n in sorted(by_kind.items())]
    summary = {"residents": residents, "days": days, "scripted_misses": len(script.misses),
               "raised_once": sum(1 for n in hits.values() if n == 1),
               "raised_twice": sum(1 for n in hits.values() if n > 1),
               "not_raised": len(script.misses) - len(hits),
               "raised_unscripted": len(unscripted), "unscripted": unscripted[:10],
               "reminders_scripted": len(script.late),
               "reminders_once": sum(1 for n in reminded.values() if n == 1),
               "reminders_unscripted": stray,
               "visit_rate_month": rate, "visit_rate_month_truth": truth}
    table = "\n".join([*rows, "",
                       f"Visit rate of {START:%Y-%m} (local months): register {rate}, "
                       f"script {truth}; unscripted warnings {len(unscripted)}, raised "
                       f"twice {summary['raised_twice']}."])
    return {"method": METHOD, "table": table, "summary": summary}
