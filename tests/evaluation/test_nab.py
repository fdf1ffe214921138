"""NAB scoring, and the band novelty detector as NAB runs it."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

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


def test_events_take_the_files_span_or_only_what_probation_saw() -> None:
    # Probation (100 rows) sees 10 and 20; then 12 and 18; the file ends on a spike to 100.
    values = [10.0, 20.0] * 50 + [12.0, 18.0] * 50 + [100.0]
    with_span = np.flatnonzero(nab.events(values, probation=100))
    blind = np.flatnonzero(nab.events(values, probation=100, look_ahead=False))
    # Over the file's span (10 to 100) the four values share a band: only the spike is new.
    assert with_span[with_span >= 100].tolist() == [200]
    # Over probation's span (9 to 21) 12 and 18 are bands of their own: news at once.
    assert blind[blind >= 100].tolist()[0] == 100


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
