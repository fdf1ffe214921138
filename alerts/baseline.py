"""Adaptive baselines: how far a signal strays from its own recent normal, as a likelihood.

Streaming and per series (a resident's heart rate, a room's temperature): ``learn_one`` /
``score_one`` like every detector. The raw score is the distance of a value from an
exponentially weighted mean in units of the weighted standard deviation; the anomaly score
is the likelihood that the recent average raw score is unusual given the longer history
of raw scores (a Gaussian tail), so a sustained departure scores near 1 while a single
noisy value does not. Constructor arguments are kept as given; runtime state is separate.
"""

from __future__ import annotations

import math
from collections import deque


class _Ewm:
    __slots__ = ("alpha", "mean", "n", "var")

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.mean = 0.0
        self.var = 0.0
        self.n = 0

    def update(self, x: float) -> None:
        self.n += 1
        if self.n == 1:
            self.mean = x
            return
        delta = x - self.mean
        self.mean += self.alpha * delta
        self.var = (1 - self.alpha) * (self.var + self.alpha * delta * delta)


class AdaptiveBaseline:
    """Anomaly likelihood of a stream against its own baseline.

    Args:
        half_life: samples for the baseline's weight to halve.
        recent: samples averaged for the "recent" raw score.
        history: samples of raw scores the recent average is compared with.
        warmup: samples before any score above 0.5 is given.
        quiet: samples after a likelihood of at least 0.99 during which only a higher one
            is reported (an ongoing departure is one event, not one per sample).
    """

    def __init__(self, half_life: int = 300, recent: int = 10, history: int = 1000,
                 warmup: int = 150, quiet: int = 100) -> None:
        self.half_life = half_life
        self.recent = recent
        self.history = history
        self.warmup = warmup
        self.quiet = quiet
        self._since_high = quiet
        self._high = 0.0
        self._value = _Ewm(1 - 0.5 ** (1 / half_life))
        self._raw: deque[float] = deque(maxlen=history)
        self._raw_sum = 0.0
        self._raw_sq = 0.0
        self._recent: deque[float] = deque(maxlen=recent)

    def _raw_score(self, x: float) -> float:
        if self._value.n < 2:
            return 0.0
        std = math.sqrt(self._value.var) + 1e-9 * (abs(self._value.mean) + 1.0)
        return abs(x - self._value.mean) / std

    def score_one(self, x: float) -> float:
        """The anomaly likelihood of ``x`` in [0, 1], before learning it."""
        n = len(self._raw)
        if self._value.n < self.warmup or n < 2:
            return 0.5
        raw = self._raw_score(x)
        window = [*list(self._recent)[1:], raw] if self._recent else [raw]
        recent = sum(window) / len(window)
        mean = self._raw_sum / n
        std = math.sqrt(max(self._raw_sq / n - mean * mean, 1e-12))
        z = (recent - mean) / std
        likelihood = 1.0 - 0.5 * math.erfc(z / math.sqrt(2))
        if self._since_high < self.quiet and likelihood <= self._high:
            return 0.5  # still the same event
        return likelihood

    def learn_one(self, x: float, score: float | None = None) -> None:
        """Learn ``x``; pass the score ``score_one`` gave it so events are counted once."""
        if score is not None and score >= 0.99:
            self._since_high = 0
            self._high = max(score, self._high if self._since_high < self.quiet else 0.0)
        else:
            self._since_high += 1
        raw = self._raw_score(x)
        if len(self._raw) == self._raw.maxlen:
            old = self._raw[0]
            self._raw_sum -= old
            self._raw_sq -= old * old
        self._raw.append(raw)
        self._raw_sum += raw
        self._raw_sq += raw * raw
        self._recent.append(raw)
        self._value.update(x)
