"""ESPHome nodes: plain-text state topics, retained ``<node>/status`` birth and will.

Sensors publish the number as text, binary sensors ``ON`` / ``OFF``; states are retained
(ESPHome's default). Entities are named explicitly so the snake-cased topic segment is
stable: ``heart_rate``, ``breath_rate``, ``has_target`` (MR60BHA2) and ``fall_detected``,
``people_exist`` (MR60FDA2).
"""

from __future__ import annotations

from firmware_stubs.dialects import Message
from telemetry import topics
from telemetry.health import OFFLINE, ONLINE
from telemetry.kinds import FallStatus, Kind
from telemetry.topics import EsphomeComponent

_SENSOR = EsphomeComponent.SENSOR
_BINARY = EsphomeComponent.BINARY_SENSOR

# model -> kind -> (component, entity name)
ENTITIES: dict[str, dict[Kind, tuple[EsphomeComponent, str]]] = {
    "MR60BHA2": {
        Kind.HEART_RATE: (_SENSOR, "heart_rate"),
        Kind.RESPIRATION_RATE: (_SENSOR, "breath_rate"),
        Kind.PRESENCE: (_BINARY, "has_target"),
    },
    "MR60FDA2": {
        Kind.FALL: (_BINARY, "fall_detected"),
        Kind.PRESENCE: (_BINARY, "people_exist"),
    },
}


class EsphomeNode:
    """One ESPHome node (a Seeed 60 GHz radar kit)."""

    def __init__(self, model: str, node: str) -> None:
        if model not in ENTITIES:
            raise ValueError(f"unknown ESPHome model {model!r}")
        self.model = model
        self.node = node
        self._entities = ENTITIES[model]
        self._status = topics.esphome_status(node)

    def birth(self, t_ms: int) -> list[Message]:
        return [Message(self._status, ONLINE, True)]

    def observe(self, kind: Kind, value: float, t_ms: int) -> list[Message]:
        if kind is Kind.AVAILABILITY:
            return [Message(self._status, ONLINE if value > 0 else OFFLINE, True)]
        entity = self._entities.get(kind)
        if entity is None:
            return []
        component, name = entity
        if kind is Kind.FALL:
            status = FallStatus(round(value))
            if status is FallStatus.MAYBE_FALL:
                return []  # this radar only reports a confirmed fall
            text = "ON" if status is FallStatus.FALL else "OFF"
        elif component is _BINARY:
            text = "ON" if value > 0 else "OFF"
        else:
            text = f"{value:g}" if kind is not Kind.HEART_RATE else f"{round(value)}"
        topic = topics.esphome_state(self.node, component, name)
        return [Message(topic, text.encode(), True)]
