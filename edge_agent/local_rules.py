"""Life-safety rules that run on the gateway whether or not the centre is reachable."""

from __future__ import annotations

import msgspec

from edge_agent.adapters import Observation
from telemetry.kinds import FallStatus, Kind


class LocalAlarm(msgspec.Struct, frozen=True):
    """Published on the gateway's local alarm topic (a siren, a smart speaker)."""

    device_id: str
    room: str
    kind: Kind
    time_ms: int


def alarm_for(observation: Observation) -> bool:
    """True for a confirmed fall or a pressed SOS button."""
    if observation.kind is Kind.FALL:
        return observation.value >= FallStatus.FALL
    return observation.kind is Kind.SOS and observation.value > 0


def encode_alarm(alarm: LocalAlarm) -> bytes:
    return msgspec.json.encode(alarm)
