"""One small adapter per device dialect: local (topic, payload) -> observations.

An adapter knows only the devices in the gateway's config; anything else is refused with
an ``AdapterError`` carrying a reason the agent counts. Adapters never raise anything else.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from edge_agent.errors import EdgeError
from telemetry.health import OFFLINE, ONLINE
from telemetry.kinds import Kind
from telemetry.refusal import Refusal


class Observation(NamedTuple):
    """A device's value in the kind's canonical unit; no device clock means receive time."""

    device_id: str
    kind: Kind
    value: float
    device_time_ms: int | None = None


class AdapterError(EdgeError):
    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Adapter(Protocol):
    def subscriptions(self) -> list[str]: ...

    def translate(self, topic: str, payload: bytes) -> list[Observation]: ...


AVAILABILITY_WORDS = {ONLINE.decode(): 1.0, OFFLINE.decode(): 0.0}
