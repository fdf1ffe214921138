"""The project's own firmware: ``native/<device_id>/<stream>`` (schema in telemetry.native)."""

from __future__ import annotations

from edge_agent.adapters import AVAILABILITY_WORDS, AdapterError, Observation, Refusal
from edge_agent.config import DeviceConfig
from telemetry import native, topics
from telemetry.codec import CodecError
from telemetry.kinds import Kind
from telemetry.topics import NativeStream


class NativeAdapter:
    """Vitals, bed and status. Accelerometer blocks go to the edge fall detector instead."""

    def __init__(self, devices: list[DeviceConfig]) -> None:
        self._devices = {d.local_name: d for d in devices}

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
            return []
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
