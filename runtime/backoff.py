"""The retry policy: exponential backoff with equal jitter, and the project's named retry
policies built on it. The one place either is defined."""

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


# The project's retry policies, by what they retry (initial and longest delay, seconds).
def reconnect() -> Backoff:
    """A gateway reconnecting to the central broker."""
    return Backoff(initial_s=1.0, max_s=60.0)


def central_reconnect() -> Backoff:
    """The central intake reconnecting to its broker (or the next node of a cluster): it
    carries every home's alarms, so it never waits long."""
    return Backoff(initial_s=1.0, max_s=2.0)  # whole seconds: paho takes no less


def store_write() -> Backoff:
    """A group commit writing again to a busy or briefly unavailable store."""
    return Backoff(initial_s=0.05, max_s=2.0)


def handoff() -> Backoff:
    """Central intake handing a failed batch to its consumers again: at most 2 s apart,
    so that a fall held while the state store switches primaries reaches the desk within
    about 2 s of the new primary answering (5 s apart, the slowest waited 14 s in all)."""
    return Backoff(initial_s=0.1, max_s=2.0)


def notice() -> Backoff:
    """A notice (SMS, webhook, e-mail) its notifier could not hand over."""
    return Backoff(initial_s=5.0, max_s=300.0)


def feed_reconnect() -> Backoff:
    """An alert node's LISTEN on the shared store, lost: the desk resyncs once it is back."""
    return Backoff(initial_s=1.0, max_s=5.0)


def spool_replay(initial_s: float = 2.0) -> Backoff:
    """Replaying readings spooled while InfluxDB was away (every ``initial_s`` while it
    answers, longer while it does not)."""
    return Backoff(initial_s=initial_s, max_s=max(initial_s, 30.0))
