"""Why something was refused: one vocabulary for the codec, the gateway's adapters and the
central intake. Stable strings: counters, heartbeats and dead letters carry them."""

from __future__ import annotations

import enum


class Refusal(enum.StrEnum):
    # an envelope or a reading (the codec, either end)
    OVERSIZED = "oversized"
    MALFORMED = "malformed"
    SCHEMA = "schema"
    UNSUPPORTED_VERSION = "unsupported_version"
    TOO_MANY_READINGS = "too_many_readings"
    GATEWAY_MISMATCH = "gateway_mismatch"
    NON_FINITE = "non_finite"
    OUT_OF_RANGE = "out_of_range"
    UNIT_MISMATCH = "unit_mismatch"
    TIME_IN_FUTURE = "time_in_future"
    TIME_IN_PAST = "time_in_past"
    INTEGER_OUT_OF_RANGE = "integer_out_of_range"
    # a device's message on the gateway (the adapters, the agent)
    UNKNOWN_DEVICE = "unknown_device"
    BAD_VALUE = "bad_value"
    NOT_OURS = "not_ours"
    INTERNAL_ERROR = "internal_error"
    OUTBOX_ERROR = "outbox_error"
    # a gateway's message at the centre (ingest)
    BAD_TOPIC = "bad_topic"
    UNKNOWN_GATEWAY = "unknown_gateway"
    BAD_STATUS = "bad_status"
    FOREIGN_DEVICE = "foreign_device"  # a device the registry places on another gateway
    SITE_MISMATCH = "site_mismatch"
