"""Room temperature against the room's own normal: a failed heating and an open window are
noticed; ordinary days, coarse sensors and a change of season are not."""

from __future__ import annotations

import math

import numpy as np

import registry
from alerts.detectors.bank import DetectorBank
from alerts.detectors.room import RoomTemperature
from alerts.model import Condition, Signal
from telemetry.kinds import Kind
from telemetry.reading import Reading
from tests.alerts.conftest import World
from tests.support.readings import T0, reading

S = 1000
TEN_MIN = 600 * S


def _room(value: float, t_ms: int) -> Reading:
    return reading(Kind.ROOM_TEMPERATURE, value, t_ms, device_id="front-door")


def _ordinary(rng: np.random.Generator, days: int) -> list[Reading]:
    """A heated room: warmest at 16:00, 1.5 °C either side, read every 10 minutes."""
    out = []
    for i in range(days * 144):
        t = T0 + i * TEN_MIN
        hour = (t / 3_600_000 + 8) % 24
        value = 21.5 + 1.5 * math.cos(2 * math.pi * (hour - 16) / 24) + rng.normal(0, 0.2)
        out.append(_room(round(value, 1), t))
    return out


def _heating_fails(rng: np.random.Generator, last: Reading, hours: int) -> list[Reading]:
    """From ``last`` on, the room cools towards 12 °C with a time constant of 6 h."""
    return [_room(round(12 + (last.value - 12) * math.exp(-k / 36) + rng.normal(0, 0.2), 1),
                  last.device_time_ms + k * TEN_MIN) for k in range(1, hours * 6 + 1)]


def _feed(detector: RoomTemperature, readings: list[Reading]) -> list[Signal]:
    return [s for r in readings for s in detector.observe(r)]


def test_ordinary_days_are_quiet_and_a_failed_heating_is_noticed_within_5_hours() -> None:
    for seed in range(3):
        rng = np.random.default_rng(seed)
        detector = RoomTemperature()
        days = _ordinary(rng, 10)
        assert _feed(detector, days) == []
        failing = _heating_fails(rng, days[-1], 8)
        signals = _feed(detector, failing)
        assert signals, f"seed {seed}: the cooling room was not noticed in 8 h"
        first = signals[0]
        assert first.condition is Condition.ROOM_TEMPERATURE_ANOMALY and first.active
        assert (first.subject, first.device_id) == ("res-00000", "front-door")
        assert first.t_ms - days[-1].device_time_ms <= 5 * 3_600_000
        assert 14.0 < float(first.detail.split()[0]) < 19.0


def test_a_second_failed_heating_two_days_after_the_first_is_noticed_again() -> None:
    rng = np.random.default_rng(4)
    detector = RoomTemperature()
    stream = _ordinary(rng, 3)
    noticed = []
    for _ in range(2):
        assert _feed(detector, stream) == []
        failing = _heating_fails(rng, stream[-1], 6)
        noticed.append(bool(_feed(detector, failing)))
        # the heating is mended: two ordinary days follow
        back = failing[-1].device_time_ms
        stream = [_room(r.value, back + (i + 1) * TEN_MIN)
                  for i, r in enumerate(_ordinary(rng, 2))]
    assert noticed == [True, True]


def test_a_sensor_that_reports_whole_degrees_at_odd_times_is_quiet() -> None:
    rng = np.random.default_rng(7)
    detector = RoomTemperature()
    t, value, readings = T0, 21.0, []
    for _ in range(2000):
        t += int(rng.integers(5, 60)) * 60 * S
        value = min(23.0, max(19.0, value + float(rng.choice([-1.0, *[0.0] * 198, 1.0]))))
        readings.append(_room(value, t))
    assert _feed(detector, readings) == []


def test_a_window_opened_in_winter_is_noticed_at_once() -> None:
    rng = np.random.default_rng(11)
    detector = RoomTemperature()
    days = _ordinary(rng, 3)
    assert _feed(detector, days) == []
    last = days[-1].device_time_ms
    cold = [_room(v, last + (k + 1) * TEN_MIN) for k, v in enumerate([19.5, 16.4, 15.8])]
    signals = _feed(detector, cold)
    assert [s.t_ms for s in signals] == [cold[1].device_time_ms]


def test_a_slow_change_of_season_is_not_an_alert() -> None:
    """Sixty days in which the room's daily mean climbs from 21.5 to 26 °C: new bands,
    but never far from the room's recent mean."""
    rng = np.random.default_rng(12)
    detector = RoomTemperature()
    season = [_room(round(r.value + 4.5 * i / (60 * 144), 1), r.device_time_ms)
              for i, r in enumerate(_ordinary(rng, 60))]
    assert max(r.value for r in season[-144:]) > 27.0  # into a band never seen before
    assert _feed(detector, season) == []


def test_repeated_and_late_readings_do_not_count_twice() -> None:
    rng = np.random.default_rng(3)
    stream = _ordinary(rng, 10)
    stream += _heating_fails(rng, stream[-1], 8)
    clean = _feed(RoomTemperature(), stream)
    noisy: list[Reading] = []
    for i, r in enumerate(stream):
        noisy.append(r)
        noisy.append(r)  # redelivered
        if i > 10 and i % 50 == 0:
            noisy.append(stream[i - 10])  # a late copy of an older one
    assert _feed(RoomTemperature(), noisy) == clean
    assert clean


def test_the_bank_routes_room_temperature_and_the_core_keeps_one_alert(
        world: World) -> None:
    rng = np.random.default_rng(5)
    bank = DetectorBank(registry.load(registry.SAMPLE), T0)
    stream = _ordinary(rng, 10)
    stream += _heating_fails(rng, stream[-1], 8)
    signals = [s for r in stream for s in bank.observe([r])
               if s.condition is Condition.ROOM_TEMPERATURE_ANOMALY]
    assert signals
    for s in signals:
        world.core.handle([s])
    alerts = [a for a in world.db.alerts.find()
              if a.condition is Condition.ROOM_TEMPERATURE_ANOMALY]
    assert len(alerts) == 1
    assert alerts[0].subject == "res-00000"
    assert alerts[0].repeats == len(signals) - 1
