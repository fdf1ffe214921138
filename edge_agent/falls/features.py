"""Window features around an impact candidate in a 3-axis accelerometer stream (in g).

A candidate is a local maximum of the acceleration magnitude above a floor; its features
look one second before it (free fall), at the impact itself, and two seconds after it
(lying still, and changed orientation), and at how far the trunk leaned from upright
before and after it (a fall starts upright and ends lying; turning over in bed starts
lying). They need ``POST`` samples after the peak, which
is the detector's built-in delay.
"""

from __future__ import annotations

import numpy as np

HZ = 20.0
PRE = 40  # samples before the peak that the features use (2 s)
POST = 40  # samples after the peak (2 s): the alert comes this long after the impact
# What the accelerometer reads (unit vector) when its wearer stands upright: the frame
# the detector's device streams in (SisFall's waist device; other devices are turned into
# it by their adapter or loader, as they are resampled to ``HZ``). On a wrist it means
# nothing; at the waist or chest it gives the trunk's tilt.
UPRIGHT = np.array([0.0, -1.0, 0.0])
NAMES = (
    "peak_g", "pre_min_g", "pre_mean_g", "post_mean_g", "post_std_g", "tilt_deg",
    "impact_ptp_g", "impact_jerk_g", "post_max_g", "pre_lean_deg", "post_lean_deg",
)


def magnitude(xyz: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.sqrt((xyz * xyz).sum(axis=1))
    return out


def candidates(mag: np.ndarray, floor_g: float) -> np.ndarray:
    """Indices of local maxima above ``floor_g`` (within +-1 s) that have full windows."""
    n = len(mag)
    idx = []
    half = int(HZ)
    for i in np.flatnonzero(mag > floor_g):
        if i < PRE or i + POST >= n:
            continue
        lo, hi = max(0, i - half), min(n, i + half + 1)
        if mag[i] >= mag[lo:hi].max():
            idx.append(i)
    return np.asarray(idx, dtype=np.int64)


def window_features(xyz: np.ndarray, mag: np.ndarray, i: int) -> np.ndarray:
    """The features (see ``NAMES``) of the candidate at sample ``i``."""
    pre = mag[i - PRE // 2:i]
    post = mag[i + POST // 2:i + POST]
    before = xyz[i - PRE:i - PRE // 2].mean(axis=0)
    after = xyz[i + POST // 2:i + POST].mean(axis=0)
    impact = mag[i - 5:i + 6]
    return np.array([
        mag[i], pre.min(), pre.mean(), post.mean(), post.std(), _angle(before, after),
        float(np.ptp(impact)), float(np.abs(np.diff(impact)).sum()),
        float(mag[i + 5:i + POST].max()), _angle(before, UPRIGHT), _angle(after, UPRIGHT),
    ])


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """Degrees between two vectors."""
    cos = float(a @ b) / (float(np.linalg.norm(a) * np.linalg.norm(b)) + 1e-9)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
