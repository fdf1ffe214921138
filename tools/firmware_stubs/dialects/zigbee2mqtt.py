"""zigbee2mqtt devices: JSON state on ``zigbee2mqtt/<friendly name>``, availability beside it.

Field names and meanings follow the zigbee2mqtt device pages (see shared DEVICES.md):
``contact: true`` means CLOSED; fields are absent until the device first reports them;
the fall radar reports ``fall_down_status`` in two stages.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from firmware_stubs.dialects import Message
from telemetry import topics
from telemetry.health import OFFLINE, ONLINE
from telemetry.kinds import FallStatus, Kind

_FALL_STATUS = {
    FallStatus.NONE: "none",
    FallStatus.MAYBE_FALL: "maybe_fall",
    FallStatus.FALL: "fall",
}

# The radar's settings, reported with every state message once known.
_RADAR_SETTINGS: dict[str, Any] = {
    "motion_direction": "standing_still",
    "radar_sensitivity": 7,
    "radar_scene": "toilet",
    "tumble_switch": "ON",
    "fall_sensitivity": 6,
    "tumble_alarm_time": 1,
}

MODELS = ("MCCGQ11LM", "RTCGQ11LM", "MIR-HE200-TY_fall", "TS0215A_sos", "SJCGQ11LM")
_BATTERY_MODELS = frozenset({"MCCGQ11LM", "RTCGQ11LM", "TS0215A_sos", "SJCGQ11LM"})
_VOLTAGE_MODELS = frozenset({"MCCGQ11LM", "RTCGQ11LM", "SJCGQ11LM"})


def _iso(t_ms: int) -> str:
    stamp = dt.datetime.fromtimestamp(t_ms / 1000, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t_ms % 1000:03d}Z"


class Z2mDevice:
    """One zigbee2mqtt device of a given model."""

    def __init__(
        self,
        model: str,
        friendly_name: str,
        *,
        base: str = topics.Z2M_DEFAULT_BASE,
        legacy_availability: bool = True,
        last_seen: bool = False,
        linkquality: int = 120,
    ) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown zigbee2mqtt model {model!r}")
        self.model = model
        self.friendly_name = friendly_name
        self._state_topic = topics.z2m_state(friendly_name, base)
        self._availability_topic = topics.z2m_availability(friendly_name, base)
        self._legacy = legacy_availability
        self._last_seen = last_seen
        self._state: dict[str, Any] = {}
        self._lqi = linkquality
        if model == "MIR-HE200-TY_fall":
            self._state.update(_RADAR_SETTINGS)

    def birth(self, t_ms: int) -> list[Message]:
        return [self._availability(True)]

    def observe(self, kind: Kind, value: float, t_ms: int) -> list[Message]:
        if kind is Kind.AVAILABILITY:
            return [self._availability(value > 0)]
        update = self._fields(kind, value)
        if update is None:
            return []
        transient = update.pop("action", None)
        self._state.update(update)
        self._state["linkquality"] = self._lqi
        body = dict(self._state)
        if transient is not None:
            body["action"] = transient
        if self._last_seen:
            body["last_seen"] = _iso(t_ms)
        return [Message(self._state_topic, json.dumps(body).encode(), False)]

    def _availability(self, online: bool) -> Message:
        word = (ONLINE if online else OFFLINE).decode()
        payload = word if self._legacy else json.dumps({"state": word})
        return Message(self._availability_topic, payload.encode(), True)

    def _fields(self, kind: Kind, value: float) -> dict[str, Any] | None:
        on = value > 0
        if kind is Kind.BATTERY:
            if self.model not in _BATTERY_MODELS:
                return None  # mains powered: no battery to report
            level = round(value)
            fields: dict[str, Any] = {"battery": level}
            if self.model in _VOLTAGE_MODELS:
                fields["voltage"] = 2700 + 3 * level
            if self.model == "SJCGQ11LM":
                fields["battery_low"] = level < 20
            return fields
        if kind is Kind.LINK_QUALITY:
            self._lqi = round(value)
            return {}
        model = self.model
        if model == "MCCGQ11LM":
            if kind is Kind.DOOR:
                return {"contact": not on}
            if kind is Kind.ROOM_TEMPERATURE:
                return {"temperature": round(value, 1)}
        elif model == "RTCGQ11LM":
            if kind is Kind.MOTION:
                lux = 40 if on else 3
                return {"occupancy": on, "illuminance_lux": lux, "illuminance": lux}
        elif model == "MIR-HE200-TY_fall":
            if kind is Kind.FALL:
                status = FallStatus(round(value))
                return {"fall_down_status": _FALL_STATUS[status], "motion_speed": 0}
            if kind is Kind.PRESENCE:
                return {"presence": on, "occupancy": on, "illuminance_lux": 40 if on else 3}
        elif model == "TS0215A_sos":
            if kind is Kind.SOS and on:
                return {"action": "emergency"}
            if kind is Kind.ANSWER and on:  # the second action: "I am all right"
                return {"action": "double"}
        elif model == "SJCGQ11LM":
            if kind is Kind.WATER_LEAK:
                return {"water_leak": on}
            if kind is Kind.ROOM_TEMPERATURE:
                return {"temperature": round(value)}
        return None
