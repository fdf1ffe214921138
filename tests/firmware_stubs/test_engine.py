"""The resident model: reproducible, and every injected incident shows in what is sent."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from firmware_stubs import incidents as inc
from firmware_stubs.engine import Fleet
from firmware_stubs.incidents import IncidentKind
from firmware_stubs.runner import Level, RunConfig
from telemetry import codec, topics
from telemetry.clock import HOUR_MS, MIN_MS
from telemetry.kinds import FallStatus, Kind
from telemetry.reading import Reading
from telemetry.topics import Channel
from tests.firmware_stubs.helpers import run_collect

MIDNIGHT = 1_795_305_600_000  # 2026-11-23T00:00Z
START = MIDNIGHT - 4 * HOUR_MS  # 20:00 the evening before


def _fleet_run(seed: int, hours: int = 6) -> list[np.ndarray]:
    fleet = Fleet(20, seed, START, inc.schedule(np.random.default_rng(seed), 20, START, 1, 1.0))
    cols: list[list[np.ndarray]] = [[] for _ in range(5)]
    for i in range(hours * 60):
        for col, part in zip(cols, fleet.step(START + i * MIN_MS, START + (i + 1) * MIN_MS),
                             strict=True):
            col.append(part)
    return [np.concatenate(c) for c in cols]


def test_a_seeded_run_is_reproducible() -> None:
    first, again, other = _fleet_run(3), _fleet_run(3), _fleet_run(4)
    assert len(first[0]) > 10_000
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(first[0]) != len(other[0]) or not np.array_equal(first[3], other[3])


# One incident of each kind, in its own home, during a simulated day from 20:00.
DAY_INCIDENTS = [
    inc.make(IncidentKind.FALL, 0, MIDNIGHT + 10 * HOUR_MS, 30 * MIN_MS),
    inc.make(IncidentKind.SOS, 1, MIDNIGHT + 11 * HOUR_MS, MIN_MS),
    inc.make(IncidentKind.NIGHT_WANDERING, 2, MIDNIGHT + 2 * HOUR_MS, 30 * MIN_MS),
    inc.make(IncidentKind.INACTIVITY, 3, MIDNIGHT + 9 * HOUR_MS, 4 * HOUR_MS),
    inc.make(IncidentKind.TACHYCARDIA, 4, MIDNIGHT + 12 * HOUR_MS, 30 * MIN_MS),
    inc.make(IncidentKind.BRADYCARDIA, 5, MIDNIGHT + 12 * HOUR_MS, 30 * MIN_MS),
    inc.make(IncidentKind.DESATURATION, 6, MIDNIGHT + 3 * HOUR_MS, 30 * MIN_MS),
    inc.make(IncidentKind.FEVER, 7, MIDNIGHT + 14 * HOUR_MS, 2 * HOUR_MS),
    inc.make(IncidentKind.BATTERY_DRAIN, 8, MIDNIGHT + 6 * HOUR_MS, 6 * HOUR_MS),
    inc.make(IncidentKind.DROPOUT, 9, MIDNIGHT + 13 * HOUR_MS, 60 * MIN_MS),
    inc.make(IncidentKind.STUCK_AT, 10, MIDNIGHT + 15 * HOUR_MS, 60 * MIN_MS),
    inc.make(IncidentKind.NOISE, 11, MIDNIGHT + 16 * HOUR_MS, 60 * MIN_MS),
    inc.make(IncidentKind.HEATING_FAILURE, 14, MIDNIGHT + 8 * HOUR_MS, 8 * HOUR_MS),
]
HOMES = 15  # homes 12 and 13 have no incident: the controls


@pytest.fixture(scope="module")
def day() -> dict[str, list[Reading]]:
    cfg = RunConfig(level=Level.GATEWAY, homes=HOMES, speed=3600, duration_s=24,
                    start_ms=START, step_s=60, batch_window_s=1, incident_rate=0.0,
                    extra_incidents=tuple(DAY_INCIDENTS))
    stats, messages = run_collect(cfg)
    by_gateway: dict[str, list[Reading]] = defaultdict(list)
    for m in messages:
        parsed = topics.parse_central(m.topic)
        if parsed.channel in (Channel.READINGS, Channel.URGENT):
            batch = codec.decode(m.payload, now_ms=MIDNIGHT + 24 * HOUR_MS,
                                 expected_gateway_id=parsed.gateway_id,
                                 max_past_ms=10 * 24 * HOUR_MS)
            assert batch.rejections == []
            by_gateway[parsed.gateway_id].extend(batch.readings)
    assert sum(map(len, by_gateway.values())) == stats.readings
    return by_gateway


def _of(day: dict[str, list[Reading]], home: int, kind: Kind, device: str | None = None,
        start: int = 0, end: int = 2**62) -> list[Reading]:
    return [r for r in day[f"gw-{home:05d}"] if r.kind is kind
            and (device is None or r.device_id == device) and start <= r.device_time_ms < end]


def _window(i: inc.Incident) -> tuple[int, int]:
    return i.start_ms, i.end_ms


def test_sequence_numbers_count_from_one_without_gaps(day: dict[str, list[Reading]]) -> None:
    for readings in day.values():
        assert sorted(r.seq for r in readings) == list(range(1, len(readings) + 1))


def test_a_fall_shows_maybe_then_fall_then_recovery(day: dict[str, list[Reading]]) -> None:
    fall = DAY_INCIDENTS[0]
    got = [(r.device_time_ms - fall.start_ms, r.value)
           for r in _of(day, 0, Kind.FALL, "bathroom-radar")]
    assert got == [(0, FallStatus.MAYBE_FALL), (8000, FallStatus.FALL),
                   (fall.end_ms - fall.start_ms, FallStatus.NONE)]
    motion = _of(day, 0, Kind.MOTION, start=fall.start_ms, end=fall.end_ms)
    assert [r.value for r in motion if r.value > 0] == []  # lying still
    for home in range(1, HOMES):
        assert _of(day, home, Kind.FALL) == []


def test_sos_is_sent_once_at_its_time(day: dict[str, list[Reading]]) -> None:
    assert [r.device_time_ms for r in _of(day, 1, Kind.SOS)] == [DAY_INCIDENTS[1].start_ms]
    assert all(_of(day, h, Kind.SOS) == [] for h in range(HOMES) if h != 1)


def test_night_wandering_opens_the_door_at_night(day: dict[str, list[Reading]]) -> None:
    s, e = _window(DAY_INCIDENTS[2])
    opened = [r for r in _of(day, 2, Kind.DOOR, start=s, end=e) if r.value == 1.0]
    assert len(opened) == 2  # out and back
    bed = _of(day, 2, Kind.BED_OCCUPANCY, start=s, end=e + 1)
    assert [r.value for r in bed] == [0.0, 1.0]


def test_inactivity_means_no_activity_at_all(day: dict[str, list[Reading]]) -> None:
    s, e = _window(DAY_INCIDENTS[3])
    for kind in (Kind.MOTION, Kind.DOOR, Kind.BED_OCCUPANCY):
        assert [r for r in _of(day, 3, kind, start=s, end=e) if r.value > 0] == []
    control = [r for r in _of(day, 12, Kind.MOTION, start=s, end=e) if r.value > 0]
    assert len(control) >= 4


def _mean(readings: list[Reading]) -> float:
    assert readings
    return sum(r.value for r in readings) / len(readings)


def test_vital_sign_incidents_move_the_vitals(day: dict[str, list[Reading]]) -> None:
    tachy, brady, desat, fever = DAY_INCIDENTS[4:8]
    hr_tachy = _of(day, 4, Kind.HEART_RATE, "wristband", *_window(tachy))
    hr_before = _of(day, 4, Kind.HEART_RATE, "wristband", tachy.start_ms - HOUR_MS,
                    tachy.start_ms)
    assert _mean(hr_tachy) > _mean(hr_before) + 30
    assert max(r.value for r in _of(day, 5, Kind.HEART_RATE, "wristband", *_window(brady))) < 45
    spo2 = _of(day, 6, Kind.SPO2, start=desat.start_ms, end=desat.end_ms)
    assert spo2 and max(r.value for r in spo2) < 90
    assert min(r.value for r in _of(day, 6, Kind.SPO2, end=desat.start_ms)) > 90
    assert _mean(_of(day, 7, Kind.SKIN_TEMPERATURE, start=fever.start_ms,
                     end=fever.end_ms)) > 35.5


def test_device_faults_show_on_their_device(day: dict[str, list[Reading]]) -> None:
    drain, dropout, stuck, noise = DAY_INCIDENTS[8:12]
    battery = _of(day, 8, Kind.BATTERY, "bedroom-pir", *_window(drain))
    assert len(battery) >= 5 and battery[-1].value < 15
    assert [r.value for r in battery] == sorted((r.value for r in battery), reverse=True)
    silent = _of(day, 9, Kind.HEART_RATE, "wristband", dropout.start_ms, dropout.end_ms)
    assert silent == []
    assert [r.value for r in _of(day, 9, Kind.AVAILABILITY, "wristband")] == [0.0, 1.0]
    assert {r.value for r in _of(day, 10, Kind.HEART_RATE, "wristband", *_window(stuck))} \
        == {72.0}
    noisy = [r.value for r in _of(day, 11, Kind.HEART_RATE, "wristband", *_window(noise))]
    calm = [r.value for r in _of(day, 11, Kind.HEART_RATE, "wristband",
                                 noise.start_ms - HOUR_MS, noise.start_ms)]
    assert np.std(noisy) > 3 * np.std(calm)


def test_a_failed_heating_cools_the_room(day: dict[str, list[Reading]]) -> None:
    heating = DAY_INCIDENTS[12]
    room = _of(day, 14, Kind.ROOM_TEMPERATURE, "front-door", *_window(heating))
    control = _of(day, 13, Kind.ROOM_TEMPERATURE, "front-door", *_window(heating))
    assert len(room) >= 40
    assert room[-1].value < 16.0 < min(r.value for r in control)
    before = _of(day, 14, Kind.ROOM_TEMPERATURE, "front-door", end=heating.start_ms)
    assert min(r.value for r in before) > 18.0


def test_a_normal_day_has_a_routine(day: dict[str, list[Reading]]) -> None:
    control = day["gw-00013"]
    bed = [r for r in control if r.kind is Kind.BED_OCCUPANCY]
    assert {r.value for r in bed} == {0.0, 1.0}
    asleep = _of(day, 13, Kind.HEART_RATE, "bed-vitals", MIDNIGHT + 1 * HOUR_MS,
                 MIDNIGHT + 4 * HOUR_MS)
    assert len(asleep) > 1000  # the bed radar reports every 5 s while the bed is occupied
    assert not any(r.kind in (Kind.FALL, Kind.SOS) for r in control)
