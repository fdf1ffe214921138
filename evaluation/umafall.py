"""Read the UMAFall subset (see its README): trials and their accelerometer traces."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import NamedTuple

import numpy as np

POSITIONS = ("chest", "waist", "wrist")


class Trial(NamedTuple):
    trial_id: int
    subject: int
    is_fall: bool
    activity: str
    t_ms: np.ndarray  # (n,)
    xyz: np.ndarray  # (n, 3) in g


def load(folder: Path, position: str) -> list[Trial]:
    """Every trial with samples at ``position``, in trial order."""
    meta: dict[int, tuple[int, bool, str]] = {}
    with (folder / "trials.csv").open() as f:
        for row in csv.DictReader(f):
            meta[int(row["trial_id"])] = (int(row["subject"]), row["is_fall"] == "1",
                                          row["activity"])
    with gzip.open(folder / f"umafall_acc_{position}.csv.gz", "rt") as f:
        data = np.loadtxt(f, delimiter=",", skiprows=1)
    trials = []
    ids = data[:, 0].astype(np.int64)
    bounds = np.flatnonzero(np.diff(ids)) + 1
    for chunk in np.split(data, bounds):
        trial_id = int(chunk[0, 0])
        subject, is_fall, activity = meta[trial_id]
        order = np.argsort(chunk[:, 2], kind="stable")  # by sample number
        chunk = chunk[order]
        trials.append(Trial(trial_id, subject, is_fall, activity,
                            chunk[:, 1].astype(np.int64), chunk[:, 3:6].copy()))
    trials.sort(key=lambda t: t.trial_id)
    return trials
