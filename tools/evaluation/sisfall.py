"""Read the SisFall waist subset (see its README) as trials at the detector's rate."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np

from evaluation.wearable import Trial, to_detector_rate

SOURCE_HZ = 50


def load(folder: Path, subjects: set[str] | None = None) -> list[Trial]:
    """Every trial in ``folder`` (``trials.csv`` and ``sisfall_acc_waist.csv.gz``), or only
    those of ``subjects``; any subject list in the same layout is accepted."""
    meta: dict[str, dict[str, str]] = {}
    with (folder / "trials.csv").open() as f:
        for row in csv.DictReader(f):
            if subjects is None or row["subject"] in subjects:
                meta[row["trial"]] = row
    names: list[str] = []
    values: list[tuple[float, float, float]] = []
    with gzip.open(folder / "sisfall_acc_waist.csv.gz", "rt") as f:
        reader = csv.reader(f)
        next(reader)
        for name, _t, x, y, z in reader:
            if name in meta:
                names.append(name)
                values.append((float(x), float(y), float(z)))
    xyz = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    trials = []
    start = 0
    for end in [*np.flatnonzero(np.asarray(names[1:]) != np.asarray(names[:-1])) + 1,
                len(names)]:
        if end <= start:
            continue
        row = meta[names[start]]
        t_ms, trace = to_detector_rate(xyz[start:end], SOURCE_HZ)
        trials.append(Trial(row["trial"], row["subject"], row["is_fall"] == "1",
                            f"{row['activity_code']} {row['activity']}", t_ms, trace,
                            elderly=row["age_group"] == "elderly", source="SisFall"))
        start = int(end)
    trials.sort(key=lambda t: t.trial_id)
    return trials
