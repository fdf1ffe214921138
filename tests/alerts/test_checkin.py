"""The daily check-in on the site's calendar: a resident who shows a sign of life in the
window is left alone; one who does not is a check on the desk at the window's end, once,
ended by the late check-in. Days are the site's own, in a zone with summer time too."""

from __future__ import annotations

import datetime

import msgspec
import pytest

from alerts.detectors.checkin import CheckInRule
from alerts.detectors.snapshot import Refused, SnapshotError
from alerts.model import PROFILES, Condition, Severity, Signal
from registry import CheckIn, Registry, RegistryError, RegistryFile, Resident, Site
from registry.time import at_local
from telemetry.kinds import Kind
from tests.support.days import summer_time_day
from tests.support.readings import reading

MIN = 60_000
SHANGHAI, BERLIN = "Asia/Shanghai", "Europe/Berlin"


def _days_ahead(n: int) -> datetime.date:
    return datetime.date.today() + datetime.timedelta(days=n)


def _rule(zone: str = SHANGHAI, start_ms: int = 0, **rule: object) -> CheckInRule:
    return CheckInRule("res-00000", "site-000", "gw-00000", msgspec.convert(rule, CheckIn),
                       timezone=zone, start_ms=start_ms, main_door="front-door")


def _run(rule: CheckInRule, day: datetime.date, zone: str = SHANGHAI,
         events: tuple[tuple[str, Kind, float, str], ...] = ()) -> list[tuple[str, Signal]]:
    """One local day, minute by minute: ``events`` (local HH:MM, kind, value, device) fed
    at their minute, the sweep after each; what was signalled, at which local minute."""
    out: list[tuple[str, Signal]] = []
    at = {e[0]: e for e in events}
    for minute in range(24 * 60):
        hhmm = f"{minute // 60:02d}:{minute % 60:02d}"
        t = at_local(zone, day, minute)
        if hhmm in at:
            _, kind, value, device = at[hhmm]
            out += [(hhmm, s) for s in rule.observe(reading(kind, value, t,
                                                            device_id=device))]
        out += [(hhmm, s) for s in rule.tick(t)]
    return out


def test_a_sign_of_life_in_the_window_is_a_check_in_and_nothing_is_raised() -> None:
    day = _days_ahead(1)
    rule = _rule(start_ms=at_local(SHANGHAI, day, 0))
    assert _run(rule, day, events=(("07:31", Kind.MOTION, 1, "hall-pir"),)) == []


def test_no_check_in_is_a_check_at_the_window_s_end_ended_by_the_late_one() -> None:
    day = _days_ahead(1)
    rule = _rule(start_ms=at_local(SHANGHAI, day, 0))
    # a trip to the bathroom at 03:00 is before the window: not a check-in
    out = _run(rule, day, events=(("03:00", Kind.MOTION, 1, "bath-pir"),
                                  ("11:42", Kind.DOOR, 1, "front-door")))
    assert [(at, s.condition, s.active, s.detail) for at, s in out] == [
        ("10:00", Condition.CHECKIN_MISSED, True,
         "no check-in between 05:00 and 10:00 (activity)"),
        ("11:42", Condition.CHECKIN_MISSED, False, "checked in at 11:42 (door)")]
    assert PROFILES[Condition.CHECKIN_MISSED] == (Severity.WARNING, True)
    # the next day's window is judged afresh
    nxt = day + datetime.timedelta(days=1)
    assert [(at, s.active) for at, s in _run(rule, nxt)] == [("10:00", True)]


def test_only_the_rule_s_means_count() -> None:
    day = _days_ahead(2)
    rule = _rule(start_ms=at_local(SHANGHAI, day, 0), means=["answer"], by="09:00")
    out = _run(rule, day, events=(("06:00", Kind.MOTION, 1, "hall-pir"),
                                  ("07:00", Kind.DOOR, 1, "front-door")))
    assert [(at, s.active) for at, s in out] == [("09:00", True)]
    rule = _rule(start_ms=at_local(SHANGHAI, day, 0), means=["answer"], by="09:00")
    assert _run(rule, day, events=(("08:59", Kind.ANSWER, 1, "sos-button"),)) == []
    # the main door: the bathroom's door is not "the door opened"
    rule = _rule(start_ms=at_local(SHANGHAI, day, 0), means=["door"])
    out = _run(rule, day, events=(("08:00", Kind.DOOR, 1, "bathroom-door"),))
    assert [(at, s.active) for at, s in out] == [("10:00", True)]
    rule = _rule(start_ms=at_local(SHANGHAI, day, 0), means=["door"])
    assert _run(rule, day, events=(("08:00", Kind.DOOR, 1, "front-door"),)) == []


