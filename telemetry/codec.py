"""Bytes <-> readings. The only code that turns wire bytes into ``Reading`` objects.

Wire format (JSON, schema version in ``v``)::

    {"v": 1, "gateway_id": "gw-1", "site_id": "site-1", "sent_time_ms": 1767225600000,
     "readings": [[site_id, gateway_id, device_id, kind, value, unit,
                   device_time_ms, received_time_ms, seq, resident_id], ...]}

Routine readings travel many to an envelope; an urgent event travels alone in its own.
A broken envelope raises ``CodecError``; a broken reading inside a good envelope is
returned as a ``Rejection`` beside the good ones, so nothing valid is lost.
"""

from __future__ import annotations

import math
from typing import Final

import msgspec

from telemetry.errors import TelemetryError
from telemetry.kinds import SPECS
from telemetry.reading import Reading
from telemetry.refusal import Refusal

SCHEMA_VERSION: Final = 1
MAX_ENVELOPE_BYTES: Final = 256 * 1024
MAX_READINGS_PER_ENVELOPE: Final = 5_000
# How far a device's clock may stray from the receiver's before a reading is refused.
DEFAULT_MAX_FUTURE_MS: Final = 5 * 60 * 1000
DEFAULT_MAX_PAST_MS: Final = 7 * 24 * 3600 * 1000
# Every integer of a reading must fit the stores' signed 64-bit columns (SQLite INTEGER,
# InfluxDB int64, PostgreSQL BIGINT); JSON itself has no bound.
MAX_INT: Final = 2**63 - 1


class CodecError(TelemetryError):
    """The one error the codec raises: a whole envelope was refused, with a reason."""

    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Rejection(msgspec.Struct, frozen=True):
    """One reading refused inside an otherwise good envelope."""

    index: int
    reason: Refusal
    detail: str


class Envelope(msgspec.Struct, frozen=True, tag_field="v", tag=SCHEMA_VERSION):
    """Version 1 of the wire envelope: a batch of readings from one gateway."""

    gateway_id: str
    site_id: str
    sent_time_ms: int
    readings: list[Reading]


class Batch(msgspec.Struct, frozen=True):
    """What decoding an envelope produced: the accepted readings and the refused ones."""

    gateway_id: str
    site_id: str
    sent_time_ms: int
    readings: list[Reading]
    rejections: list[Rejection]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


def encode(gateway_id: str, site_id: str, sent_time_ms: int, readings: list[Reading]) -> bytes:
    """Encode a batch of readings of one gateway as one wire envelope."""
    if not readings:
        raise ValueError("an envelope carries at least one reading")
    if len(readings) > MAX_READINGS_PER_ENVELOPE:
        raise ValueError(f"at most {MAX_READINGS_PER_ENVELOPE} readings per envelope")
    return _encoder.encode(Envelope(gateway_id, site_id, sent_time_ms, readings))


def decode(
    payload: bytes,
    *,
    now_ms: int,
    expected_gateway_id: str | None = None,
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
    max_past_ms: int = DEFAULT_MAX_PAST_MS,
) -> Batch:
    """Decode and validate one envelope, once.

    Args:
        payload: the MQTT payload.
        now_ms: the receiver's clock, for the timestamp checks.
        expected_gateway_id: the gateway named by the topic (its MQTT username); the
            envelope and every reading in it must agree with it.
        max_future_ms: how far ahead of ``now_ms`` a device time may be.
        max_past_ms: how far behind ``now_ms`` a device time may be (outbox replays after
            long outages are legitimately old).

    Raises:
        CodecError: the envelope as a whole is refused.
    """
    if len(payload) > MAX_ENVELOPE_BYTES:
        raise CodecError(Refusal.OVERSIZED, f"{len(payload)} bytes > {MAX_ENVELOPE_BYTES}")
    try:
        envelope = _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if text.endswith("at `$.v`"):
            raise CodecError(Refusal.UNSUPPORTED_VERSION, text) from exc
        raise CodecError(Refusal.SCHEMA, text) from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise CodecError(Refusal.MALFORMED, str(exc)) from exc
    gateway_id = envelope.gateway_id
    if expected_gateway_id is not None and gateway_id != expected_gateway_id:
        raise CodecError(
            Refusal.GATEWAY_MISMATCH,
            f"envelope gateway {gateway_id!r} on the topic of {expected_gateway_id!r}",
        )
    if len(envelope.readings) > MAX_READINGS_PER_ENVELOPE:
        raise CodecError(
            Refusal.TOO_MANY_READINGS,
            f"{len(envelope.readings)} readings > {MAX_READINGS_PER_ENVELOPE}",
        )
    earliest = now_ms - max_past_ms
    latest = now_ms + max_future_ms
    accepted: list[Reading] = []
    rejections: list[Rejection] = []
    for index, reading in enumerate(envelope.readings):
        problem = _check(reading, gateway_id, earliest, latest)
        if problem is None:
            accepted.append(reading)
        else:
            rejections.append(Rejection(index, problem[0], problem[1]))
    return Batch(gateway_id, envelope.site_id, envelope.sent_time_ms, accepted, rejections)


def _check(
    reading: Reading, gateway_id: str, earliest_ms: int, latest_ms: int
) -> tuple[Refusal, str] | None:
    spec = SPECS[reading.kind]
    value = reading.value
    if reading.gateway_id != gateway_id:
        return Refusal.GATEWAY_MISMATCH, f"reading of gateway {reading.gateway_id!r}"
    for name, number in (("seq", reading.seq), ("received_time_ms", reading.received_time_ms),
                         ("device_time_ms", reading.device_time_ms)):
        if not 0 <= number <= MAX_INT:
            return Refusal.INTEGER_OUT_OF_RANGE, f"{name} {number} outside [0, 2**63 - 1]"
    if not math.isfinite(value):
        return Refusal.NON_FINITE, f"{reading.kind} value {value!r}"
    if not spec.low <= value <= spec.high:
        return (
            Refusal.OUT_OF_RANGE,
            f"{reading.kind} value {value!r} outside [{spec.low}, {spec.high}]",
        )
    if reading.unit != spec.unit:
        return Refusal.UNIT_MISMATCH, f"{reading.kind} in {reading.unit!r}, not {spec.unit!r}"
    if reading.device_time_ms > latest_ms:
        return Refusal.TIME_IN_FUTURE, f"device time {reading.device_time_ms} > {latest_ms}"
    if reading.device_time_ms < earliest_ms:
        return Refusal.TIME_IN_PAST, f"device time {reading.device_time_ms} < {earliest_ms}"
    return None
