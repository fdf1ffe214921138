"""What an alert is about: conditions, severities, and the signal a detector emits.

One place for each fact about a condition: its severity and whether it may clear by itself
(a heart rate back in range) or needs a person to resolve it (a fall stays open until the
desk has looked, even if the resident got up).
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ALARM = 3
    CRITICAL = 4


class Condition(enum.StrEnum):
    """Wire and database strings: never rename, only add."""

    FALL = "fall"
    SOS = "sos"
    WATER_LEAK = "water_leak"
    TAMPER = "tamper"
    BED_EXIT_NIGHT = "bed_exit_night"
    NIGHT_WANDERING = "night_wandering"
    HEART_RATE_HIGH = "heart_rate_high"
    HEART_RATE_LOW = "heart_rate_low"
    RESPIRATION_HIGH = "respiration_high"
    RESPIRATION_LOW = "respiration_low"
    SPO2_LOW = "spo2_low"
    SKIN_TEMPERATURE_HIGH = "skin_temperature_high"
    HEART_RATE_ABOVE_USUAL = "heart_rate_above_usual"
    SKIN_TEMPERATURE_ABOVE_USUAL = "skin_temperature_above_usual"
    VITALS_ANOMALY = "vitals_anomaly"
    INACTIVITY = "inactivity"  # the alarm tier: far beyond any silence the routine showed
    INACTIVITY_CHECK = "inactivity_check"  # longer than the routine makes likely: desk only
    DEVICE_SILENT = "device_silent"
    LOW_BATTERY = "low_battery"
    GATEWAY_OFFLINE = "gateway_offline"
    ROOM_TEMPERATURE_ANOMALY = "room_temperature_anomaly"
    RADIO_OFFLINE = "radio_offline"  # a gateway's radio (its Zigbee coordinator) is down


# A person's own call for help or fall is never muted by a silence on their whole site or
# gateway (maintenance on a floor, a fire drill): only by one on the resident.
NEVER_SILENCED_WIDE: frozenset[Condition] = frozenset({Condition.FALL, Condition.SOS})


class Profile(NamedTuple):
    severity: Severity
    self_clearing: bool  # resolves when the detector says the condition is over


PROFILES: dict[Condition, Profile] = {
    Condition.FALL: Profile(Severity.CRITICAL, False),
    Condition.SOS: Profile(Severity.CRITICAL, False),
    Condition.WATER_LEAK: Profile(Severity.ALARM, False),
    Condition.TAMPER: Profile(Severity.WARNING, False),
    Condition.BED_EXIT_NIGHT: Profile(Severity.ALARM, True),
    Condition.NIGHT_WANDERING: Profile(Severity.ALARM, False),
    Condition.HEART_RATE_HIGH: Profile(Severity.ALARM, True),
    Condition.HEART_RATE_LOW: Profile(Severity.ALARM, True),
    Condition.RESPIRATION_HIGH: Profile(Severity.ALARM, True),
    Condition.RESPIRATION_LOW: Profile(Severity.CRITICAL, True),
    Condition.SPO2_LOW: Profile(Severity.ALARM, True),
    Condition.SKIN_TEMPERATURE_HIGH: Profile(Severity.WARNING, True),
    Condition.HEART_RATE_ABOVE_USUAL: Profile(Severity.WARNING, True),
    Condition.SKIN_TEMPERATURE_ABOVE_USUAL: Profile(Severity.WARNING, True),
    Condition.VITALS_ANOMALY: Profile(Severity.INFO, True),
    Condition.INACTIVITY: Profile(Severity.ALARM, True),
    # the desk phones or visits; a check never texts the family or calls rescue
    Condition.INACTIVITY_CHECK: Profile(Severity.WARNING, True),
    Condition.DEVICE_SILENT: Profile(Severity.WARNING, True),
    Condition.LOW_BATTERY: Profile(Severity.INFO, True),
    Condition.GATEWAY_OFFLINE: Profile(Severity.WARNING, True),
    Condition.ROOM_TEMPERATURE_ANOMALY: Profile(Severity.WARNING, False),
    # like a gateway offline: the desk acts on it; a technical fault never calls rescue
    Condition.RADIO_OFFLINE: Profile(Severity.WARNING, True),
}


class Signal(NamedTuple):
    """A detector's verdict: a condition began (``active``) or ended for a subject.

    ``subject`` is a resident id, or for device and gateway health the device's
    ``gateway/device`` or the gateway id; ``site_id`` and ``gateway_id`` say where.
    """

    condition: Condition
    subject: str
    active: bool
    t_ms: int
    site_id: str
    gateway_id: str
    detail: str = ""
    device_id: str = ""
