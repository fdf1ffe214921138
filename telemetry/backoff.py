"""The retry policy: exponential backoff with full jitter. The one place it is defined."""

from __future__ import annotations

import random


class Backoff:
    """Delays of ``initial_s * factor**n``, capped at ``max_s``, each drawn uniformly from
    [delay / 2, delay] so a fleet that lost its centre together does not return together."""

    def __init__(self, initial_s: float = 1.0, max_s: float = 60.0, factor: float = 2.0,
                 rng: random.Random | None = None) -> None:
        if initial_s <= 0 or max_s < initial_s or factor < 1:
            raise ValueError("need 0 < initial_s <= max_s and factor >= 1")
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        self._attempt += 1
        return self.delay(self._attempt - 1)

    def delay(self, attempt: int) -> float:
        """The delay after ``attempt`` earlier failures (0: the first retry), for callers
        that keep the count themselves (one notice among many)."""
        ceiling = min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """A success: start again from ``initial_s``."""
        self._attempt = 0
