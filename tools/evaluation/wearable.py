"""One wearable accelerometer trial, whichever data set it comes from, at the detector's rate.

UMAFall records at about 20 Hz, SisFall (as stored here) at 50 Hz; the edge detector's
features are defined at ``edge_agent.falls.features.HZ`` (20 Hz), so every trace is brought
to that rate before it is scored or trained on.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.signal import resample_poly

from edge_agent.falls.features import HZ

ELDERLY_AGE = 60  # a subject this old or older counts among the elders


class Trial(NamedTuple):
    trial_id: str  # unique across data sets, e.g. "uma-0" or "F05_SA01_R04"
    subject: str  # unique across data sets, e.g. "U01" or "SA01"
    is_fall: bool
    activity: str
    t_ms: np.ndarray  # (n,)
    xyz: np.ndarray  # (n, 3) in g
    elderly: bool = False
    source: str = ""


def to_detector_rate(xyz: np.ndarray, hz: int) -> tuple[np.ndarray, np.ndarray]:
    """Resample a regular ``hz`` trace to the detector's rate (polyphase, anti-aliased);
    returns the new sample times (ms from the first sample) and values."""
    target = int(HZ)
    g = int(np.gcd(target, hz))
    out = resample_poly(xyz, target // g, hz // g, axis=0, padtype="line")
    t_ms = np.arange(len(out), dtype=np.int64) * int(1000 / target)
    return t_ms, np.ascontiguousarray(out)
