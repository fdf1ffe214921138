"""The project's own firmware: ``native/<device_id>/<stream>`` (schema in telemetry.native)."""

from __future__ import annotations

import numpy as np

from edge_agent.adapters import AVAILABILITY_WORDS, AdapterError, Observation
from edge_agent.config import DeviceConfig
from edge_agent.falls import model as fall_model
from edge_agent.falls.detector import FallDetector
from telemetry import native, topics
from telemetry.codec import CodecError
from telemetry.kinds import FallStatus, Kind
from telemetry.refusal import Refusal
from telemetry.topics import NativeStream


class NativeAdapter:
    """Vitals, bed and status; accelerometer blocks feed the device's fall detector, whose
    alerts become FALL observations stamped with the impact time."""

    def __init__(self, devices: list[DeviceConfig]) -> None:
        self._devices = {d.local_name: d for d in devices}
        # One streaming fall detector per device that carries an accelerometer for it.
        self._fall_detectors = {
            d.local_name: FallDetector(fall_model.load(fall_model.shipped_path(d.fall_position)))
            for d in devices if d.fall_position is not None and Kind.FALL in d.kinds
        }

    def subscriptions(self) -> list[str]:
        return [topics.native_filter()]

    def translate(self, topic: str, payload: bytes) -> list[Observation]:
        try:
            parsed = topics.parse_native(topic)
        except topics.TopicError as exc:
            raise AdapterError(Refusal.NOT_OURS, str(exc)) from exc
        device = self._devices.get(parsed.device_id)
        if device is None:
            raise AdapterError(Refusal.UNKNOWN_DEVICE, f"native {parsed.device_id!r}")
        did = device.device_id
        if parsed.stream is NativeStream.STATUS:
            word = payload.decode(errors="replace")
            if word not in AVAILABILITY_WORDS:
                raise AdapterError(Refusal.MALFORMED, f"{topic}: status {word!r}")
            return [Observation(did, Kind.AVAILABILITY, AVAILABILITY_WORDS[word])]
        if parsed.stream is NativeStream.ACCEL:
            return self._accel(parsed.device_id, did, topic, payload)
        try:
            body = native.decode(parsed.stream, payload)
        except CodecError as exc:
            raise AdapterError(Refusal.MALFORMED, f"{topic}: {exc}") from exc
        found: list[tuple[Kind, float | None]]
        if isinstance(body, native.Vitals):
            found = [(Kind.HEART_RATE, body.hr), (Kind.SPO2, body.spo2),
                     (Kind.SKIN_TEMPERATURE, body.skin_temp), (Kind.BATTERY, body.battery)]
        elif isinstance(body, native.Bed):
            found = [(Kind.BED_OCCUPANCY, 1.0 if body.occupied else 0.0),
                     (Kind.BATTERY, body.battery)]
        else:
            return []
        return [Observation(did, kind, value, body.ts) for kind, value in found
                if value is not None and kind in device.kinds]

    def _accel(self, local_name: str, device_id: str, topic: str,
               payload: bytes) -> list[Observation]:
        detector = self._fall_detectors.get(local_name)
        if detector is None:
            return []  # nobody asked for fall detection on this device
        try:
            block = native.decode(NativeStream.ACCEL, payload)
        except CodecError as exc:
            raise AdapterError(Refusal.MALFORMED, f"{topic}: {exc}") from exc
        assert isinstance(block, native.Accel)
        if not block.xyz:
            return []
        step_ms = 1000.0 / block.hz
        t = block.t0 + np.round(np.arange(len(block.xyz)) * step_ms).astype(np.int64)
        return [Observation(device_id, Kind.FALL, float(FallStatus.MAYBE_FALL if alert.possible
                                                         else FallStatus.FALL),
                            alert.impact_ms)
                for alert in detector.feed(t, np.asarray(block.xyz, dtype=np.float64))]
