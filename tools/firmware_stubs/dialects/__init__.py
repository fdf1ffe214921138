"""Device simulators: what each real device sends, one module per dialect."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from telemetry.kinds import Kind


class Message(NamedTuple):
    topic: str
    payload: bytes
    retain: bool


class DeviceSim(Protocol):
    """A simulated device: its birth messages, and what it sends for an observation."""

    def birth(self, t_ms: int) -> list[Message]: ...

    def observe(self, kind: Kind, value: float, t_ms: int) -> list[Message]: ...
