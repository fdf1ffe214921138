"""Time sources. Logic takes a ``Clock``; tests pass a ``FakeClock`` and move it."""

from __future__ import annotations

import threading
import time
from typing import Protocol

# Durations in milliseconds, the unit every timestamp of the project is in.
SECOND_MS = 1000
MIN_MS = 60 * SECOND_MS
HOUR_MS = 60 * MIN_MS
DAY_MS = 24 * HOUR_MS


class Clock(Protocol):
    """Wall time in UTC milliseconds and a monotonic reading in seconds."""

    def now_ms(self) -> int: ...

    def monotonic_s(self) -> float: ...


class SystemClock:
    """The real clocks of this machine."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_s(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to; thread-safe."""

    def __init__(self, start_ms: int = 1_767_225_600_000) -> None:
        self._lock = threading.Lock()
        self._now_ms = start_ms
        self._mono_s = 0.0

    def now_ms(self) -> int:
        with self._lock:
            return self._now_ms

    def monotonic_s(self) -> float:
        with self._lock:
            return self._mono_s

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("a clock does not move backwards")
        with self._lock:
            self._mono_s += seconds
            self._now_ms += round(seconds * 1000)


class ScaledClock:
    """Simulated time running ``speed`` times faster than the real clock from ``start_ms``.

    Used when a whole system (simulator, edge, centre) runs on accelerated time.
    """

    def __init__(self, start_ms: int, speed: float, base: Clock | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._base = base or SystemClock()
        self._start_ms = start_ms
        self._speed = speed
        self._origin_s = self._base.monotonic_s()

    @property
    def speed(self) -> float:
        return self._speed

    def now_ms(self) -> int:
        return self._start_ms + round(self.monotonic_s() * 1000)

    def monotonic_s(self) -> float:
        return (self._base.monotonic_s() - self._origin_s) * self._speed
