"""Read the UMAFall subset (see its README): trials and their accelerometer traces."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np

from evaluation.wearable import ELDERLY_AGE, Trial

POSITIONS = ("chest", "waist", "wrist")
# The SensorTag at the chest and at the waist reads +1 g on x when its wearer stands
# upright (its mean while walking, every development subject); the detector's frame has
# that on -y (``features.UPRIGHT``): a quarter turn about z, (x, y, z) -> (y, -x, z).
# A wrist has no upright; its trace is kept as recorded.
TO_DETECTOR_FRAME = {"chest": np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
                     "waist": np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])}


def load(folder: Path, position: str, subjects: set[str] | None = None) -> list[Trial]:
    """Every trial with samples at ``position`` (of ``subjects`` only, if given, named as
    ``Trial.subject``: "U01"), in trial order. UMAFall's own rate is about 20 Hz, the
    detector's, so its irregular sample times are kept as recorded."""
    meta: dict[int, tuple[str, bool, str, bool]] = {}
    with (folder / "trials.csv").open() as f:
        for row in csv.DictReader(f):
            subject = f"U{int(row['subject']):02d}"
            if subjects is None or subject in subjects:
                meta[int(row["trial_id"])] = (subject, row["is_fall"] == "1",
                                              row["activity"], int(row["age"]) >= ELDERLY_AGE)
    with gzip.open(folder / f"umafall_acc_{position}.csv.gz", "rt") as f:
        data = np.loadtxt(f, delimiter=",", skiprows=1)
    trials = []
    frame = TO_DETECTOR_FRAME.get(position)
    ids = data[:, 0].astype(np.int64)
    bounds = np.flatnonzero(np.diff(ids)) + 1
    for chunk in np.split(data, bounds):
        trial_id = int(chunk[0, 0])
        if trial_id not in meta:
            continue
        subject, is_fall, activity, elderly = meta[trial_id]
        order = np.argsort(chunk[:, 2], kind="stable")  # by sample number
        chunk = chunk[order]
        xyz = chunk[:, 3:6] @ frame if frame is not None else chunk[:, 3:6].copy()
        trials.append(Trial(f"uma-{trial_id}", subject, is_fall, activity,
                            chunk[:, 1].astype(np.int64), np.ascontiguousarray(xyz),
                            elderly=elderly, source="UMAFall"))
    trials.sort(key=lambda t: int(t.trial_id.removeprefix("uma-")))
    return trials
