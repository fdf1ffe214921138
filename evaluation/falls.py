"""Fall detection on UMAFall: leave-one-subject-out, per sensor position.

Protocol: for each subject, the detector is fitted on the other subjects only (the rule's
thresholds by a grid search, the learned model's weights and its decision threshold by an
inner cross-validation grouped by subject), then run as a stream over the held-out
subject's trials. Nothing is tuned on the labels of the subject being scored.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GroupKFold

from edge_agent.falls.detector import FallDetector
from edge_agent.falls.features import NAMES, candidates, magnitude, window_features
from edge_agent.falls.model import ForestModel, Scorer, ThresholdRule, Tree
from evaluation.umafall import Trial

FLOOR_G = 1.5  # candidates are peaks above this
MATCH_MS = 3000  # an alert within this of a fall trial's largest peak detects it
TARGET_SPECIFICITY = 0.98  # what the fitted thresholds aim for on the training subjects


class Candidates(NamedTuple):
    features: np.ndarray  # (m, k)
    label: np.ndarray  # 1 impact of a fall, 0 ADL, -1 other peaks in a fall trial
    trial: np.ndarray  # index into the trial list


def candidate_table(trials: Sequence[Trial]) -> Candidates:
    rows, labels, owners = [], [], []
    for n, trial in enumerate(trials):
        mag = magnitude(trial.xyz)
        peak = int(mag.argmax())
        for i in candidates(mag, FLOOR_G):
            rows.append(window_features(trial.xyz, mag, int(i)))
            if not trial.is_fall:
                labels.append(0)
            else:
                labels.append(1 if abs(int(i) - peak) <= 20 else -1)
            owners.append(n)
    k = len(NAMES)
    return Candidates(np.asarray(rows).reshape(-1, k), np.asarray(labels, dtype=np.int64),
                      np.asarray(owners, dtype=np.int64))


def _trial_flags(scores: np.ndarray, table: Candidates, n_trials: int,
                 threshold: float) -> np.ndarray:
    """Per trial: does any candidate reach ``threshold``?"""
    flags = np.zeros(n_trials, dtype=bool)
    hit = scores >= threshold
    flags[table.trial[hit]] = True
    return flags


def _pick_threshold(scores: np.ndarray, table: Candidates, trials: Sequence[Trial]) -> float:
    """The lowest threshold whose ADL trial specificity on these trials is on target."""
    adl = np.array([not t.is_fall for t in trials])
    for threshold in np.unique(np.concatenate([scores, [np.inf]])):
        flags = _trial_flags(scores, table, len(trials), float(threshold))
        if 1.0 - flags[adl].mean() >= TARGET_SPECIFICITY:
            return float(threshold)
    return float("inf")


FOREST_TREES = 100
FOREST_DEPTH = 5


def fit_forest(trials: Sequence[Trial], position: str = "") -> ForestModel:
    """A random forest on the candidates of ``trials``; its decision threshold comes from
    out-of-fold scores (grouped by subject) on these same training trials."""
    table = candidate_table(trials)
    use = table.label >= 0
    x, y = table.features[use], table.label[use]
    groups = np.array([trials[i].subject for i in table.trial[use]])
    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=min(4, len(set(groups)))).split(x, y, groups):
        oof[test] = _forest(x[train], y[train]).predict_proba(x[test])[:, 1]
    scores = np.full(len(table.label), -np.inf)
    scores[use] = oof
    threshold = _pick_threshold(scores, table, trials)
    return export(_forest(x, y), threshold, position)


def _forest(x: np.ndarray, y: np.ndarray) -> RandomForestClassifier:
    forest = RandomForestClassifier(n_estimators=FOREST_TREES, max_depth=FOREST_DEPTH,
                                    class_weight="balanced", random_state=0, n_jobs=1)
    return forest.fit(x, y)


def export(forest: RandomForestClassifier, threshold: float, position: str) -> ForestModel:
    """The fitted forest as plain arrays (no pickle)."""
    trees = []
    for estimator in forest.estimators_:
        t = estimator.tree_
        counts = t.value[:, 0, :]
        p_fall = counts[:, 1] / counts.sum(axis=1)
        trees.append(Tree(feature=t.feature.tolist(),
                          threshold=[round(float(v), 6) for v in t.threshold],
                          left=t.children_left.tolist(), right=t.children_right.tolist(),
                          value=[round(float(v), 6) for v in p_fall]))
    return ForestModel(features=list(NAMES), trees=trees, threshold=threshold,
                       floor_g=FLOOR_G, position=position)


def fit_rule(trials: Sequence[Trial]) -> ThresholdRule:
    """Grid search of the rule's thresholds on these trials (specificity on target, then
    the most sensitive)."""
    table = candidate_table(trials)
    f = {name: table.features[:, i] for i, name in enumerate(NAMES)}
    falls = np.array([t.is_fall for t in trials])
    best: tuple[float, ThresholdRule] = (-1.0, ThresholdRule(9.0, 0.01, 90.0))
    for peak, still, tilt in itertools.product(np.arange(1.6, 6.01, 0.2),
                                               (0.03, 0.05, 0.08, 0.12, 0.2, 0.3, 0.5),
                                               (0.0, 15.0, 30.0, 45.0, 60.0)):
        hit = (f["peak_g"] >= peak) & (f["post_std_g"] <= still) & (f["tilt_deg"] >= tilt)
        flags = np.zeros(len(trials), dtype=bool)
        flags[table.trial[hit & (table.label != -1)]] = True
        specificity = 1.0 - flags[~falls].mean()
        sensitivity = flags[falls].mean() if falls.any() else 0.0
        if specificity >= TARGET_SPECIFICITY and sensitivity > best[0]:
            best = (sensitivity, ThresholdRule(float(peak), still, tilt, FLOOR_G))
    return best[1]


class Scores(NamedTuple):
    sensitivity: float
    specificity: float
    false_alarms_per_hour: float
    delay_ms_p50: float
    falls: int
    adls: int
    adl_hours: float
    missed_by_activity: dict[str, int]
    false_by_activity: dict[str, int]


def _stream(detector: FallDetector, t_ms: np.ndarray, xyz: np.ndarray,
            block: int = 20) -> list[int]:
    """Feed a trace in one-second blocks, as the wristband sends it; alert impact times."""
    impacts = []
    for start in range(0, len(t_ms), block):
        for alert in detector.feed(t_ms[start:start + block], xyz[start:start + block]):
            impacts.append(alert.impact_ms)
    return impacts


def evaluate(trials: Sequence[Trial], fit: Callable[[Sequence[Trial]], Scorer]) -> Scores:
    """Leave-one-subject-out scores of the detector that ``fit`` builds."""
    detected = falls = adls = clean = false_alarms = 0
    adl_ms = 0
    delays: list[int] = []
    missed: dict[str, int] = {}
    false: dict[str, int] = {}
    for subject in sorted({t.subject for t in trials}):
        train = [t for t in trials if t.subject != subject]
        test = [t for t in trials if t.subject == subject]
        scorer = fit(train)
        for trial in test:
            alerts = _stream(FallDetector(scorer), trial.t_ms, trial.xyz)
            if trial.is_fall:
                falls += 1
                peak_ms = int(trial.t_ms[int(magnitude(trial.xyz).argmax())])
                hits = [a for a in alerts if abs(a - peak_ms) <= MATCH_MS]
                if hits:
                    detected += 1
                    delays.append(_delay(trial, scorer))
                else:
                    missed[trial.activity] = missed.get(trial.activity, 0) + 1
            else:
                adls += 1
                if alerts:
                    false[trial.activity] = false.get(trial.activity, 0) + 1
                else:
                    clean += 1
        # The subject's ADL trials back to back, as one stream.
        adl_trials = [t for t in test if not t.is_fall]
        if adl_trials:
            t_ms, xyz = _back_to_back(adl_trials)
            false_alarms += len(_stream(FallDetector(scorer), t_ms, xyz))
            adl_ms += int(t_ms[-1] - t_ms[0])
    hours = adl_ms / 3_600_000
    return Scores(
        sensitivity=detected / falls if falls else 0.0,
        specificity=clean / adls if adls else 0.0,
        false_alarms_per_hour=false_alarms / hours if hours else 0.0,
        delay_ms_p50=float(np.median(delays)) if delays else float("nan"),
        falls=falls, adls=adls, adl_hours=round(hours, 2),
        missed_by_activity=missed, false_by_activity=false,
    )


def _delay(trial: Trial, scorer: Scorer) -> int:
    """From the impact peak to the alert, streaming the trial."""
    detector = FallDetector(scorer)
    peak_ms = int(trial.t_ms[int(magnitude(trial.xyz).argmax())])
    for start in range(0, len(trial.t_ms), 1):
        for alert in detector.feed(trial.t_ms[start:start + 1], trial.xyz[start:start + 1]):
            if abs(alert.impact_ms - peak_ms) <= MATCH_MS:
                return alert.alert_ms - peak_ms
    return -1


def _back_to_back(trials: Sequence[Trial]) -> tuple[np.ndarray, np.ndarray]:
    times, blocks = [], []
    offset = 0
    for trial in trials:
        t = trial.t_ms - trial.t_ms[0] + offset
        times.append(t)
        blocks.append(trial.xyz)
        offset = int(t[-1]) + 50
    return np.concatenate(times), np.concatenate(blocks)


METHOD = """Data: UMAFall development subset (13 subjects, 595 trials of 15 s at ~20 Hz, 161 falls),
accelerometer only, one sensor position at a time. Detector: the edge fall detector in
`edge_agent/falls/` streamed in one-second blocks, as the wristband/pendant sends them.
Candidates are local peaks of the acceleration magnitude above 1.5 g; each is judged 2 s
after the peak from window features (impact, free fall before, stillness and orientation
change after).

