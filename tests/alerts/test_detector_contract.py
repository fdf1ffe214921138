"""One contract for every detector (rules and learned models alike): it survives every
kind at the edges of its range, stays quiet on an ordinary stream, raises its condition on
its own trigger, and is deterministic (time comes only from readings and ``tick``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

import registry
from alerts.detectors.activity import InactivityRule
from alerts.detectors.bank import DetectorBank
from alerts.detectors.base import Detector, FleetDetector, Timer
from alerts.detectors.checkin import CheckInRule
from alerts.detectors.events import EventRules, NightSchedule
from alerts.detectors.health import HealthMonitor
from alerts.detectors.link import LinkTests
from alerts.detectors.multivariate import VitalsAnomaly
from alerts.detectors.room import RoomTemperature
from alerts.detectors.sleep import BedVitalsRule
from alerts.detectors.usual import usual_heart_rate, usual_skin_temperature
from alerts.detectors.vitals import VitalRules
from alerts.model import Condition, Signal
from registry import CheckIn
from telemetry.clock import DAY_MS
from telemetry.health import LINK_TEST_WINDOW_MS, link_test_due_ms
from telemetry.kinds import SPECS, FallStatus, Kind
from telemetry.parts import GATEWAY_SELF
from telemetry.reading import Reading
from tests.support.readings import T0, reading

S = 1000
DAY_T = T0 + 2 * 3600 * S  # 10:00 in Shanghai
OFFSETS = {"site-000": 480}  # the site's UTC offset, minutes


class Case(NamedTuple):
    make: Callable[[], Detector]
    trigger: list[Reading]
    tick_at_ms: int
    condition: Condition


def _inactivity() -> InactivityRule:
    return InactivityRule("res-00000", "site-000", "gw-00000", DAY_T, main_door="front-door",
                          utc_offset_ms=480 * 60_000)


def _checkin() -> CheckInRule:
    return CheckInRule("res-00000", "site-000", "gw-00000", CheckIn(by="12:00", since="10:00"),
                       timezone="Asia/Shanghai", start_ms=DAY_T - 3600 * S)


def _link_tests() -> LinkTests:
    link = LinkTests()
    link.expect({"gw-00000": "site-000"}, DAY_T)  # (today's test is due in the evening)
    return link


_NEXT_TEST = link_test_due_ms("gw-00000", DAY_T - DAY_T % DAY_MS)


def _vitals_departing_together() -> list[Reading]:
    """Ten residents' ordinary vitals for 2.5 h, then res-00000's heart rate, SpO2 and
    breathing go wrong together for half an hour (seeded: the same stream every time)."""
    rng = np.random.default_rng(7)
    out: list[Reading] = []
    for minute in range(180):
        t = DAY_T + minute * 60 * S
        for r in range(10):
            resident, base = f"res-{r:05d}", 60 + 2 * r
            hr, spo2, rr = base + rng.normal(0, 2), 96 + rng.normal(0, 0.5), \
                15 + rng.normal(0, 1)
            if r == 0 and minute >= 150:
                hr, spo2, rr = base * 1.35, 90.0, 24.0
            out += [reading(Kind.HEART_RATE, round(hr + rng.normal(0, 1), 1), t + k * 5 * S,
                            resident_id=resident) for k in range(12)]
            out += [reading(Kind.SPO2, round(spo2, 1), t, resident_id=resident),
                    reading(Kind.RESPIRATION_RATE, round(rr, 1), t, resident_id=resident)]
    out.sort(key=lambda x: x.device_time_ms)
    return out


CASES = {
    "events": Case(lambda: EventRules("res-00000", night=NightSchedule(480),
                                      wandering_risk=True),
                   [reading(Kind.FALL, FallStatus.MAYBE_FALL, DAY_T, device_id="radar")],
                   DAY_T + 61 * S, Condition.FALL),
    "vitals": Case(lambda: VitalRules("res-00000"),
                   [reading(Kind.SPO2, 85, DAY_T + i * 5 * S) for i in range(20)],
                   DAY_T + 100 * S, Condition.SPO2_LOW),
    "inactivity": Case(_inactivity,
                       [reading(Kind.MOTION, 1, DAY_T + 60 * S, device_id="living-pir")],
                       DAY_T + 3 * 3600 * S, Condition.INACTIVITY_CHECK),
    "health": Case(HealthMonitor,
                   [reading(Kind.HEART_RATE, 70, DAY_T)], DAY_T + 27 * 3600 * S,
                   Condition.DEVICE_SILENT),
    "usual": Case(lambda: usual_heart_rate(learn_days=100 * 5 / 3600, offsets=OFFSETS),
                  [reading(Kind.HEART_RATE, 60.0 if i < 900 else 90.0,
                           DAY_T + (i // 300) * 86_400 * S + (i % 300) * 5 * S)
                   for i in range(1200)],
                  DAY_T, Condition.HEART_RATE_ABOVE_USUAL),
    "usual_skin": Case(lambda: usual_skin_temperature(learn_days=100 * 60 / 3600,
                                                         offsets=OFFSETS),
                       [reading(Kind.SKIN_TEMPERATURE, 33.5 if i < 150 else 36.0,
                                DAY_T + (i // 50) * 86_400 * S + (i % 50) * 60 * S)
                        for i in range(200)],
                       DAY_T, Condition.SKIN_TEMPERATURE_ABOVE_USUAL),
    "vitals_anomaly": Case(lambda: VitalsAnomaly(window_s=300, train_windows=100),
                           _vitals_departing_together(), DAY_T + 181 * 60 * S,
                           Condition.VITALS_ANOMALY),
    "sleep": Case(lambda: BedVitalsRule("res-00000"),
                  [reading(Kind.BED_OCCUPANCY, 1, DAY_T, device_id="bed-mat"),
                   reading(Kind.PRESENCE, 1, DAY_T, device_id="bed-vitals"),
                   reading(Kind.RESPIRATION_RATE, 14, DAY_T + 5 * S, device_id="bed-vitals")],
                  DAY_T + 185 * S, Condition.NO_VITAL_SIGNS),
    "checkin": Case(_checkin,  # lying down is no check-in: none by 12:00
                    [reading(Kind.BED_OCCUPANCY, 1, DAY_T, device_id="bed-mat")],
                    DAY_T + 2 * 3600 * S, Condition.CHECKIN_MISSED),
    "link": Case(_link_tests,
                 [reading(Kind.LINK_TEST, 1, DAY_T, device_id=GATEWAY_SELF, resident_id=None)],
                 _NEXT_TEST + LINK_TEST_WINDOW_MS, Condition.LINK_TEST_MISSED),
    "room": Case(RoomTemperature,
                 [reading(Kind.ROOM_TEMPERATURE, 21.5 + 0.5 * (i % 2) if i < 300 else 12.0,
                          DAY_T + i * 600 * S, device_id="front-door") for i in range(301)],
                 DAY_T, Condition.ROOM_TEMPERATURE_ANOMALY),
}


def _ordinary_day() -> list[Reading]:
    out = []
    for minute in range(0, 240, 1):
        t = DAY_T + minute * 60 * S
        out.append(reading(Kind.HEART_RATE, 68 + minute % 5, t))
        out.append(reading(Kind.SPO2, 96, t))
        out.append(reading(Kind.RESPIRATION_RATE, 15, t))
        if minute % 10 == 0:
            out.append(reading(Kind.ROOM_TEMPERATURE, 21.5 + (minute // 60) * 0.5, t,
                               device_id="front-door"))
            out.append(reading(Kind.MOTION, 1, t, device_id="living-pir"))
            out.append(reading(Kind.MOTION, 0, t + 30 * S, device_id="living-pir"))
    return out


def _run(detector: Detector, readings: list[Reading], tick_every_s: int = 60) -> list[Signal]:
    out: list[Signal] = []
    next_tick = readings[0].device_time_ms if readings else 0
    for r in readings:
        while next_tick <= r.device_time_ms:
            out += detector.tick(next_tick)
            next_tick += tick_every_s * S
        out += detector.observe(r)
    return out


@pytest.mark.parametrize("name", CASES)
def test_survives_every_kind_at_its_limits(name: str) -> None:
    detector = CASES[name].make()
    for kind, spec in SPECS.items():
        for value in (spec.low, spec.high, (spec.low + spec.high) / 2):
            for signal in detector.observe(reading(kind, value, DAY_T)):
                assert isinstance(signal, Signal)
    detector.observe(reading(Kind.MOTION, 1, DAY_T, resident_id=None))
    detector.tick(DAY_T + 10 * 86_400 * S)


@pytest.mark.parametrize("name", CASES)
def test_quiet_on_an_ordinary_stream(name: str) -> None:
    raised = [s for s in _run(CASES[name].make(), _ordinary_day()) if s.active]
    assert raised == []


@pytest.mark.parametrize("name", CASES)
def test_raises_its_condition_on_its_trigger(name: str) -> None:
    case = CASES[name]
    detector = case.make()
    out = _run(detector, case.trigger) + detector.tick(case.tick_at_ms)
    assert [s.condition for s in out if s.active] == [case.condition]
    assert all(s.site_id == "site-000" and s.gateway_id == "gw-00000" for s in out)


@pytest.mark.parametrize("name", CASES)
def test_deterministic(name: str) -> None:
    case = CASES[name]
    runs = []
    for _ in range(2):
        detector = case.make()
        runs.append(_run(detector, case.trigger) + detector.tick(case.tick_at_ms))
    assert runs[0] == runs[1]


def test_the_contract_covers_every_detector_the_bank_runs() -> None:
    bank = DetectorBank(registry.load(registry.SAMPLE), DAY_T)
    resident = next(iter(bank._residents.values()))
    running = {type(d) for d in bank.fleet} | {type(d) for d in resident.detectors}
    covered = {type(case.make()) for case in CASES.values()}
    assert running <= covered


PER_RESIDENT = [name for name, case in CASES.items()
                if not hasattr(case.make(), "observe_batch")]


@pytest.mark.parametrize("name", CASES)
def test_declares_the_kinds_it_takes(name: str) -> None:
    detector = CASES[name].make()
    assert detector.kinds and detector.kinds <= frozenset(Kind)
    assert {r.kind for r in CASES[name].trigger} <= detector.kinds


@pytest.mark.parametrize("name", PER_RESIDENT)
def test_a_resident_detector_declares_its_timer(name: str) -> None:
    """None, fast (ticked while armed) or slow; a fast one is armed by its trigger."""
    detector = CASES[name].make()
    assert isinstance(detector, Detector)
    assert isinstance(detector.timer, Timer)
    assert isinstance(detector.armed, bool)
    if detector.timer is Timer.FAST:
        assert not detector.armed
        for r in CASES[name].trigger:
            detector.observe(r)
        assert detector.armed


def test_the_bank_routes_by_what_detectors_declare_not_by_kind_sets_of_its_own() -> None:
    source = (Path(__file__).resolve().parents[2] / "alerts/detectors/bank.py").read_text()
    assert "_KINDS" not in source.replace("ALL_KINDS", "")
    assert "frozenset({Kind." not in source


FLEET = [name for name, case in CASES.items() if hasattr(case.make(), "observe_batch")]


def _run_fleet(detector: FleetDetector, readings: list[Reading],
               tick_every_s: int = 60) -> list[Signal]:
    """As ``_run``, through the fleet variant: batches, and the three timers."""
    def tick(now_ms: int) -> list[Signal]:
        out = detector.fast_tick(now_ms)
        for chunk in detector.slow_chunks(now_ms):
            out += chunk
        return out + detector.unlocked(now_ms)
    out: list[Signal] = []
    next_tick = readings[0].device_time_ms if readings else 0
    batch: list[Reading] = []
    for r in readings:
        while next_tick <= r.device_time_ms:
            out += detector.observe_batch(batch) + tick(next_tick)
            batch = []
            next_tick += tick_every_s * S
        batch.append(r)
    return out + detector.observe_batch(batch)


@pytest.mark.parametrize("name", FLEET)
def test_a_fleet_detector_says_the_same_through_its_fleet_variant(name: str) -> None:
    case = CASES[name]
    one, fleet = case.make(), case.make()
    by_reading = _run(one, case.trigger) + one.tick(case.tick_at_ms)
    by_batch = _run_fleet(fleet, case.trigger)
    by_batch += fleet.fast_tick(case.tick_at_ms) + fleet.unlocked(case.tick_at_ms)
    for chunk in fleet.slow_chunks(case.tick_at_ms):
        by_batch += chunk
    assert {(s.condition, s.active) for s in by_batch} == \
        {(s.condition, s.active) for s in by_reading}
    assert case.condition in {s.condition for s in by_batch if s.active}
