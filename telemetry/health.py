"""What a gateway says about itself: its retained status, its periodic heartbeat, and its
daily test alarm. The one place of each gateway class's heartbeat interval and of when a
gateway sends its test alarm (both sides compute it the same way)."""

from __future__ import annotations

import enum
import zlib
from typing import Final

import msgspec

from telemetry.clock import DAY_MS, MIN_MS
from telemetry.codec import CodecError
from telemetry.refusal import Refusal

ONLINE: Final = b"online"
OFFLINE: Final = b"offline"


class GatewayClass(enum.StrEnum):
    """How a gateway keeps in touch (SOS Access v4's heartbeat tiers)."""

    HOME_UNIT = "home_unit"  # mains powered, always connected
    BATTERY = "battery"  # a battery hub that wakes to report


# The longest a gateway of each class may stay silent (its heartbeat interval is a third
# of it, so two may be lost); BS 8521 asks a keep-alive at least every minute on the line.
HEARTBEAT_S: Final[dict[GatewayClass, float]] = {
    GatewayClass.HOME_UNIT: 90.0,
    GatewayClass.BATTERY: 25 * 3600.0,
}

# Every gateway sends a test alarm once a day (BS 8521: an automatic test call every 24 h)
# at a time spread over the day; the centre expects it from LINK_TEST_WINDOW_MS before
# that time and calls it missed once LINK_TEST_WINDOW_MS after it have passed.
LINK_TEST_WINDOW_MS: Final = 30 * MIN_MS


def heartbeat_every_s(gateway_class: GatewayClass) -> float:
    return HEARTBEAT_S[gateway_class] / 3


def link_test_due_ms(gateway_id: str, day_start_ms: int) -> int:
    """When ``gateway_id`` sends its test alarm on the (UTC) day that starts at
    ``day_start_ms``: a minute of the day drawn from the id and the day, so each gateway's
    test comes at another time, and at another time each day."""
    day = day_start_ms // DAY_MS
    draw = zlib.crc32(f"{gateway_id}/{day}".encode())
    return day * DAY_MS + (draw % (DAY_MS // MIN_MS)) * MIN_MS


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
