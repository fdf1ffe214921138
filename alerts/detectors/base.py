"""The detector contract: one streaming interface for rules and learned models alike, in
two variants.

A ``Detector`` keeps the state of one subject (a resident), takes readings with
``observe`` and the passing of time with ``tick``, and returns the ``Signal``s of
conditions that began or ended. It declares the kinds of reading it takes (the bank routes
only those to it) and its ``timer``: none, ``FAST`` (ticked every second while it says it
is ``armed``: an unconfirmed fall, a night bed exit) or ``SLOW`` (ticked every slow sweep:
inactivity).

A ``FleetDetector`` is one instance for every subject at once (vectorised, or learning
across the fleet). The bank hands it each batch of readings and calls its three timers,
each with its own lock policy: ``fast_tick`` every second and ``slow_chunks`` every slow
sweep under the readings lock (in chunks, so the caller can let urgent work in between),
and ``unlocked`` (model fitting and scoring) without it: it must touch nothing
``observe_batch`` does.

No call reads a clock or does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from alerts.model import Signal
from telemetry.kinds import Kind
from telemetry.reading import Reading

ALL_KINDS = frozenset(Kind)


class Timer(enum.Enum):
    NONE = "none"  # time alone changes nothing
    FAST = "fast"  # every second, while ``armed``
    SLOW = "slow"  # every slow sweep


@runtime_checkable
class Detector(Protocol):
    @property
    def kinds(self) -> frozenset[Kind]:
        """The readings it takes (``ALL_KINDS``: every reading)."""
        ...

    @property
    def timer(self) -> Timer: ...

    @property
    def armed(self) -> bool:
        """A ``FAST`` detector's timer is running (else the bank does not tick it)."""
        ...

    def observe(self, reading: Reading) -> list[Signal]:
        """Take one reading of this detector's subject; return what began or ended."""
        ...

    def tick(self, now_ms: int) -> list[Signal]:
        """Let time pass to ``now_ms``; return what began or ended meanwhile."""
        ...


class FleetDetector(Protocol):
    kinds: frozenset[Kind]  # the readings it takes (``ALL_KINDS``: every reading)
    batch_size: int  # 1: each batch as it comes; more: gathered until this many, or the
    # next fast tick (a vectorised update pays off on large batches)

    def observe(self, reading: Reading) -> list[Signal]:
        """Take one reading (anyone's)."""
        ...

    def tick(self, now_ms: int) -> list[Signal]:
        """All three timers at once (tests and single-threaded callers)."""
        ...

    def observe_batch(self, readings: list[Reading]) -> list[Signal]:
        """Take a batch of anyone's readings (it keeps those of its kinds)."""
        ...

    def fast_tick(self, now_ms: int) -> list[Signal]:
        """Every second, under the readings lock: cheap."""
        ...

    def slow_chunks(self, now_ms: int) -> Iterator[list[Signal]]:
        """Every slow sweep, under the readings lock, in chunks."""
        ...

    def unlocked(self, now_ms: int) -> list[Signal]:
        """Work that touches nothing ``observe_batch`` does, run without the lock."""
        ...


class FleetBase:
    """What most fleet detectors share: each reading through ``observe``, no timers."""

    kinds: frozenset[Kind] = ALL_KINDS
    batch_size = 1

    def observe(self, reading: Reading) -> list[Signal]:
        raise NotImplementedError

    def observe_batch(self, readings: list[Reading]) -> list[Signal]:
        out: list[Signal] = []
        for reading in readings:
            out += self.observe(reading)
        return out

    def tick(self, now_ms: int) -> list[Signal]:
        """All three timers at once (tests and single-threaded callers)."""
        out = self.fast_tick(now_ms)
        for chunk in self.slow_chunks(now_ms):
            out += chunk
        return out + self.unlocked(now_ms)

    def fast_tick(self, now_ms: int) -> list[Signal]:
        return []

    def slow_chunks(self, now_ms: int) -> Iterator[list[Signal]]:
        return iter(())

    def unlocked(self, now_ms: int) -> list[Signal]:
        return []
