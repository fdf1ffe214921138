"""Room temperature against the room's own normal: a heating that failed in winter, a
window left open, a room overheating. For an elder who feels the cold less than others,
a cold room is a risk before it is a discomfort.

One ``AdaptiveBaseline`` per room sensor (a handful of floats each), fed the sensor's
temperature in the order the device took it. Zigbee contacts report their temperature
with each state change and a periodic check-in, so the stream is irregular: a value after
``gap_ms`` without one is judged by its level only. An event raises
``ROOM_TEMPERATURE_ANOMALY`` for the resident of the room; it stays open until someone at
the desk resolves it (a cold room does not fix itself, and the baseline slowly takes a
lasting change for the new normal).
"""

from __future__ import annotations

from alerts.baseline import AdaptiveBaseline
from alerts.conditions import Condition, Signal
from telemetry.kinds import Kind
from telemetry.reading import Reading

RESOLUTION_C = 0.5  # the coarsest room sensors we know report half or whole degrees
MIN_CHANGE_C = 2.0  # a smaller departure from the room's normal is never an alert
GAP_MS = 3_600_000


class _Sensor:
    __slots__ = ("baseline", "last_ms")

    def __init__(self, baseline: AdaptiveBaseline) -> None:
        self.baseline = baseline
        self.last_ms = -1


class RoomTemperature:
    """Every room temperature sensor (one instance for all of them)."""

    def __init__(self, *, gap_ms: int = GAP_MS) -> None:
        self.gap_ms = gap_ms
        self._sensors: dict[tuple[str, str], _Sensor] = {}

    def __len__(self) -> int:
        return len(self._sensors)

    def observe(self, reading: Reading) -> list[Signal]:
        if reading.kind is not Kind.ROOM_TEMPERATURE or not reading.resident_id:
            return []
        key = (reading.gateway_id, reading.device_id)
        sensor = self._sensors.get(key)
        if sensor is None:
            sensor = self._sensors[key] = _Sensor(AdaptiveBaseline(
                resolution=RESOLUTION_C, min_change=MIN_CHANGE_C))
        t = reading.device_time_ms
        if t <= sensor.last_ms:
            return []  # a repeat or out of order: the baseline takes each moment once
        gap = sensor.last_ms >= 0 and t - sensor.last_ms > self.gap_ms
        sensor.last_ms = t
        score = sensor.baseline.update(reading.value, gap=gap)
        if score < sensor.baseline.trip:
            return []
        return [Signal(Condition.ROOM_TEMPERATURE_ANOMALY, reading.resident_id, True, t,
                       reading.site_id, reading.gateway_id,
                       f"{reading.value:.1f} °C, {score:.0f} standard deviations from "
                       f"this room's normal", reading.device_id)]

    def tick(self, now_ms: int) -> list[Signal]:
        return []
