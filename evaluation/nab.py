"""The Numenta Anomaly Benchmark score of the alert core's adaptive baseline detector (the
one ``alerts/detectors/room.py`` runs per room temperature sensor).

Scoring follows NAB's published definition: anomaly windows from ``combined_windows.json``;
the first 15 % of each file (at most 750 rows) is a probation period whose detections are
ignored; inside a window only the earliest detection counts, weighted by the scaled
sigmoid of its position (earlier is better); a detection outside every window costs the
FP weight times the scaled sigmoid of its distance past the previous window (or the full
weight before the first window); each window without a detection costs the FN weight.
Each profile's total is normalised to 0 (the null detector, which never fires) and 100
(a detector that fires on the first row of every window). The headline is the detector
as shipped (its own trip level, the same for every profile); as in NAB's "optimize" step,
the table also gives each profile's best trip level over the corpus from a small grid.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from alerts.baseline import AdaptiveBaseline

PROFILES: dict[str, tuple[float, float, float]] = {  # (A_TP, A_FN, A_FP) as positive weights
    "standard": (1.0, 1.0, 0.11),
    "reward_low_FP_rate": (1.0, 1.0, 0.22),
    "reward_low_FN_rate": (1.0, 2.0, 0.11),
}
TRIPS = (4.0, 5.0, 6.0, 7.0, 8.0)  # NAB's optimize step: each profile's best of these


PROTOCOL = """\
Detector: `alerts/baseline.py` (AdaptiveBaseline with its default arguments), streamed row
by row, the same class the alert core runs per room temperature sensor. It scores each
value by two departures, each in standard deviations of its own history: the level (the
distance from an exponentially weighted mean) and the step (the change since the previous
value); an event is a score of at least its trip level, and for 200 samples after one only
a higher score is reported. A level three deviations off is not learned until it has
lasted that long, so a slow drift (a room cooling after its heating failed) stays
unusual.

Protocol: the folder holds NAB's development split; the realKnownCause group (7 series)
is kept back for an independent check and is not here. The detector's design and its
defaults were chosen on this split: about 160 settings were tried, each trip level counted
(a left matrix profile, likelihood and z-score post-processing, half-lives, warm-up,
suppression, clipped and held learning, trip levels),
the best reaching 53.9 (standard) with a left matrix profile that needs a history of
values per series, too heavy for one per room sensor. The shipped defaults scored 50.3
before the hold on unusual levels was added for rooms, 49.1 after. These figures are
therefore development-split figures, likely optimistic; the held-back group has not been
run. The detector that stood here before (a likelihood over one z-score) scored 33.4."""


def scaled_sigmoid(position: float) -> float:
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


class Series(NamedTuple):
    name: str
    scores: np.ndarray
    windows: list[tuple[int, int]]  # row index ranges, inclusive
    in_window_value: np.ndarray  # scaled sigmoid for a TP at each row (nan outside)
    outside_value: np.ndarray  # scaled sigmoid (<= 0) for an FP at each row
    probation: int


def scores(values: list[float], trip: float) -> np.ndarray:
    """The detector's reported score for each value, streamed in order."""
    detector = AdaptiveBaseline(trip=trip)
    return np.fromiter((detector.update(v) for v in values), float, len(values))


def _series(folder: Path, name: str, spans: list[list[str]]) -> tuple[Series, list[float]]:
    with (folder / "data" / name).open() as f:
        rows = list(csv.DictReader(f))
    stamps = [r["timestamp"] for r in rows]
    values = [float(r["value"]) for r in rows]
    n = len(rows)
    windows = []
    for start, end in spans:
        s = start[:19]
        e = end[:19]
        idx = [i for i, t in enumerate(stamps) if s <= t <= e]
        if idx:
            windows.append((idx[0], idx[-1]))
    inside = np.full(n, np.nan)
    outside = np.full(n, -1.0)
    for ws, we in windows:
        length = we - ws + 1
        for i in range(ws, we + 1):
            inside[i] = scaled_sigmoid(-(we - i + 1) / length)
    for k, (ws, we) in enumerate(windows):
        length = we - ws + 1
        stop = windows[k + 1][0] if k + 1 < len(windows) else n
        for i in range(we + 1, stop):
            outside[i] = scaled_sigmoid(abs(we - i) / length)
    probation = int(min(math.floor(0.15 * n), 0.15 * 5000))
    return Series(name, np.zeros(n), windows, inside, outside, probation), values


def _raw(series: Series, threshold: float, weights: tuple[float, float, float]) -> float:
    tp_w, fn_w, fp_w = weights
    hit = series.scores >= threshold
    hit[:series.probation] = False
    total = 0.0
    covered = np.zeros(len(hit), dtype=bool)
    for ws, we in series.windows:
        covered[ws:we + 1] = True
        found = np.flatnonzero(hit[ws:we + 1])
        total += tp_w * series.in_window_value[ws + found[0]] if len(found) else -fn_w
    total += fp_w * float(series.outside_value[hit & ~covered].sum())
    return total


def run(folder: Path, limit: int | None = None) -> dict[str, Any]:
    """Score every series present (the first ``limit`` only, for a quick run)."""
    spans = json.loads((folder / "labels" / "combined_windows.json").read_text())
    names = [name for name in sorted(spans) if (folder / "data" / name).exists()]
    loaded = [_series(folder, name, spans[name]) for name in names[:limit]]
    by_trip = {trip: [s._replace(scores=scores(values, trip)) for s, values in loaded]
               for trip in TRIPS}
    shipped = AdaptiveBaseline().trip
    results: dict[str, Any] = {}
    for profile in PROFILES:
        best = max((normalised(by_trip[t], t, profile), t) for t in TRIPS)
        results[profile] = {"score": round(normalised(by_trip[shipped], shipped, profile), 1),
                            "best": round(best[0], 1), "best_trip": best[1]}
    return _report([s for s, _ in loaded], results, shipped)


def normalised(series: list[Series], threshold: float, profile: str) -> float:
    """One profile's normalised score of ``series`` at ``threshold``."""
    tp_w, fn_w, _ = weights = PROFILES[profile]
    n_windows = sum(len(s.windows) for s in series)
    null = -fn_w * n_windows
    perfect = tp_w * scaled_sigmoid(-1.0) * n_windows
    return 100 * (sum(_raw(s, threshold, weights) for s in series) - null) / (perfect - null)


def _report(series: list[Series], results: dict[str, Any], shipped: float) -> dict[str, Any]:
    summary = {"nab_standard": results["standard"]["score"],
               "nab_low_fp": results["reward_low_FP_rate"]["score"],
               "nab_low_fn": results["reward_low_FN_rate"]["score"]}
    table = "\n".join([
        f"Series: {len(series)} of the NAB corpus present here "
        f"({sum(len(s.windows) for s in series)} anomaly windows).",
        "",
        f"| profile | as shipped (trip {shipped:g}) | best trip of "
        f"{', '.join(f'{t:g}' for t in TRIPS)} | its score |",
        "|---|---|---|---|",
        *(f"| {p} | {r['score']} | {r['best_trip']:g} | {r['best']} |"
          for p, r in results.items()),
        "",
        "Published, full corpus, standard profile: ARTime 74.9, Numenta HTM 70.5, CAD OSE "
        "69.9, KNN CAD 58.0, Windowed Gaussian 39.6, random 11.0. Target here: >= 70.",
    ])
    return {"method": (__doc__ or "").strip() + "\n\n" + PROTOCOL,
            "table": table, "summary": summary}
