"""Inactivity through the detector interface (the learned routine lives in
``alerts.detectors.inactivity_model``), in two tiers: a check for the desk when the silence
outlasts the resident's usual, an alarm when it goes far beyond any silence seen; both
cleared by the next sign of life."""

from __future__ import annotations

import msgspec

from alerts.detectors import snapshot
from alerts.detectors.base import Timer
from alerts.detectors.inactivity_model import Event, InactivityDetector, InactivityState, Tier
from alerts.model import Condition, Signal
from telemetry.kinds import Kind
from telemetry.reading import Reading

ACTIVITY_KINDS = frozenset({Kind.MOTION, Kind.DOOR, Kind.BED_OCCUPANCY, Kind.SEAT_OCCUPANCY,
                            Kind.PRESENCE, Kind.APPLIANCE})
CONDITION_OF = {Tier.CHECK: Condition.INACTIVITY_CHECK, Tier.ALARM: Condition.INACTIVITY}


class InactivityRuleState(msgspec.Struct, forbid_unknown_fields=True):
    routine: InactivityState
    open: list[Condition]  # raised and not yet ended by a sign of life


class InactivityRule:
    """Inactivity of one resident: checked every slow sweep."""

    kinds = ACTIVITY_KINDS
    timer = Timer.SLOW
    armed = False
    learned_as = "inactivity"
    learned_version = 1  # of ``InactivityRuleState``

    def __init__(self, resident_id: str, site_id: str, gateway_id: str, start_ms: int, *,
                 main_door: str, utc_offset_ms: int) -> None:
        self.resident_id = resident_id
        self._where = (site_id, gateway_id)
        self._detector = InactivityDetector(resident_id, start_ms, main_door=main_door,
                                            utc_offset_ms=utc_offset_ms)
        self._open: list[Condition] = []

    def observe(self, reading: Reading) -> list[Signal]:
        if reading.kind not in ACTIVITY_KINDS:
            return []
        taken = self._detector.observe(Event(reading.device_time_ms, reading.device_id,
                                             reading.kind, reading.value))
        if not self._open or not taken:
            return []
        ended, self._open = self._open, []
        return [Signal(condition, self.resident_id, False, reading.device_time_ms,
                       *self._where, f"activity again ({reading.kind.value})",
                       reading.device_id) for condition in ended]

    def tick(self, now_ms: int) -> list[Signal]:
        out = []
        for alert in self._detector.check(now_ms):
            condition = CONDITION_OF[alert.tier]
            self._open.append(condition)
            minutes = (now_ms - alert.silent_since_ms) / 60_000
            out.append(Signal(condition, self.resident_id, True, now_ms, *self._where,
                              f"no activity for {minutes:.0f} min ({alert.context.value})"))
        return out

    def snapshot(self) -> bytes:
        return snapshot.encode(InactivityRuleState(self._detector.state(), list(self._open)))

    def restore(self, body: bytes) -> None:
        state = snapshot.decode(body, InactivityRuleState)
        snapshot.check(set(state.open) <= set(CONDITION_OF.values()), "not an inactivity")
        self._detector.load(state.routine)
        self._open = list(state.open)
