"""Adaptive baselines: how far a signal strays from its own recent normal.

Streaming and per series (a room's temperature): ``update`` scores a value, then learns it.
Two departures are watched, each in standard deviations of its own history, so a noisy
series and a steady one are judged alike:

* level: the distance of the value from an exponentially weighted mean, in units of the
  weighted standard deviation (a heating failure: the room drifts away from its normal);
* step: the size of the change since the previous value (a sudden jump or drop).

The score is the larger of the two. An event is a score at or above ``trip``; for
``quiet`` samples after an event only a higher score is reported (an ongoing departure is
reported when it starts and when it grows, not once per sample). A level ``HOLD``
deviations off is not learned until it has lasted ``quiet`` samples, so a slow drift stays
unusual instead of widening its own normal. A value after a gap in the stream is judged by
its level only (a step across hours says nothing). State is a handful of floats per
series, so a centre can keep one per room sensor.
"""

from __future__ import annotations

import math

HOLD = 3.0  # a level this unusual (in its own standard deviations) is not learned at once


class _Ewm:
    """Exponentially weighted mean and variance."""

    __slots__ = ("alpha", "mean", "n", "var")

    def __init__(self, half_life: float) -> None:
        self.alpha = 1 - 0.5 ** (1 / half_life)
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

    def z(self, x: float, floor: float) -> float:
        return (x - self.mean) / max(math.sqrt(self.var), floor)


class AdaptiveBaseline:
    """Departure of a stream from its own baseline, in standard deviations.

    Args:
        half_life: samples for the value baseline's weight to halve.
        history: half-life, in samples, of the statistics each raw departure is judged by.
        warmup: samples before any score is given (0.0 until then).
        trip: the score that makes an event.
        quiet: samples after an event during which only a higher score is reported.
        resolution: the sensor's resolution in the stream's units (0: unknown); no
            standard deviation is taken as smaller, so a sensor that reports whole degrees
            does not make a one-degree step look like a rare event.
        min_change: the smallest departure, in the stream's units, that may make an
            event (0: any); a room two degrees off its normal is not news, however
            steady it was before.

    The defaults were chosen on the development split of the Numenta Anomaly Benchmark
    (see EVALUATION.md); the held-back part of the corpus is the independent check.
    """

    __slots__ = ("_floor", "_held", "_high", "_level", "_level_raw", "_prev", "_since_event",
                 "_step_raw", "half_life", "history", "min_change", "quiet", "resolution",
                 "trip", "warmup")

    def __init__(self, half_life: float = 300, history: float = 300, warmup: int = 150,
                 trip: float = 6.0, quiet: int = 200, resolution: float = 0.0,
                 min_change: float = 0.0) -> None:
        if min(half_life, history) <= 0 or warmup < 2 or quiet < 0 or trip <= 0:
            raise ValueError("half-lives and trip must be positive, warmup at least 2")
        if resolution < 0 or min_change < 0:
            raise ValueError("resolution and min_change must not be negative")
        self.half_life = half_life
        self.history = history
        self.warmup = warmup
        self.trip = trip
        self.quiet = quiet
        self.resolution = resolution
        self.min_change = min_change
        self._floor = max(resolution, 1e-9)
        self._level = _Ewm(half_life)
        self._level_raw = _Ewm(history)
        self._step_raw = _Ewm(history)
        self._prev = math.nan
        self._since_event = quiet
        self._high = 0.0
        self._held = 0

    def update(self, x: float, gap: bool = False) -> float:
        """Score ``x`` against what came before, then learn it. Returns the score (0.0
        while warming up, or while an earlier event's higher score still stands).
        ``gap``: the stream paused before ``x``, so its step is not judged."""
        level, floor = self._level, self._floor
        level_raw = (min(abs(x - level.mean) / max(math.sqrt(level.var), floor), 1e6)
                     if level.n >= 2 else 0.0)
        step = not gap and level.n > 0
        step_raw = abs(x - self._prev) if step else 0.0
        score = level_z = 0.0
        if level.n >= self.warmup:
            level_z = self._level_raw.z(level_raw, 1e-9)
            big = self.min_change
            score = max(level_z if abs(x - level.mean) >= big else 0.0,
                        self._step_raw.z(step_raw, floor) if step and step_raw >= big
                        else 0.0, 0.0)
        # while an earlier event's higher score stands, this is still the same event
        reported = 0.0 if self._since_event < self.quiet and score <= self._high else score
        if score >= self.trip:
            self._high = max(score, self._high if self._since_event < self.quiet else 0.0)
            self._since_event = 0
        else:
            self._since_event += 1
        if step:
            self._step_raw.update(step_raw)
        # A departure is not learned until it has lasted ``quiet`` samples: a room that
        # keeps cooling stays unusual instead of widening its own normal as it goes.
        self._held = self._held + 1 if level_z >= HOLD else 0
        if self._held == 0 or self._held > self.quiet:
            self._level_raw.update(level_raw)
            level.update(x)
        self._prev = x
        return reported
