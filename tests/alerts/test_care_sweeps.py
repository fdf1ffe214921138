"""Scheduled care on several alert nodes sharing one store: each node judges the
residents (and sites) whose partitions it holds, so an overdue visit, a missed round and an
unstaffed care home are raised once, by one node, whichever way the residents are split;
a node taking another's residents over after a restart raises nothing twice."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from alerts import policy
from alerts.core import AlertCore
from alerts.duty import DutySweep
from alerts.model import Condition, Signal
from alerts.rounds import RoundSweep, sites_watched
from alerts.store import AlertStore
from alerts.visits import VisitSweep
from registry import Registry, RegistryFile, Resident, RoundPlan, Site
from registry.time import at_local, round_slots
from telemetry.clock import DAY_MS, FakeClock

SITES = [Site("home-a", "Homes A"), Site("home-b", "Homes B"),
         Site("care-1", "Care home", kind="institution", shifts=["08:00", "20:00"],
              rounds=RoundPlan("22:00", "06:00", 120, ["room-1", "room-2"]))]
RESIDENTS = [Resident(f"res-{i:03d}", ("home-a", "home-b", "care-1")[i % 3], f"room-{i % 2 + 1}",
                      f"Test Resident {i}", risk_tier="high") for i in range(12)]


@pytest.mark.parametrize("split", [1, 2, 3])
def test_each_miss_is_raised_once_by_one_node_of_several(tmp_path: Path, split: int) -> None:
    reg = Registry(RegistryFile(SITES, [], RESIDENTS, []))
    start = at_local("Asia/Shanghai", datetime.date.today() + datetime.timedelta(days=1), 0)
    clock = FakeClock(start)
    db = AlertStore(tmp_path / "alerts.db")
    core = AlertCore(db, reg, policy.load(policy.SAMPLE), clock)
    ids = sorted(reg.residents)
    nodes = [ids[k::split] for k in range(split)]  # the partitions each node holds
    sweeps = [(VisitSweep(), RoundSweep(), DutySweep()) for _ in nodes]
    assert sorted(s for part in nodes for s in sites_watched(reg, part)) == \
        sorted(s.site_id for s in SITES)  # every site judged, by exactly one node
    raised: list[Signal] = []

    def everyone(now: int) -> None:
        for part, mine in zip(nodes, sweeps, strict=True):
            for sweep in mine:
                signals = sweep.sweep(reg, db, part, now)
                core.handle(signals)
                raised.extend(s for s in signals if s.active)

    everyone(start)
    core.handle([Signal(Condition.FALL, "res-002", True, start, "care-1", "", "fall")])
    for minute in range(1, 11 * 24 * 60, 10):  # 11 days; nobody visits, no round is done
        everyone(start + minute * 60_000)
    visits = sorted(s.subject for s in raised if s.condition is Condition.VISIT_OVERDUE)
    assert visits == sorted(r.resident_id for r in RESIDENTS if r.site_id != "care-1")
    assert sorted(s.subject for s in raised if s.condition is Condition.VISIT_DUE) == visits
    assert [s.subject for s in raised if s.condition is Condition.NOBODY_ON_DUTY] == ["care-1"]
    end = start + (11 * 24 * 60 - 9) * 60_000  # the last sweep
    due = round_slots("Asia/Shanghai", "22:00", "06:00", 120, start, end - 30 * 60_000 + 1)
    rounds = [s for s in raised if s.condition is Condition.ROUND_MISSED]
    assert len(rounds) == len(due) > 30  # each round missed raised once, within a sweep
    assert all(0 <= s.t_ms - (d + 30 * 60_000) < 10 * 60_000
               for s, d in zip(rounds, due, strict=True))
    # one each: the fall, the visits (due, overdue), the rounds (one, updated), nobody on
    # duty
    assert len(db.alerts.find(open_only=True, limit=1000)) == 1 + 2 * len(visits) + 2
    # a restart: one node takes every partition; nothing is raised again
    after = [s for sweep in (VisitSweep(), RoundSweep(), DutySweep())
             for s in sweep.sweep(reg, db, ids, start + 11 * DAY_MS + 60_000)]
    assert [s for s in after if s.active] == []
    db.close()
