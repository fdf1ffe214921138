"""Inactivity through the detector interface (the learned routine lives in
``alerts.inactivity``): an alert when the silence outlasts the resident's own usual, cleared
by the next sign of life."""

from __future__ import annotations

from alerts.conditions import Condition, Signal
from alerts.inactivity import Event, InactivityDetector
from telemetry.kinds import Kind
from telemetry.reading import Reading

ACTIVITY_KINDS = frozenset({Kind.MOTION, Kind.DOOR, Kind.BED_OCCUPANCY, Kind.SEAT_OCCUPANCY,
                            Kind.PRESENCE, Kind.APPLIANCE})


class InactivityRule:
    def __init__(self, resident_id: str, site_id: str, gateway_id: str, start_ms: int, *,
                 main_door: str, utc_offset_ms: int) -> None:
        self.resident_id = resident_id
        self._where = (site_id, gateway_id)
        self._detector = InactivityDetector(resident_id, start_ms, main_door=main_door,
                                            utc_offset_ms=utc_offset_ms)
        self._open = False

    def observe(self, reading: Reading) -> list[Signal]:
        if reading.kind not in ACTIVITY_KINDS:
            return []
        self._detector.observe(Event(reading.device_time_ms, reading.device_id,
                                     reading.kind, reading.value))
        if self._open and reading.value > 0:
            self._open = False
            return [Signal(Condition.INACTIVITY, self.resident_id, False,
                           reading.device_time_ms, *self._where,
                           f"activity again ({reading.kind.value})", reading.device_id)]
        return []

    def tick(self, now_ms: int) -> list[Signal]:
        alert = self._detector.check(now_ms)
        if alert is None:
            return []
        self._open = True
        minutes = (now_ms - alert.silent_since_ms) / 60_000
        return [Signal(Condition.INACTIVITY, self.resident_id, True, now_ms, *self._where,
                       f"no activity for {minutes:.0f} min ({alert.context.value})")]
