"""Shared message model: the ``Reading``, its codec, the topics and the clock. No I/O here."""

from telemetry.clock import Clock, FakeClock, ScaledClock, SystemClock
from telemetry.codec import Batch, CodecError, Rejection, decode, encode
from telemetry.kinds import SPECS, URGENT_KINDS, FallStatus, Kind, is_urgent, unit_of
from telemetry.reading import Reading
from telemetry.refusal import Refusal
from telemetry.topics import Channel, TopicError

__all__ = [
    "SPECS",
    "URGENT_KINDS",
    "Batch",
    "Channel",
    "Clock",
    "CodecError",
    "FakeClock",
    "FallStatus",
    "Kind",
    "Reading",
    "Refusal",
    "Rejection",
    "ScaledClock",
    "SystemClock",
    "TopicError",
    "decode",
    "encode",
    "is_urgent",
    "unit_of",
]