Protocol: leave one subject out. For each of the 13 subjects the detector is fitted on the
other 12 only: the threshold rule by grid search (specificity >= 0.98 on the training
trials, then the most sensitive), the random forest (100 trees, depth 5) with its
decision threshold chosen on out-of-fold scores of the training subjects (grouped 4-fold)
for the same specificity goal. The held-out subject's labels are never used to fit or tune.

Measures: sensitivity = fall trials with an alert within 3 s of the trial's largest peak;
specificity = ADL trials without any alert; false alarms per hour = alerts while the
held-out subject's ADL trials play back to back as one stream (trial joins included);
delay = alert time minus the impact peak (the detector needs 2 s after the impact)."""


def run_all(folder: Path, positions: Sequence[str] = ("chest", "waist", "wrist"),
            subjects: int | None = None) -> dict[str, Any]:
    """Score the rule and the forest at each position; ``subjects`` limits the data (CI)."""
    from evaluation import umafall

    rows: list[dict[str, Any]] = []
    for position in positions:
        trials = umafall.load(folder, position)
        if subjects is not None:
            keep = sorted({t.subject for t in trials})[:subjects]
            trials = [t for t in trials if t.subject in keep]
        for name, fit in (("threshold rule", fit_rule),
                          ("random forest", lambda tr, p=position: fit_forest(tr, p))):
            s = evaluate(trials, fit)
            rows.append({"position": position, "detector": name,
                         "sensitivity": round(s.sensitivity, 3),
                         "specificity": round(s.specificity, 3),
                         "false_alarms_per_hour": round(s.false_alarms_per_hour, 2),
                         "delay_ms_p50": s.delay_ms_p50, "falls": s.falls, "adls": s.adls,
                         "adl_hours": s.adl_hours, "missed": s.missed_by_activity,
                         "false_alarm_trials": s.false_by_activity})
    learned = [r for r in rows if r["detector"] == "random forest"]
    best = max(learned, key=lambda r: (r["sensitivity"] >= 0.95 and r["specificity"] >= 0.97,
                                       r["sensitivity"] + r["specificity"]))
    table = ["| position | detector | sensitivity | specificity | false alarms/h | "
             "delay p50 (ms) | missed falls | ADL trials with an alarm |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['position']} | {r['detector']} | {r['sensitivity']} | "
                     f"{r['specificity']} | {r['false_alarms_per_hour']} | "
                     f"{r['delay_ms_p50']:.0f} | {_fmt(r['missed'])} | "
                     f"{_fmt(r['false_alarm_trials'])} |")
    table.append("")
    table.append(f"Best position (learned): **{best['position']}**, sensitivity "
                 f"{best['sensitivity']}, specificity {best['specificity']} "
                 "(target: sensitivity >= 0.95 with specificity >= 0.97).")
    return {"method": METHOD + ("" if subjects is None else
                                f"\n\nSubset run: first {subjects} subjects only."),
            "table": "\n".join(table), "rows": rows,
            "summary": {"sensitivity": best["sensitivity"],
                        "specificity": best["specificity"],
                        "false_alarms_per_hour": best["false_alarms_per_hour"],
                        "delay_ms_p50": best["delay_ms_p50"], "position": best["position"]}}


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-"
