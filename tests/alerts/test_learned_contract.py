"""The snapshot contract over every detector that learns: what one instance learned,
taken back by a new one, is the same state (the same bytes again) and gives the same
signals from then on; impossible or unknown state is refused."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

import registry
from alerts.detectors.bank import RESTORED, DetectorBank
from alerts.detectors.multivariate import VitalsAnomaly
from alerts.detectors.snapshot import FLEET, FleetLearner, Learner, Snapshot, SnapshotError
from telemetry.clock import MIN_MS
from telemetry.kinds import Kind
from telemetry.reading import Reading
from tests.support.readings import T0, reading


def _day_of_readings(resident: str = "res-00000", gateway: str = "gw-00000",
                     hours: int = 30) -> list[Reading]:
    rng = np.random.default_rng(3)
    out = []
    for k in range(hours * 12):  # every 5 minutes
        t = T0 + k * 5 * MIN_MS
        out += [reading(Kind.HEART_RATE, 60 + 8 * rng.random(), t, device_id="wristband",
                        resident_id=resident, gateway_id=gateway),
                reading(Kind.SKIN_TEMPERATURE, 33 + rng.random(), t, device_id="wristband",
                        resident_id=resident, gateway_id=gateway),
                reading(Kind.ROOM_TEMPERATURE, 21 + 2 * rng.random(), t,
                        device_id="front-door", resident_id=resident, gateway_id=gateway),
                reading(Kind.MOTION, float(k % 2), t, device_id="living-pir",
                        resident_id=resident, gateway_id=gateway)]
    return out


def _bank() -> DetectorBank:
    return DetectorBank(registry.load(registry.SAMPLE), T0)


def _learned(bank: DetectorBank, at_ms: int) -> dict[tuple[str, str], bytes]:
    return {(r.subject, r.detector): r.body for chunk in bank.learned(at_ms, chunk=1)
            for r in chunk}


def test_every_learning_detector_of_a_bank_is_taken_back_as_it_was() -> None:
    before = _bank()
    readings = _day_of_readings() + _day_of_readings("res-00001", "gw-00001")
    for lo in range(0, len(readings), 500):
        before.observe(readings[lo:lo + 500])
        before.tick(readings[min(lo + 499, len(readings) - 1)].device_time_ms)
    end = readings[-1].device_time_ms
    rows = [r for chunk in before.learned(end) for r in chunk]
    kinds = {r.detector for r in rows}
    assert {"inactivity", "usual-heart_rate", "usual-skin_temperature", "room-temperature",
            "vitals-anomaly"} <= kinds
    after = _bank()
    counts = after.restore(rows)
    assert sum(counts.values()) == len(rows) and {o for o, _ in counts} == {RESTORED}
    assert _learned(after, end) == _learned(before, end)
    # the same readings from here on: the same signals
    more = [msgspec.structs.replace(r, device_time_ms=r.device_time_ms + 30 * 3_600_000,
                                    seq=r.seq + 10**6) for r in readings[:2000]]
    assert after.observe(more) == before.observe(more)


def test_the_contract_holds_for_every_learner_in_a_bank() -> None:
    bank = _bank()
    per_resident = [d for d in bank.detectors_of("res-00000") if isinstance(d, Learner)]
    fleet = [f for f in bank.fleet if isinstance(f, FleetLearner)]
    assert per_resident and len(fleet) == 4  # two usual levels, the model, the rooms
    learners: list[Learner | FleetLearner] = [*per_resident, *fleet]
    for learner in learners:
        assert learner.learned_as and learner.learned_version >= 1
        with pytest.raises(SnapshotError):
            if isinstance(learner, Learner):
                learner.restore(b"\xc1 not msgpack")
            else:
                learner.restore_of("res-00000", b"\xc1 not msgpack")


def test_fleet_rows_of_an_unknown_resident_or_version_are_refused() -> None:
    source = _bank()
    source.observe(_day_of_readings(hours=2))
    source.fast_tick(T0 + 2 * 3_600_000)  # the gathered batch of heart rates goes in
    rows = [r for chunk in source.learned(T0) for r in chunk
            if r.detector == "usual-heart_rate"]
    assert len(rows) == 1
    row = rows[0]
    bank = _bank()
    counts = bank.restore([row._replace(subject="res-09999"), row._replace(version=9),
                           Snapshot(FLEET, "no-such-detector", 1, T0, b"")])
    assert counts == {("unknown", "usual-heart_rate"): 1, ("version", "usual-heart_rate"): 1,
                      ("unknown", "other"): 1}


def test_the_vitals_model_is_fitted_again_from_its_windows_to_the_same_scores() -> None:
    def model() -> VitalsAnomaly:
        return VitalsAnomaly(window_s=60, train_windows=40, refit_windows=10_000)

    before = model()
    rng = np.random.default_rng(5)
    t = T0
    for minute in range(60):
        for res in range(4):
            for _ in range(4):
                before.observe(reading(Kind.HEART_RATE, 60 + 5 * rng.random(),
                                       t + minute * MIN_MS, device_id="wristband",
                                       resident_id=f"res-{res:05d}"))
        before.collect(t + (minute + 2) * MIN_MS)
        before.score(t + (minute + 2) * MIN_MS)
    assert before.trained
    after = model()
    for subject in before.learned_subjects():
        body = before.snapshot_of(subject)
        assert body is not None
        after.restore_of(subject, body)
    windows = [reading(Kind.HEART_RATE, v, t + 70 * MIN_MS, device_id="wristband",
                       resident_id="res-00001") for v in (61.0, 63.0, 140.0, 62.0)]
    for model_ in (before, after):
        for r in windows:
            model_.observe(r)
        model_.collect(t + 80 * MIN_MS)
    assert after.score(t + 80 * MIN_MS) == before.score(t + 80 * MIN_MS)
    assert after.trained and after.snapshot_of(FLEET) == before.snapshot_of(FLEET)
