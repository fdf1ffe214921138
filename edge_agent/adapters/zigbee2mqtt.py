"""zigbee2mqtt: JSON state per device; ``contact: true`` means CLOSED; availability beside it.

zigbee2mqtt repeats the whole state with every change, so a field becomes an observation
only when its value changed (events such as ``action`` always count).

``bridge/state`` ``offline`` (legacy string or ``{"state": "offline"}``) means the Zigbee
coordinator is gone: every Zigbee fall radar, SOS button and door of the home is deaf from
that moment. That is one problem, reported at once as one observation of the gateway's part
``telemetry.parts.ZIGBEE_COORDINATOR`` (availability 0), and ``online`` reports it back
(availability 1); a repeat of the same state (the retained message on every reconnect)
reports nothing, but the first after the agent starts always goes. ``zigbee_devices()``
says which devices it made deaf.
"""

from __future__ import annotations

import json
import math
from typing import Any

from edge_agent.adapters import AVAILABILITY_WORDS, AdapterError, Observation
from edge_agent.config import DeviceConfig
from telemetry import topics
from telemetry.kinds import FallStatus, Kind
from telemetry.parts import ZIGBEE_COORDINATOR
from telemetry.refusal import Refusal

# the resident's answer to the home unit: the SOS button's second action (a double
# press) or the prompt device's own button
ANSWER_ACTIONS = frozenset({"double", "answer"})
_FALL = {"none": FallStatus.NONE, "maybe_fall": FallStatus.MAYBE_FALL,
         "fall": FallStatus.FALL}


def _bool(value: Any) -> float:
    if not isinstance(value, bool):
        raise ValueError(f"expected true/false, got {value!r}")
    return 1.0 if value else 0.0


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


# field -> (kind, converter)
_FIELDS: dict[str, tuple[Kind, Any]] = {
    "contact": (Kind.DOOR, lambda v: 1.0 - _bool(v)),  # contact false = OPEN
    "occupancy": (Kind.MOTION, _bool),
    "presence": (Kind.PRESENCE, _bool),
    "water_leak": (Kind.WATER_LEAK, _bool),
    "tamper": (Kind.TAMPER, _bool),
    "battery": (Kind.BATTERY, _number),
    "temperature": (Kind.ROOM_TEMPERATURE, _number),
    "linkquality": (Kind.LINK_QUALITY, _number),
    "fall_down_status": (Kind.FALL, lambda v: float(_FALL[v])),
}


class Zigbee2mqttAdapter:
    def __init__(self, devices: list[DeviceConfig], base: str = topics.Z2M_DEFAULT_BASE) -> None:
        self._base = base
        self._devices = {d.local_name: d for d in devices}
        self._last: dict[tuple[str, Kind], float] = {}
        self._bridge_state = topics.z2m_bridge_state(base)

    def zigbee_devices(self) -> list[str]:
        return [d.device_id for d in self._devices.values()]

    def _bridge(self, payload: bytes) -> list[Observation]:
        word = _availability_word(payload)
        if word is None:
            raise AdapterError(Refusal.MALFORMED, f"bridge state {payload[:40]!r}")
        value = AVAILABILITY_WORDS[word]
        key = (ZIGBEE_COORDINATOR, Kind.AVAILABILITY)
        if self._last.get(key) == value:  # the first one after a start always goes: the
            return []                        # centre may hold it down from before
        self._last[key] = value
        return [Observation(ZIGBEE_COORDINATOR, Kind.AVAILABILITY, value)]

    def subscriptions(self) -> list[str]:
        return [topics.z2m_filter(self._base)]

    def translate(self, topic: str, payload: bytes) -> list[Observation]:
        if topic == self._bridge_state:
            return self._bridge(payload)
        try:
            parsed = topics.parse_z2m(topic, self._base)
        except topics.TopicError as exc:
            raise AdapterError(Refusal.NOT_OURS, str(exc)) from exc
        if parsed is None:
            return []
        device = self._devices.get(parsed.friendly_name)
        if device is None:
            raise AdapterError(Refusal.UNKNOWN_DEVICE, f"zigbee2mqtt {parsed.friendly_name!r}")
        if parsed.availability:
            word = _availability_word(payload)
            if word is None:
                raise AdapterError(Refusal.MALFORMED, f"{topic}: availability {payload[:40]!r}")
            return [Observation(device.device_id, Kind.AVAILABILITY, AVAILABILITY_WORDS[word])]
        try:
            body = json.loads(payload) if payload[:1] in (b"{", b"[") else payload.decode()
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # deep nesting too
            raise AdapterError(Refusal.MALFORMED, f"{topic}: {exc}") from exc
        if not isinstance(body, dict):
            raise AdapterError(Refusal.MALFORMED, f"{topic}: state is not a JSON object")
        out: list[Observation] = []
        wanted = set(device.kinds)
        action = body.get("action")
        if action == "emergency" and Kind.SOS in wanted:
            out.append(Observation(device.device_id, Kind.SOS, 1.0))
        elif isinstance(action, str) and action in ANSWER_ACTIONS and Kind.ANSWER in wanted:
            out.append(Observation(device.device_id, Kind.ANSWER, 1.0))
        for field, (kind, convert) in _FIELDS.items():
            if field not in body or kind not in wanted:
                continue
            try:
                value = convert(body[field])
            except (ValueError, KeyError, TypeError) as exc:
                raise AdapterError(Refusal.BAD_VALUE, f"{topic}: {field}: {exc}") from exc
            key = (device.device_id, kind)
            if self._last.get(key) != value:
                self._last[key] = value
                out.append(Observation(device.device_id, kind, value))
        return out


def _availability_word(payload: bytes) -> str | None:
    """``online``/``offline`` from the legacy string or the ``{"state": ...}`` form."""
    try:
        body = json.loads(payload) if payload[:1] == b"{" else payload.decode().strip()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    word = body.get("state") if isinstance(body, dict) else body
    return word if isinstance(word, str) and word in AVAILABILITY_WORDS else None
