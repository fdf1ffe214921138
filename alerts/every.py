"""A routine run at most once an interval of the caller's clock (the care sweeps, once a
minute of the alert core's timer rounds)."""

from __future__ import annotations


class Every:
    def __init__(self, interval_ms: int) -> None:
        self.interval_ms = interval_ms
        self._next_ms = 0

    def due(self, now_ms: int) -> bool:
        """Whether the routine runs now (then not again for an interval)."""
        if now_ms < self._next_ms:
            return False
        self._next_ms = now_ms + self.interval_ms
        return True
