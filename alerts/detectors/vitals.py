"""Vital-sign thresholds with a minimum duration and hysteresis.

A limit trips when, for ``min_duration_s`` since the value first went beyond ``trip``, most
of the samples of the last ``min_duration_s`` were beyond it; a value back past ``clear``
ends the episode. So a real bradycardia at 38 bpm whose noisy samples now and then read 40
or 41 (and a wristband and a bed sensor reporting side by side) still trips after two
minutes: requiring every sample beyond the limit missed most of those. The condition clears
only when the value comes back past ``clear`` (between the two, an open condition stays
open), so a value hovering at the limit does not flap. Defaults are for older adults at
rest; a nurse overrides them per resident in the registry (``limits`` by condition).
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from alerts.detectors.base import Timer
from alerts.errors import AlertsError
from alerts.model import Condition, Signal
from registry import VitalLimit as Limit
from telemetry.kinds import Kind
from telemetry.reading import Reading


class _Rule(NamedTuple):
    kind: Kind
    condition: Condition
    limit: Limit
    high: bool  # ``trip`` above ``clear``: a high limit


class LimitError(AlertsError, ValueError):
    """An override names no vital-sign condition, or points the wrong way."""


DEFAULT_LIMITS: dict[Condition, tuple[Kind, Limit]] = {
    Condition.HEART_RATE_HIGH: (Kind.HEART_RATE, Limit(120.0, 110.0, 120.0)),
    Condition.HEART_RATE_LOW: (Kind.HEART_RATE, Limit(40.0, 45.0, 120.0)),
    Condition.RESPIRATION_HIGH: (Kind.RESPIRATION_RATE, Limit(30.0, 26.0, 120.0)),
    Condition.RESPIRATION_LOW: (Kind.RESPIRATION_RATE, Limit(6.0, 8.0, 60.0)),
    Condition.SPO2_LOW: (Kind.SPO2, Limit(90.0, 92.0, 60.0)),
    Condition.SKIN_TEMPERATURE_HIGH: (Kind.SKIN_TEMPERATURE, Limit(38.0, 37.5, 300.0)),
}
VITAL_KINDS = frozenset(kind for kind, _ in DEFAULT_LIMITS.values())


class VitalRules:
    """Every vital-sign limit of one resident."""

    kinds = VITAL_KINDS
    timer = Timer.NONE
    armed = False

    def __init__(self, resident_id: str,
                 overrides: dict[Condition, Limit] | None = None) -> None:
        self.resident_id = resident_id
        overrides = overrides or {}
        self._rules: dict[Kind, list[_Rule]] = {}
        for condition, (kind, default) in DEFAULT_LIMITS.items():
            limit = overrides.get(condition, default)
            high = _check_direction(condition, limit)
            self._rules.setdefault(kind, []).append(_Rule(kind, condition, limit, high))
        self._beyond_since: dict[Condition, int] = {}
        # the episode's samples of the last min_duration_s: (time, beyond the trip level)
        self._window: dict[Condition, deque[tuple[int, bool]]] = {}
        self._open: set[Condition] = set()

    def observe(self, reading: Reading) -> list[Signal]:
        rules = self._rules.get(reading.kind)
        if not rules:
            return []
        out: list[Signal] = []
        value, t = reading.value, reading.device_time_ms
        for rule in rules:
            limit, condition = rule.limit, rule.condition
            beyond = value > limit.trip if rule.high else value < limit.trip
            back = value < limit.clear if rule.high else value > limit.clear
            if condition in self._open:
                if back:
                    self._open.discard(condition)
                    out.append(self._signal(condition, reading, False))
                continue
            if back or (not beyond and condition not in self._beyond_since):
                self._beyond_since.pop(condition, None)  # recovered, or nothing pending
                self._window.pop(condition, None)
                continue
            since = self._beyond_since.setdefault(condition, t)
            hold_ms = limit.min_duration_s * 1000
            window = self._window.setdefault(condition, deque())
            window.append((t, beyond))
            while window and window[0][0] < t - hold_ms:
                window.popleft()
            most = 2 * sum(b for _, b in window) >= len(window)
            if t - since >= hold_ms and most:
                self._open.add(condition)
                self._beyond_since.pop(condition, None)
                self._window.pop(condition, None)
                out.append(self._signal(condition, reading, True))
        return out

    def _signal(self, condition: Condition, r: Reading, active: bool) -> Signal:
        unit = r.unit
        detail = f"{r.kind.value} {r.value:g} {unit}"
        return Signal(condition, self.resident_id, active, r.device_time_ms, r.site_id,
                      r.gateway_id, detail, r.device_id)

    def tick(self, now_ms: int) -> list[Signal]:
        return []


def _check_direction(condition: Condition, limit: Limit) -> bool:
    """True for a high limit. Raises LimitError if ``clear`` is not on the safe side."""
    default = DEFAULT_LIMITS[condition][1]
    high = default.trip > default.clear
    if (limit.trip > limit.clear) != high or limit.trip == limit.clear:
        raise LimitError(f"{condition.value}: clear must be on the safe side of trip")
    return high


def overrides_from(limits: dict[str, Limit]) -> dict[Condition, Limit]:
    """The registry's ``limits`` by condition name. Raises LimitError."""
    out: dict[Condition, Limit] = {}
    for name, limit in limits.items():
        try:
            condition = Condition(name)
        except ValueError:
            raise LimitError(f"no vital-sign condition called {name!r}") from None
        if condition not in DEFAULT_LIMITS:
            raise LimitError(f"{name} is not a vital-sign limit")
        _check_direction(condition, limit)
        out[condition] = limit
    return out
