"""The streaming fall detector: feed accelerometer samples, get alerts ~2 s after impacts."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from edge_agent.falls.features import HZ, POST, PRE, magnitude, window_features
from edge_agent.falls.model import Scorer

REFRACTORY_S = 10.0


class FallAlert(NamedTuple):
    impact_ms: int
    alert_ms: int
    score: float
    possible: bool = False  # the lower tier: ask the resident first


class FallDetector:
    """Keeps the last few seconds of samples; decides on each candidate once its post-impact
    window is complete. One fall alert per ``REFRACTORY_S`` at most, and one possible fall
    (the scorer's ``possible_threshold`` tier), which never holds back a fall after it."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self._possible_at = scorer.possible_threshold
        self._last_possible_ms = -(10**15)
        self._keep = PRE + POST + int(HZ) + 1
        self._xyz = np.zeros((0, 3))
        self._t = np.zeros(0, dtype=np.int64)
        self._last_alert_ms = -(10**15)

    def feed(self, t_ms: np.ndarray, xyz: np.ndarray) -> list[FallAlert]:
        """Add samples (times in ms, shape (n,) and (n, 3)); return alerts they complete."""
        self._xyz = np.concatenate([self._xyz, xyz])
        self._t = np.concatenate([self._t, t_ms])
        mag = magnitude(self._xyz)
        alerts: list[FallAlert] = []
        n = len(mag)
        half = int(HZ)
        # The candidates whose window has just become complete: peaks at n-1-POST-k for the
        # new samples k.
        first = max(PRE, n - len(t_ms) - POST)
        for i in range(first, n - POST):
            if mag[i] <= self.scorer.floor_g:
                continue
            lo, hi = max(0, i - half), min(n, i + half + 1)
            if mag[i] < mag[lo:hi].max():
                continue
            features = window_features(self._xyz, mag, i)
            alert_ms = int(self._t[i + POST])
            if alert_ms - self._last_alert_ms <= REFRACTORY_S * 1000:
                continue
            if self.scorer.is_fall(features):
                self._last_alert_ms = alert_ms
                alerts.append(FallAlert(int(self._t[i]), alert_ms,
                                        self.scorer.score(features)))
            elif self._possible_at is not None \
                    and alert_ms - self._last_possible_ms > REFRACTORY_S * 1000:
                score = self.scorer.score(features)
                if score >= self._possible_at:
                    self._last_possible_ms = alert_ms
                    alerts.append(FallAlert(int(self._t[i]), alert_ms, score, True))
        if n > self._keep:
            self._xyz = self._xyz[-self._keep:]
            self._t = self._t[-self._keep:]
        return alerts
