"""What a gateway says about itself: its retained status and its periodic heartbeat."""

from __future__ import annotations

from typing import Final

import msgspec

from telemetry.codec import CodecError
from telemetry.refusal import Refusal

ONLINE: Final = b"online"
OFFLINE: Final = b"offline"


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True):
    """Published on the gateway's ``heartbeat`` channel.

    Attributes:
        outbox_depth: readings stored and not yet acknowledged by the centre.
        oldest_pending_age_s: age of the oldest of them (None when the outbox is empty).
        dropped_total: routine readings dropped for want of disk budget, ever.
        refused: local messages refused, by reason (unknown device, malformed, ...).
    """

    gateway_id: str
    site_id: str
    sent_time_ms: int
    uptime_s: float
    outbox_depth: int
    oldest_pending_age_s: float | None
    dropped_total: int
    disk_free_bytes: int
    readings_total: int
    refused: dict[str, int] = {}


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Heartbeat)


def encode_heartbeat(heartbeat: Heartbeat) -> bytes:
    return _encoder.encode(heartbeat)


def decode_heartbeat(payload: bytes) -> Heartbeat:
    """Raises: CodecError: not a heartbeat."""
    try:
        return _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise CodecError(Refusal.SCHEMA, str(exc)) from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise CodecError(Refusal.MALFORMED, str(exc)) from exc
