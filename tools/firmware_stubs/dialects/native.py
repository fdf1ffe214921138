"""The project's own firmware: wristband / pendant (vitals, accelerometer) and bed mat."""

from __future__ import annotations

import math

import numpy as np

from firmware_stubs.dialects import Message
from telemetry import native, topics
from telemetry.health import OFFLINE, ONLINE
from telemetry.kinds import Kind
from telemetry.topics import NativeStream

ACCEL_HZ = 20.0

_VITAL_FIELD = {
    Kind.HEART_RATE: "hr",
    Kind.SPO2: "spo2",
    Kind.SKIN_TEMPERATURE: "skin_temp",
    Kind.BATTERY: "battery",
}


class NativeDevice:
    """A native-firmware device: ``EC-WB1`` wristband, ``EC-BM1`` bed mat, or ``EC-PD1``
    belt-clip pendant (battery in its vitals payload; acceleration in ``accel`` blocks)."""

    def __init__(self, model: str, device_id: str) -> None:
        if model not in ("EC-WB1", "EC-BM1", "EC-PD1"):
            raise ValueError(f"unknown native model {model!r}")
        self.model = model
        self.device_id = device_id
        self._occupied = False

    def birth(self, t_ms: int) -> list[Message]:
        return [Message(topics.native(self.device_id, NativeStream.STATUS), ONLINE, True)]

    def observe(self, kind: Kind, value: float, t_ms: int) -> list[Message]:
        if kind is Kind.AVAILABILITY:
            word = ONLINE if value > 0 else OFFLINE
            return [Message(topics.native(self.device_id, NativeStream.STATUS), word, True)]
        payload: native.NativePayload
        if self.model in ("EC-WB1", "EC-PD1"):
            field = _VITAL_FIELD.get(kind)
            if field is None:
                return []
            payload = native.Vitals(ts=t_ms, **{field: value})
            stream = NativeStream.VITALS
        else:
            if kind is Kind.BED_OCCUPANCY:
                self._occupied = value > 0
                payload = native.Bed(ts=t_ms, occupied=self._occupied)
            elif kind is Kind.BATTERY:
                payload = native.Bed(ts=t_ms, occupied=self._occupied, battery=value)
            else:
                return []
            stream = NativeStream.BED
        return [Message(topics.native(self.device_id, stream), native.encode(payload), False)]

    def accel(self, t0_ms: int, seconds: float, rng: np.random.Generator,
              impact_at_ms: int | None = None, lying: bool = False) -> Message:
        """A block of accelerometer samples: worn upright at rest, or ``lying`` still on
        the side, with an impact (free fall, peak, then stillness) if asked."""
        n = max(1, round(seconds * ACCEL_HZ))
        xyz = rng.normal(0.0, 0.01 if lying else 0.03, (n, 3))
        # gravity, in the frame of the project's firmware: upright reads -1 g on y
        xyz += [0.98, 0.05, 0.1] if lying else [0.0, -1.0, 0.0]
        if impact_at_ms is not None:
            i = int((impact_at_ms - t0_ms) * ACCEL_HZ / 1000)
            if 0 <= i < n:
                xyz[max(0, i - 6):i] = [0.1, 0.1, 0.2]  # free fall before the impact
                xyz[i] = [2.2, -1.4, 2.9]  # impact peak, about 3.9 g
                xyz[i + 1:] = [0.98, 0.05, 0.1]  # lying on the side, still
        block = native.Accel(
            t0=t0_ms, hz=ACCEL_HZ,
            xyz=[[round(float(a), 3) for a in row] for row in xyz if all(map(math.isfinite, row))],
        )
        topic = topics.native(self.device_id, NativeStream.ACCEL)
        return Message(topic, native.encode(block), False)