def test_getting_out_of_bed_counts_lying_down_does_not() -> None:
    day = _days_ahead(1)
    rule = _rule(start_ms=at_local(SHANGHAI, day, 0))
    out = _run(rule, day, events=(("05:30", Kind.BED_OCCUPANCY, 1, "bed-mat"),))
    assert [(at, s.active) for at, s in out] == [("10:00", True)]
    rule = _rule(start_ms=at_local(SHANGHAI, day, 0))
    assert _run(rule, day, events=(("06:10", Kind.BED_OCCUPANCY, 0, "bed-mat"),)) == []


@pytest.mark.parametrize("zone", [SHANGHAI, BERLIN])
def test_the_window_is_the_site_s_wall_clock_on_the_day_summer_time_begins(zone: str) -> None:
    day = summer_time_day()
    rule = _rule(zone, start_ms=at_local(zone, day, 0) - 2 * 24 * 60 * MIN)
    before = day - datetime.timedelta(days=1)
    hits = []
    for d in (before, day):
        for t in range(at_local(zone, d, 0), at_local(zone, d, 0) + 24 * 60 * MIN, MIN):
            hits += [datetime.datetime.fromtimestamp(s.t_ms / 1000, datetime.UTC)
                     for s in rule.tick(t)]
    utc = [h.hour for h in hits]
    # 10:00 on the site's clock both days; in Berlin that is an hour earlier in UTC once
    # summer time has begun, in Shanghai (no summer time) the same
    assert utc == ([9, 8] if zone == BERLIN else [2, 2])
    assert all(h.minute == 0 for h in hits)


def test_a_day_whose_window_was_not_watched_whole_is_not_judged() -> None:
    day = _days_ahead(1)
    rule = _rule(start_ms=at_local(SHANGHAI, day, 8 * 60))  # admitted at 08:00
    assert _run(rule, day) == []
    nxt = day + datetime.timedelta(days=1)
    assert [(at, s.active) for at, s in _run(rule, nxt)] == [("10:00", True)]


def test_a_restart_neither_forgets_a_check_in_nor_raises_a_miss_twice() -> None:
    day = _days_ahead(1)
    start = at_local(SHANGHAI, day, 0) - 24 * 60 * MIN
    rule = _rule(start_ms=start)
    rule.observe(reading(Kind.MOTION, 1, at_local(SHANGHAI, day, 7 * 60), device_id="pir"))
    again = _rule(start_ms=at_local(SHANGHAI, day, 8 * 60))  # restarted at 08:00
    again.restore(rule.snapshot())
    assert _run(again, day) == []  # the 07:00 check-in was kept
    nxt = day + datetime.timedelta(days=1)
    first = [s for t in range(at_local(SHANGHAI, nxt, 600), at_local(SHANGHAI, nxt, 700), MIN)
             for s in again.tick(t)]
    assert [s.active for s in first] == [True]
    third = _rule(start_ms=at_local(SHANGHAI, nxt, 11 * 60))
    third.restore(again.snapshot())
    assert [s for t in range(at_local(SHANGHAI, nxt, 660), at_local(SHANGHAI, nxt, 720), MIN)
            for s in third.tick(t)] == []
    # and the late check-in after the restart still ends the miss raised before it
    ended = third.observe(reading(Kind.MOTION, 1, at_local(SHANGHAI, nxt, 725),
                                  device_id="pir"))
    assert [(s.condition, s.active) for s in ended] == [(Condition.CHECKIN_MISSED, False)]


def test_a_snapshot_with_an_impossible_day_is_refused_and_changes_nothing() -> None:
    rule = _rule()
    body = msgspec.msgpack.encode({"watched_from_ms": 0, "done": "2026-13-45"})
    with pytest.raises(SnapshotError) as refused:
        rule.restore(body)
    assert refused.value.reason is Refused.CORRUPT
    with pytest.raises(SnapshotError):
        rule.restore(rule.snapshot()[:-3])


@pytest.mark.parametrize(("rule", "why"), [
    ({"by": "25:00"}, "'25:00' is not a time of day"),
    ({"by": "9:00"}, "'9:00' is not a time of day"),
    ({"since": "10:00", "by": "09:00"}, "its window 10:00-09:00 is empty"),
    ({"means": []}, "no means of checking in"),
])
def test_a_check_in_rule_with_an_impossible_time_is_refused_with_its_reason(
        rule: dict[str, object], why: str) -> None:
    site = Site("site-000", "Test home")
    resident = Resident("res-00000", "site-000", "living", "Test Resident A",
                        checkin=msgspec.convert(rule, CheckIn))
    with pytest.raises(RegistryError, match=why):
        Registry(RegistryFile([site], [], [resident], []))
