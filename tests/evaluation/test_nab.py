"""NAB scoring and the adaptive baseline detector it scores."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from alerts.baseline import AdaptiveBaseline
from evaluation import nab


def _series(scores: np.ndarray, windows: list[tuple[int, int]]) -> nab.Series:
    n = len(scores)
    inside = np.full(n, np.nan)
    outside = np.full(n, -1.0)
    for ws, we in windows:
        for i in range(ws, we + 1):
            inside[i] = nab.scaled_sigmoid(-(we - i + 1) / (we - ws + 1))
    return nab.Series("synthetic", scores, windows, inside, outside, probation=100)


WINDOWS = [(300, 349), (700, 749)]


@pytest.mark.parametrize("profile", list(nab.PROFILES))
def test_perfect_and_null_detectors_score_100_and_0(profile: str) -> None:
    perfect = np.zeros(1000)
    for ws, _ in WINDOWS:
        perfect[ws] = 1.0
    assert nab.normalised([_series(perfect, WINDOWS)], 0.5, profile) == pytest.approx(100)
    assert nab.normalised([_series(np.zeros(1000), WINDOWS)], 0.5, profile) == 0


def test_late_detections_and_false_alarms_cost() -> None:
    late = np.zeros(1000)
    for _, we in WINDOWS:
        late[we] = 1.0
    noisy = late.copy()
    noisy[500] = 1.0  # outside every window, before none: full FP weight
    late_score = nab.normalised([_series(late, WINDOWS)], 0.5, "standard")
    assert 0 < late_score < 60
    assert nab.normalised([_series(noisy, WINDOWS)], 0.5, "standard") < late_score


def test_the_baseline_flags_a_level_shift_once_and_not_plain_noise() -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(20, 0.5, 2000), rng.normal(26, 0.5, 500)])
    detector = AdaptiveBaseline()
    scores = np.array([detector.update(float(v)) for v in values])
    events = np.flatnonzero(scores >= detector.trip)
    assert len(events[events < 2000]) <= 2  # noise: rare
    after = events[events >= 2000]
    assert len(after) >= 1 and after[0] == 2000  # the shift: at once
    # An ongoing departure is reported again only when its score climbs higher, not once
    # per sample for all 500.
    assert len(after) <= 10
    assert all(np.diff(scores[after]) > 0)


def test_the_baseline_is_quiet_until_warm_and_refuses_bad_arguments() -> None:
    detector = AdaptiveBaseline(warmup=150)
    assert [detector.update(v) for v in [20.0] * 149 + [90.0]] == [0.0] * 150
    for bad in ({"warmup": 1}, {"trip": 0}, {"half_life": 0}, {"resolution": -1}):
        with pytest.raises(ValueError):
            AdaptiveBaseline(**bad)  # type: ignore[arg-type]


def test_eval_anomalies_quick_run_reports_json() -> None:
    done = subprocess.run([sys.executable, "-m", "eldercare_cli.main", "eval", "anomalies",
                           "--series", "8", "--json"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert set(summary) == {"nab_standard", "nab_low_fp", "nab_low_fn"}
    assert all(math.isfinite(v) and v <= 100 for v in summary.values())
    # Same detections, dearer false alarms: the low-FP profile cannot score higher.
    assert summary["nab_low_fp"] <= summary["nab_standard"]
