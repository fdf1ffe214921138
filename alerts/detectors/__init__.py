"""Detectors: one streaming interface for rules and learned models alike.

Every detector keeps the state of one subject (a resident, a device, a gateway), takes
readings with ``observe`` and the passing of time with ``tick``, and returns the
``Signal``s of conditions that began or ended. Neither call reads a clock or does I/O.
"""

from __future__ import annotations

from typing import Protocol

from alerts.conditions import Signal
from telemetry.reading import Reading


class Detector(Protocol):
    def observe(self, reading: Reading) -> list[Signal]:
        """Take one reading of this detector's subject; return what began or ended."""
        ...

    def tick(self, now_ms: int) -> list[Signal]:
        """Let time pass to ``now_ms``; return what began or ended meanwhile."""
        ...
