"""The IsolationForest detector: trained on ordinary windows of many residents, it flags
the resident whose vital signs move together away from their own normal, and no one else."""

from __future__ import annotations

import numpy as np

from alerts.detectors.multivariate import VitalsAnomaly
from alerts.model import Condition
from telemetry.kinds import Kind
from tests.support.readings import T0, reading

MIN = 60_000


def _minute(detector: VitalsAnomaly, rng: np.random.Generator, t: int, residents: int,
            sick: str | None = None) -> None:
    for r in range(residents):
        resident = f"res-{r:05d}"
        base = 60 + r % 20
        hr = base + rng.normal(0, 2)
        spo2 = 96 + rng.normal(0, 0.5)
        rr = 15 + rng.normal(0, 1)
        if resident == sick:
            hr, spo2, rr = base * 1.35, 90.0, 24.0
        for s in range(0, 60, 5):
            detector.observe(reading(Kind.HEART_RATE, round(hr + rng.normal(0, 1), 1),
                                     t + s * 1000, resident_id=resident))
        detector.observe(reading(Kind.SPO2, round(spo2, 1), t, resident_id=resident))
        detector.observe(reading(Kind.RESPIRATION_RATE, round(rr, 1), t, resident_id=resident))


def test_flags_only_the_resident_whose_vitals_depart_together() -> None:
    rng = np.random.default_rng(1)
    detector = VitalsAnomaly(window_s=300, train_windows=800)
    out = []
    t = T0
    for _ in range(6 * 60):  # six ordinary hours of 30 residents
        _minute(detector, rng, t, 30)
        t += MIN
        if t % (5 * MIN) == 0:
            out += detector.tick(t)
    assert detector.trained and out == []
    for _ in range(30):  # half an hour: one resident's vitals go wrong together
        _minute(detector, rng, t, 30, sick="res-00007")
        t += MIN
        if t % (5 * MIN) == 0:
            out += detector.tick(t)
    assert [(s.condition, s.subject, s.active) for s in out] == \
        [(Condition.VITALS_ANOMALY, "res-00007", True)]
    assert detector.scored > 0
    for _ in range(30):  # back to normal: cleared after two ordinary windows
        _minute(detector, rng, t, 30)
        t += MIN
        if t % (5 * MIN) == 0:
            out += detector.tick(t)
    assert [(s.subject, s.active) for s in out[1:]] == [("res-00007", False)]
