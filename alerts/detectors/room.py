"""Room temperature against the room's own normal: a heating that failed in winter, a
window left open, a room overheating. For an elder who feels the cold less than others,
a cold room is a risk before it is a discomfort.

One ``BandNovelty`` per room sensor (a few numbers each), fed the sensor's temperature in
the order the device took it: the room span is cut into 3-degree bands, and a move
between bands this room never made before is an event when the reading is at least
``MIN_CHANGE_C`` from the room's mean of about the last day. A cold spell that ends
within a day (the heating mended) is not learned, so the next one is news again. Zigbee
contacts report their temperature with each state change and a periodic check-in, so the
stream is irregular; bands do not care how far apart readings are. An event raises
``ROOM_TEMPERATURE_ANOMALY`` for the resident of the room; it stays open until someone at
the desk resolves it (a cold room does not fix itself). What each room's sensors taught
it is kept across restarts, per resident (``snapshot_of``/``restore_of``).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from alerts.detectors import snapshot
from alerts.detectors.base import FleetBase
from alerts.detectors.novelty import BandNovelty
from alerts.model import Condition, Signal
from telemetry.kinds import Kind
from telemetry.reading import Reading

SPAN_C = (10.0, 34.0)  # rooms people live in; colder or warmer counts in the edge band
BAND_C = 3.0  # the width of a band
MIN_CHANGE_C = 3.0  # a reading this close to the room's mean is never an alert
WARMUP = 144  # a day of readings every 10 minutes only learns
HALF_LIFE = 144  # the mean is about the last day's


class _Sensor:
    __slots__ = ("bands", "last_ms", "resident_id")

    def __init__(self, resident_id: str) -> None:
        low, high = SPAN_C
        self.bands = BandNovelty(low, high, bands=round((high - low) / BAND_C), warmup=WARMUP,
                                 min_change=MIN_CHANGE_C, half_life=HALF_LIFE)
        self.last_ms = -1
        self.resident_id = resident_id


class SensorState(msgspec.Struct, array_like=True):
    gateway_id: str
    device_id: str
    last_ms: int
    bands: tuple[int, int, float, int, int, int, int]


class RoomState(msgspec.Struct, forbid_unknown_fields=True):
    sensors: list[SensorState]  # the resident's room sensors


class RoomTemperature(FleetBase):
    """Every room temperature sensor (one instance for all of them)."""

    kinds = frozenset({Kind.ROOM_TEMPERATURE})
    learned_as = "room-temperature"
    learned_version = 1  # of ``RoomState``

    def __init__(self) -> None:
        self._sensors: dict[tuple[str, str], _Sensor] = {}
        self._of: dict[str, list[tuple[str, str]]] = {}  # resident -> their sensors' keys

    def __len__(self) -> int:
        return len(self._sensors)

    def observe(self, reading: Reading) -> list[Signal]:
        if reading.kind is not Kind.ROOM_TEMPERATURE or not reading.resident_id:
            return []
        key = (reading.gateway_id, reading.device_id)
        sensor = self._sensors.get(key)
        if sensor is None:
            sensor = self._sensors[key] = _Sensor(reading.resident_id)
            self._of.setdefault(reading.resident_id, []).append(key)
        t = reading.device_time_ms
        if t <= sensor.last_ms:
            return []  # a repeat or out of order: each moment counts once
        sensor.last_ms = t
        if not sensor.bands.update(reading.value):
            return []
        return [Signal(Condition.ROOM_TEMPERATURE_ANOMALY, reading.resident_id, True, t,
                       reading.site_id, reading.gateway_id,
                       f"{reading.value:.1f} °C, {reading.value - sensor.bands.mean:+.1f} °C "
                       f"from this room's usual", reading.device_id)]

    def learned_subjects(self) -> Iterable[str]:
        return list(self._of)

    def snapshot_of(self, subject: str) -> bytes | None:
        mine = [SensorState(gateway_id, device_id, sensor.last_ms, sensor.bands.state())
                for gateway_id, device_id in list(self._of.get(subject, ()))
                if (sensor := self._sensors.get((gateway_id, device_id))) is not None]
        return snapshot.encode(RoomState(mine)) if mine else None

    def restore_of(self, subject: str, body: bytes) -> None:
        state = snapshot.decode(body, RoomState)
        restored: dict[tuple[str, str], _Sensor] = {}
        for s in state.sensors:
            sensor = _Sensor(subject)
            try:
                sensor.bands.load(s.bands)
            except ValueError as exc:
                raise snapshot.SnapshotError(snapshot.Refused.CORRUPT, str(exc)) from exc
            sensor.last_ms = s.last_ms
            restored[(s.gateway_id, s.device_id)] = sensor
        for key, sensor in restored.items():
            if key not in self._sensors:
                self._of.setdefault(subject, []).append(key)
            self._sensors[key] = sensor
