"""What a reading can be about: kinds, their canonical units, plausible ranges, value codes.

One place for each fact about a kind. The edge normalises every device dialect to the
canonical unit listed here; the codec rejects anything outside the plausible range.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Kind(enum.StrEnum):
    """The kind of a reading. Values are wire strings: never rename, only add."""

    FALL = "fall"
    SOS = "sos"
    DOOR = "door"
    MOTION = "motion"
    BED_OCCUPANCY = "bed_occupancy"
    PRESENCE = "presence"
    HEART_RATE = "heart_rate"
    RESPIRATION_RATE = "respiration_rate"
    SPO2 = "spo2"
    SKIN_TEMPERATURE = "skin_temperature"
    ROOM_TEMPERATURE = "room_temperature"
    WATER_LEAK = "water_leak"
    BATTERY = "battery"
    LINK_QUALITY = "link_quality"
    AVAILABILITY = "availability"
    TAMPER = "tamper"
    SEAT_OCCUPANCY = "seat_occupancy"
    APPLIANCE = "appliance"  # an appliance or fixture in use: cooker, microwave, flush
    # the resident answered the home unit ("I am all right", "cancel"): the SOS button's
    # second action or the prompt device's button
    ANSWER = "answer"
    # a gateway's daily test alarm: it travels the alarm's whole path to the centre's store
    LINK_TEST = "link_test"


class FallStatus(enum.IntEnum):
    """Value code of a FALL reading (the radar's two-stage report, or an edge detector)."""

    NONE = 0
    MAYBE_FALL = 1
    FALL = 2


class Spec(NamedTuple):
    """Canonical unit and the physically plausible closed range of a kind's value."""

    unit: str
    low: float
    high: float


_BINARY = Spec("bool", 0.0, 1.0)

# Binary kinds: 1.0 means the alarming / active state (door OPEN, motion seen, bed
# occupied, leak, SOS pressed, device online, tamper).
SPECS: dict[Kind, Spec] = {
    Kind.FALL: Spec("fall_status", 0.0, 2.0),
    Kind.SOS: _BINARY,
    Kind.DOOR: _BINARY,
    Kind.MOTION: _BINARY,
    Kind.BED_OCCUPANCY: _BINARY,
    Kind.PRESENCE: _BINARY,
    Kind.HEART_RATE: Spec("bpm", 20.0, 250.0),
    Kind.RESPIRATION_RATE: Spec("breaths/min", 2.0, 70.0),
    Kind.SPO2: Spec("%", 50.0, 100.0),
    Kind.SKIN_TEMPERATURE: Spec("degC", 25.0, 45.0),
    Kind.ROOM_TEMPERATURE: Spec("degC", -20.0, 60.0),
    Kind.WATER_LEAK: _BINARY,
    Kind.BATTERY: Spec("%", 0.0, 100.0),
    Kind.LINK_QUALITY: Spec("lqi", 0.0, 255.0),
    Kind.AVAILABILITY: _BINARY,
    Kind.TAMPER: _BINARY,
    Kind.SEAT_OCCUPANCY: _BINARY,
    Kind.APPLIANCE: _BINARY,
    Kind.ANSWER: _BINARY,
    Kind.LINK_TEST: _BINARY,
}

# Life-safety events: sent alone and at once, never dropped from an outbox. A resident's
# answer travels the same way: it cancels a possible fall within the minute, or holds a
# check back from the desk, only if it arrives in time. The daily test alarm too: it proves
# the path an alarm takes.
URGENT_KINDS: frozenset[Kind] = frozenset({Kind.FALL, Kind.SOS, Kind.WATER_LEAK, Kind.TAMPER,
                                           Kind.ANSWER, Kind.LINK_TEST})


def unit_of(kind: Kind) -> str:
    """The canonical unit of ``kind``."""
    return SPECS[kind].unit


def is_urgent(kind: Kind, value: float) -> bool:
    """True when a reading must travel alone and at once (an active life-safety event)."""
    return kind in URGENT_KINDS and value > 0.0
