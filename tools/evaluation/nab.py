"""The Numenta Anomaly Benchmark score of the alert core's band novelty detector (the one
``alerts/detectors/room.py`` runs per room temperature sensor).

Scoring follows NAB's published definition: anomaly windows from ``combined_windows.json``;
the first 15 % of each file (at most 750 rows) is a probation period whose detections are
ignored; inside a window only the earliest detection counts, weighted by the scaled
sigmoid of its position (earlier is better); a detection outside every window costs the
FP weight times the scaled sigmoid of its distance past the previous window (or the full
weight before the first window); each window without a detection costs the FN weight.
Each profile's total is normalised to 0 (the null detector, which never fires) and 100
(a detector that fires on the first row of every window). As NAB does for every detector,
each series' detector is given the file's smallest and largest value (NAB's inputMin and
inputMax) as its span and a fifth of the probation period as its quiet time (as NAB runs
CAD OSE); its events are the detections, so there is no threshold to optimise.
"""

from __future__ import annotations

import csv
import json
import math
from itertools import product
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from alerts.detectors.novelty import BANDS, STICKY, BandNovelty

PROFILES: dict[str, tuple[float, float, float]] = {  # (A_TP, A_FN, A_FP) as positive weights
    "standard": (1.0, 1.0, 0.11),
    "reward_low_FP_rate": (1.0, 1.0, 0.22),
    "reward_low_FN_rate": (1.0, 2.0, 0.11),
}
QUIET_FRACTION = 0.2  # of the probation period, as NAB runs CAD OSE
BAND_GRID = (6, 7, 8, 9, 10, 12)  # the leave-one-category-out check chooses from these
QUIET_GRID = (0.1, 0.2, 0.3)
STICKY_GRID = (0.0, 0.15, 0.3, 0.5)
EVENT = 0.5  # events are scored 1.0, everything else 0.0: any threshold between works


PROTOCOL = """\
Detector: `alerts/detectors/novelty.py` (BandNovelty with eight sticky bands), streamed row by
row, the same class the alert core runs per room temperature sensor. The span is cut
into eight equal bands; the stream leaves a band when a value passes its edge by 0.3 of
a band; a move from one row's band to the next that the series never made before is an
event, and for the quiet time after one no other event is reported. The room detector
adds a warm-up and a guard NAB runs without (an event must be 3 degrees from the room's
mean).

Protocol: the folder holds NAB's development split; the realKnownCause group (7 series)
is kept back for an independent check and is not here. The design and the eight bands
and their stickiness were chosen on this split (about 80 settings of this family tried,
after about 160 of earlier designs), so the as-shipped figure is optimistic. Two checks
say by how much. Leave one category out: for each of the five categories, the bands (6,
7, 8, 9, 10, 12), the quiet time (a tenth, a fifth or three tenths of the probation
period) and the stickiness (0, 0.15, 0.3, 0.5) are the best setting on the other four,
and that category is scored with them. No look-ahead: the span is taken from the
probation rows alone, widened by a tenth of their range each way, instead of NAB's
inputMin and inputMax from the whole file; a real sensor's configured span sits between
the two. Before this detector, the alert core's adaptive baseline (level and step
z-scores) scored 49.1 (standard), and a likelihood over one z-score 33.4; the best other
design tried, a left matrix profile, 53.9."""


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


def events(values: list[float], probation: int, bands: int = BANDS,
           quiet_fraction: float = QUIET_FRACTION, sticky: float = STICKY,
           look_ahead: bool = True) -> np.ndarray:
    """The detector's events (1.0) for each value, streamed in order. ``look_ahead``: the
    span is the file's range (NAB's inputMin and inputMax); else the probation rows'
    range, widened by a tenth of it each way."""
    if look_ahead:
        low, high = min(values), max(values)
    else:
        head = values[:max(probation, 2)]
        pad = 0.1 * (max(head) - min(head))
        low, high = min(head) - pad, max(head) + pad
    detector = BandNovelty(low, high, bands=bands, sticky=sticky,
                           quiet=int(probation * quiet_fraction))
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

    def scored(bands: int, quiet: float, sticky: float,
               look_ahead: bool = True) -> list[Series]:
        return [s._replace(scores=events(values, s.probation, bands, quiet, sticky,
                                         look_ahead)) for s, values in loaded]

    grid = {setting: scored(*setting)
            for setting in product(BAND_GRID, QUIET_GRID, STICKY_GRID)}
    as_shipped = (BANDS, QUIET_FRACTION, STICKY)
    shipped = grid[as_shipped] if as_shipped in grid else scored(*as_shipped)
    blind = scored(BANDS, QUIET_FRACTION, STICKY, look_ahead=False)
    results: dict[str, Any] = {}
    for profile in PROFILES:
        crossed = _left_out(grid, profile)
        results[profile] = {
            "score": round(normalised(shipped, EVENT, profile), 1),
            "left_out": None if crossed is None else round(crossed, 1),
            "no_look_ahead": round(normalised(blind, EVENT, profile), 1)}
    return _report(shipped, results)


def _category(series: Series) -> str:
    return series.name.split("/")[0]


def _left_out(grid: dict[tuple[int, float, float], list[Series]],
              profile: str) -> float | None:
    """Leave one category out: each category scored with the setting that does best on
    the others (None with fewer than two categories)."""
    weights = PROFILES[profile]
    any_run = next(iter(grid.values()))
    categories = sorted({_category(s) for s in any_run})
    if len(categories) < 2:
        return None
    chosen: list[Series] = []
    for category in categories:
        def others(setting: tuple[int, float, float], category: str = category) -> float:
            return sum(_raw(s, EVENT, weights) for s in grid[setting]
                       if _category(s) != category)
        best = max(grid, key=others)
        chosen += [s for s in grid[best] if _category(s) == category]
    return normalised(chosen, EVENT, profile)


def normalised(series: list[Series], threshold: float, profile: str) -> float:
    """One profile's normalised score of ``series`` at ``threshold``."""
    tp_w, fn_w, _ = weights = PROFILES[profile]
    n_windows = sum(len(s.windows) for s in series)
    null = -fn_w * n_windows
    perfect = tp_w * scaled_sigmoid(-1.0) * n_windows
    raw = sum(_raw(s, threshold, weights) for s in series)
    return float(100 * (raw - null) / (perfect - null))


def _report(series: list[Series], results: dict[str, Any]) -> dict[str, Any]:
    summary = {"nab_standard": results["standard"]["score"],
               "nab_low_fp": results["reward_low_FP_rate"]["score"],
               "nab_low_fn": results["reward_low_FN_rate"]["score"]}
    table = "\n".join([
        f"Series: {len(series)} of the NAB corpus present here "
        f"({sum(len(s.windows) for s in series)} anomaly windows).",
        "",
        f"| profile | as shipped ({BANDS} bands, sticky {STICKY:g}, quiet a fifth of "
        "probation) "
        "| leave one category out | span without look-ahead |",
        "|---|---|---|---|",
        *(f"| {p} | {r['score']} | {'n/a' if r['left_out'] is None else r['left_out']} "
          f"| {r['no_look_ahead']} |" for p, r in results.items()),
        "",
        "Published, full corpus, standard profile: ARTime 74.9, Numenta HTM 70.5, CAD OSE "
        "69.9, KNN CAD 58.0, Windowed Gaussian 39.6, random 11.0. Target here: >= 70.",
    ])
    return {"method": (__doc__ or "").strip() + "\n\n" + PROTOCOL,
            "table": table, "summary": summary}
