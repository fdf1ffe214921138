"""Who lives where and which devices each simulated home has.

Every simulated home has one gateway, one resident and the same set of devices (one row of
``DEVICES`` each). Names are obviously fake: home ``h00012``, gateway ``gw-00012``,
resident ``res-00012``.
"""

from __future__ import annotations

import enum
from typing import Final, NamedTuple

from telemetry.kinds import Kind
from telemetry.topics import Dialect

HOMES_PER_SITE: Final = 20


class Room(enum.StrEnum):
    BEDROOM = "bedroom"
    BATHROOM = "bathroom"
    LIVING = "living"
    HALL = "hall"


class Device(NamedTuple):
    """One device of a home.

    ``local_name`` is the zigbee2mqtt friendly-name suffix, the ESPHome node suffix or the
    native device-id suffix; the home id is put in front of it so many homes can share a
    broker at device level.
    """

    device_id: str
    dialect: Dialect
    model: str
    room: Room
    local_name: str
    kinds: tuple[Kind, ...]
    battery_powered: bool


DEVICES: Final[tuple[Device, ...]] = (
    Device("front-door", Dialect.ZIGBEE2MQTT, "MCCGQ11LM", Room.HALL, "front_door",
           (Kind.DOOR, Kind.ROOM_TEMPERATURE, Kind.BATTERY, Kind.LINK_QUALITY), True),
    Device("bedroom-pir", Dialect.ZIGBEE2MQTT, "RTCGQ11LM", Room.BEDROOM, "bedroom_pir",
           (Kind.MOTION, Kind.BATTERY, Kind.LINK_QUALITY), True),
    Device("bathroom-pir", Dialect.ZIGBEE2MQTT, "RTCGQ11LM", Room.BATHROOM, "bathroom_pir",
           (Kind.MOTION, Kind.BATTERY, Kind.LINK_QUALITY), True),
    Device("living-pir", Dialect.ZIGBEE2MQTT, "RTCGQ11LM", Room.LIVING, "living_pir",
           (Kind.MOTION, Kind.BATTERY, Kind.LINK_QUALITY), True),
    Device("bathroom-radar", Dialect.ZIGBEE2MQTT, "MIR-HE200-TY_fall", Room.BATHROOM,
           "bathroom_radar", (Kind.FALL, Kind.PRESENCE, Kind.LINK_QUALITY), False),
    # the SOS pendant's second action (a double press) is the resident's answer: the
    # home unit's prompts are asked through the gateway and answered on it
    Device("sos-button", Dialect.ZIGBEE2MQTT, "TS0215A_sos", Room.LIVING, "sos_pendant",
           (Kind.SOS, Kind.ANSWER, Kind.BATTERY, Kind.LINK_QUALITY), True),
    Device("bathroom-leak", Dialect.ZIGBEE2MQTT, "SJCGQ11LM", Room.BATHROOM, "bathroom_leak",
           (Kind.WATER_LEAK, Kind.BATTERY, Kind.LINK_QUALITY), True),
    Device("bed-vitals", Dialect.ESPHOME, "MR60BHA2", Room.BEDROOM, "bed-vitals",
           (Kind.HEART_RATE, Kind.RESPIRATION_RATE, Kind.PRESENCE), False),
    Device("living-fall", Dialect.ESPHOME, "MR60FDA2", Room.LIVING, "living-fall",
           (Kind.FALL, Kind.PRESENCE), False),
    Device("wristband", Dialect.NATIVE, "EC-WB1", Room.LIVING, "wristband",
           (Kind.HEART_RATE, Kind.SPO2, Kind.SKIN_TEMPERATURE, Kind.BATTERY), True),
    Device("bed-mat", Dialect.NATIVE, "EC-BM1", Room.BEDROOM, "bed-mat",
           (Kind.BED_OCCUPANCY, Kind.BATTERY), True),
    # A belt-clip pendant streaming raw acceleration for the gateway's fall detector.
    Device("pendant", Dialect.NATIVE, "EC-PD1", Room.LIVING, "pendant",
           (Kind.FALL, Kind.BATTERY), True),
)

SLOT: Final[dict[str, int]] = {device.device_id: slot for slot, device in enumerate(DEVICES)}


def home_id(index: int) -> str:
    return f"h{index:05d}"


def gateway_id(index: int) -> str:
    return f"gw-{index:05d}"


def resident_id(index: int) -> str:
    return f"res-{index:05d}"


def site_id(index: int) -> str:
    return f"site-{index // HOMES_PER_SITE:03d}"


def local_name(index: int, device: Device) -> str:
    """The name a device of home ``index`` has on the gateway's local broker."""
    sep = "/" if device.dialect is Dialect.ZIGBEE2MQTT else "-"
    return f"{home_id(index)}{sep}{device.local_name}"
