"""Life-safety rules that run on the gateway whether or not the centre is reachable."""

from __future__ import annotations

import msgspec

from edge_agent.adapters import Observation
from telemetry.kinds import FallStatus, Kind

CENTRE_UNREACHABLE = "centre_unreachable"  # why a fallback alarm sounds
POSSIBLE_FALL_UNANSWERED = "possible_fall_unanswered"  # why the home's alarm sounds


class PromptOut(msgspec.Struct, frozen=True):
    """Published on the prompt device's ``set`` topic: it plays the question in
    ``language`` and listens for its button (the answer comes back as an ANSWER
    reading) for ``answer_within_s``."""

    reason: str
    language: str
    answer_within_s: float


class LocalAlarm(msgspec.Struct, frozen=True, omit_defaults=True):
    """Published on the gateway's local alarm topic (a siren, a smart speaker). The first
    goes off at once; a ``fallback`` one when the centre has not taken the alarm in time
    (``reason``): louder, spoken, for whoever is near (and the local modem, where fitted)."""

    device_id: str
    room: str
    kind: Kind
    time_ms: int
    fallback: bool = False
    reason: str = ""


def is_alarm(kind: Kind, value: float) -> bool:
    """True for a confirmed fall or a pressed SOS button."""
    if kind is Kind.FALL:
        return value >= FallStatus.FALL
    return kind is Kind.SOS and value > 0


def alarm_for(observation: Observation) -> bool:
    return is_alarm(observation.kind, observation.value)


def encode_alarm(alarm: LocalAlarm) -> bytes:
    return msgspec.json.encode(alarm)


def encode_prompt(prompt: PromptOut) -> bytes:
    return msgspec.json.encode({"prompt": prompt})
