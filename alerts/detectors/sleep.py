"""A collapse in bed: a sleeper is not inactive, but a sleeper who stops breathing is the
worst case of all. What a bed mat or a vitals radar sends decides it:

* In bed with breathing or a heart rate seen is sleep, however long it lasts.
* In bed, the radar having seen breathing in this stay, and no breathing or heart rate
  reading from it for ``no_vitals_s``: an alarm at once (``NO_VITAL_SIGNS``, critical, for
  a person to resolve), ended (not resolved) by the next reading of either or by leaving
  the bed.

"In bed" is the bed mat's word where the resident has one (a radar also sees someone
sitting across the room, out of its breathing range); without a mat, the radar's presence.
A radar reported offline says nothing: the stay is unknown until it reads again, never an
alarm. A gateway offline hides the alarm (``alerts.pipeline.inhibit``): nothing reached the
centre, which is not the same as no breathing. For the same reason the silence is measured
up to what the centre has heard (``heard``: the newest reading of anyone), not up to the
clock: while its intake stalls (a store outage, a backlog, the end of a simulation) every
sleeper's breathing would seem to stop at once.
"""

from __future__ import annotations

from collections.abc import Callable

from alerts.detectors.base import Timer
from alerts.model import Condition, Signal
from telemetry.kinds import Kind
from telemetry.reading import Reading

VITALS = frozenset({Kind.RESPIRATION_RATE, Kind.HEART_RATE})
NO_VITALS_S = 180.0  # the shipped default (``[alerts] no_vital_signs_s``)
HEARD_SLACK_MS = 30_000  # how far past the newest reading heard the clock may count


class BedVitalsRule:
    """One resident's bed: mat, vitals radar."""

    kinds = frozenset({Kind.BED_OCCUPANCY, Kind.PRESENCE, Kind.AVAILABILITY, *VITALS})
    timer = Timer.FAST

    def __init__(self, resident_id: str, no_vitals_s: float = NO_VITALS_S,
                 heard: Callable[[], int] | None = None) -> None:
        self.resident_id = resident_id
        self._heard = heard  # None: the clock alone (a test of the rule by itself)
        self.no_vitals_ms = int(no_vitals_s * 1000)
        self._radars: set[str] = set()  # devices that sent both presence and vitals
        self._presence: dict[str, bool] = {}
        self._mat: bool | None = None  # None: no mat has spoken
        self._in_bed = False
        self._seen: Reading | None = None  # the radar's last vital reading in this stay
        self._alarm: Reading | None = None  # the reading the alarm was raised after

    @property
    def armed(self) -> bool:
        return self._in_bed and self._seen is not None and self._alarm is None

    def _bed(self) -> bool:
        if self._mat is not None:
            return self._mat
        return any(self._presence.get(d, False) for d in self._radars)

    def observe(self, reading: Reading) -> list[Signal]:
        kind, device = reading.kind, reading.device_id
        if kind in VITALS:
            if device in self._presence and device not in self._radars:
                self._radars.add(device)  # a vitals radar: its presence may be the bed
                self._in_bed = self._bed()
            if not self._in_bed or device not in self._radars:
                return []
            self._seen = reading
            return self._ended(reading, "breathing seen again")
        if kind is Kind.AVAILABILITY:
            if reading.value <= 0 and self._seen is not None \
                    and self._seen.device_id == device:
                self._seen = None  # the radar is gone: unknown, not breathless
            return []
        if kind is Kind.BED_OCCUPANCY:
            self._mat = reading.value > 0
        elif kind is Kind.PRESENCE:
            self._presence[device] = reading.value > 0
        was, self._in_bed = self._in_bed, self._bed()
        if was and not self._in_bed:
            self._seen = None
            return self._ended(reading, "out of bed")
        return []

    def _ended(self, reading: Reading, why: str) -> list[Signal]:
        if self._alarm is None:
            return []
        self._alarm = None
        return [Signal(Condition.NO_VITAL_SIGNS, self.resident_id, False,
                       reading.device_time_ms, reading.site_id, reading.gateway_id, why,
                       reading.device_id)]

    def tick(self, now_ms: int) -> list[Signal]:
        if self._heard is not None:
            now_ms = min(now_ms, self._heard() + HEARD_SLACK_MS)
        seen = self._seen
        if not self.armed or seen is None or now_ms - seen.device_time_ms < self.no_vitals_ms:
            return []
        self._alarm = seen
        return [Signal(Condition.NO_VITAL_SIGNS, self.resident_id, True, now_ms, seen.site_id,
                       seen.gateway_id, f"in bed, no breathing or heart rate for "
                       f"{(now_ms - seen.device_time_ms) // 1000} s", seen.device_id)]
