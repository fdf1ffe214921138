"""ESPHome: ``<node>/sensor/<name>/state`` numbers, ``binary_sensor`` ``ON``/``OFF``, status."""

from __future__ import annotations

import math

from edge_agent.adapters import AVAILABILITY_WORDS, AdapterError, Observation
from edge_agent.config import DeviceConfig
from telemetry import topics
from telemetry.kinds import FallStatus, Kind
from telemetry.refusal import Refusal
from telemetry.topics import EsphomeComponent

# entity name -> kind (the names our device configs give the Seeed radar entities)
ENTITY_KIND: dict[str, Kind] = {
    "heart_rate": Kind.HEART_RATE,
    "breath_rate": Kind.RESPIRATION_RATE,
    "has_target": Kind.PRESENCE,
    "people_exist": Kind.PRESENCE,
    "fall_detected": Kind.FALL,
}
_BINARY = {"ON": 1.0, "OFF": 0.0}


class EsphomeAdapter:
    def __init__(self, devices: list[DeviceConfig]) -> None:
        self._devices = {d.local_name: d for d in devices}

    def subscriptions(self) -> list[str]:
        return [topics.esphome_filter(node) for node in sorted(self._devices)]

    def translate(self, topic: str, payload: bytes) -> list[Observation]:
        try:
            parsed = topics.parse_esphome(topic)
        except topics.TopicError as exc:
            raise AdapterError(Refusal.NOT_OURS, str(exc)) from exc
        if parsed is None:
            return []
        device = self._devices.get(parsed.node)
        if device is None:
            raise AdapterError(Refusal.UNKNOWN_DEVICE, f"ESPHome node {parsed.node!r}")
        try:
            text = payload.decode().strip()
        except UnicodeDecodeError as exc:
            raise AdapterError(Refusal.MALFORMED, f"{topic}: not text") from exc
        if parsed.component is None:
            if text not in AVAILABILITY_WORDS:
                raise AdapterError(Refusal.MALFORMED, f"{topic}: status {text!r}")
            return [Observation(device.device_id, Kind.AVAILABILITY, AVAILABILITY_WORDS[text])]
        kind = ENTITY_KIND.get(parsed.name)
        if kind is None or kind not in device.kinds:
            return []
        if parsed.component is EsphomeComponent.BINARY_SENSOR:
            if text not in _BINARY:
                raise AdapterError(Refusal.BAD_VALUE, f"{topic}: {text!r} is not ON/OFF")
            value = _BINARY[text]
            if kind is Kind.FALL:
                value = float(FallStatus.FALL if value else FallStatus.NONE)
        else:
            try:
                value = float(text)
            except ValueError as exc:
                raise AdapterError(Refusal.BAD_VALUE, f"{topic}: {text!r}") from exc
            if not math.isfinite(value):
                raise AdapterError(Refusal.BAD_VALUE, f"{topic}: {text!r}")
        return [Observation(device.device_id, kind, value)]
