"""Payload schema of the project's own device firmware (wristband, pendant, bed mat).

Published on ``native/<device_id>/<stream>`` (see ``telemetry.topics``). Vitals and bed
payloads are JSON objects; a field is absent when the device has nothing to report (for
example no heart rate while the band is off the wrist). ``status`` is a retained plain
``online`` / ``offline``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from telemetry.codec import CodecError
from telemetry.refusal import Refusal
from telemetry.topics import NativeStream

Ms = Annotated[int, msgspec.Meta(ge=0)]


class Vitals(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """Wristband vitals. ``ts`` is the device's UTC time in milliseconds."""

    ts: Ms
    hr: float | None = None
    spo2: float | None = None
    skin_temp: float | None = None
    battery: float | None = None


class Bed(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """Bed mat: occupancy, optionally battery."""

    ts: Ms
    occupied: bool
    battery: float | None = None


class Accel(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A block of raw 3-axis accelerometer samples in g, ``hz`` samples per second from ``t0``.
    The firmware's frame: with the wearer upright, y reads -1 g (the fall detector's
    ``features.UPRIGHT``; a device mounted otherwise turns its samples into it)."""

    t0: Ms
    hz: Annotated[float, msgspec.Meta(gt=0, le=1000)]
    xyz: list[Annotated[list[float], msgspec.Meta(min_length=3, max_length=3)]]


NativePayload = Vitals | Bed | Accel

_encoder = msgspec.json.Encoder()
_decoders: dict[NativeStream, msgspec.json.Decoder[Vitals] | msgspec.json.Decoder[Bed]
                | msgspec.json.Decoder[Accel]] = {
    NativeStream.VITALS: msgspec.json.Decoder(Vitals),
    NativeStream.BED: msgspec.json.Decoder(Bed),
    NativeStream.ACCEL: msgspec.json.Decoder(Accel),
}


def encode(payload: NativePayload) -> bytes:
    return _encoder.encode(payload)


def decode(stream: NativeStream, payload: bytes) -> NativePayload:
    """Decode one native payload of ``stream`` (not ``status``, which is plain text).

    Raises:
        CodecError: malformed or not of the stream's schema.
    """
    decoder = _decoders.get(stream)
    if decoder is None:
        raise CodecError(Refusal.SCHEMA, f"stream {stream} carries plain text, not JSON")
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise CodecError(Refusal.SCHEMA, str(exc)) from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise CodecError(Refusal.MALFORMED, str(exc)) from exc
