"""Each simulated device against a golden file, and against the fields its docs list."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from firmware_stubs.dialects import DeviceSim, Message
from firmware_stubs.dialects.esphome import EsphomeNode
from firmware_stubs.dialects.native import NativeDevice
from firmware_stubs.dialects.zigbee2mqtt import Z2mDevice
from telemetry import native, topics
from telemetry.kinds import FallStatus, Kind

GOLDEN = Path(__file__).parent / "golden"
T = 1_795_329_000_000

# Fields the device documentation lists (shared DEVICES.md), typed out here so a golden
# file cannot drift away from them unnoticed.
Z2M_FIELDS: dict[str, set[str]] = {
    "MCCGQ11LM": {"battery", "contact", "temperature", "voltage", "linkquality", "last_seen"},
    "RTCGQ11LM": {"battery", "occupancy", "device_temperature", "voltage", "illuminance_lux",
                  "illuminance", "power_outage_count", "linkquality", "last_seen"},
    "MIR-HE200-TY_fall": {"illuminance_lux", "illuminance", "presence", "occupancy",
                          "motion_speed", "motion_direction", "radar_sensitivity",
                          "radar_scene", "tumble_switch", "fall_sensitivity",
                          "tumble_alarm_time", "fall_down_status", "static_dwell_alarm",
                          "linkquality", "last_seen"},
    "TS0215A_sos": {"battery", "action", "linkquality", "last_seen"},
    "SJCGQ11LM": {"battery", "water_leak", "battery_low", "voltage", "temperature",
                  "linkquality", "last_seen"},
}

# (device, script of observations)
CASES: dict[str, tuple[DeviceSim, list[tuple[Kind, float]]]] = {
    "z2m_MCCGQ11LM": (Z2mDevice("MCCGQ11LM", "room12/front_door"), [
        (Kind.DOOR, 1.0), (Kind.DOOR, 0.0), (Kind.BATTERY, 91.0),
        (Kind.ROOM_TEMPERATURE, 21.5), (Kind.DOOR, 1.0), (Kind.AVAILABILITY, 0.0)]),
    "z2m_MCCGQ11LM_json_availability": (
        Z2mDevice("MCCGQ11LM", "room12/front_door", legacy_availability=False,
                  last_seen=True),
        [(Kind.DOOR, 1.0), (Kind.AVAILABILITY, 0.0), (Kind.AVAILABILITY, 1.0)]),
    "z2m_RTCGQ11LM": (Z2mDevice("RTCGQ11LM", "room12/bedroom_pir"), [
        (Kind.MOTION, 1.0), (Kind.MOTION, 0.0), (Kind.BATTERY, 100.0)]),
    "z2m_MIR-HE200-TY_fall": (Z2mDevice("MIR-HE200-TY_fall", "room12/bathroom_radar"), [
        (Kind.PRESENCE, 1.0), (Kind.FALL, float(FallStatus.MAYBE_FALL)),
        (Kind.FALL, float(FallStatus.FALL)), (Kind.FALL, float(FallStatus.NONE))]),
    "z2m_TS0215A_sos": (Z2mDevice("TS0215A_sos", "room12/sos_pendant"), [
        (Kind.SOS, 1.0), (Kind.BATTERY, 64.0), (Kind.SOS, 1.0)]),
    "z2m_SJCGQ11LM": (Z2mDevice("SJCGQ11LM", "room12/bathroom_leak"), [
        (Kind.WATER_LEAK, 1.0), (Kind.BATTERY, 15.0), (Kind.WATER_LEAK, 0.0)]),
    "esphome_MR60BHA2": (EsphomeNode("MR60BHA2", "bed12-vitals"), [
        (Kind.PRESENCE, 1.0), (Kind.HEART_RATE, 64.0), (Kind.RESPIRATION_RATE, 14.0),
        (Kind.PRESENCE, 0.0), (Kind.AVAILABILITY, 0.0)]),
    "esphome_MR60FDA2": (EsphomeNode("MR60FDA2", "bath12-fall"), [
        (Kind.PRESENCE, 1.0), (Kind.FALL, float(FallStatus.MAYBE_FALL)),
        (Kind.FALL, float(FallStatus.FALL)), (Kind.FALL, float(FallStatus.NONE)),
        (Kind.AVAILABILITY, 0.0)]),
    "native_EC-WB1": (NativeDevice("EC-WB1", "h00001-wristband"), [
        (Kind.HEART_RATE, 72.4), (Kind.SPO2, 96.0), (Kind.SKIN_TEMPERATURE, 33.4),
        (Kind.BATTERY, 80.0), (Kind.AVAILABILITY, 0.0)]),
    "native_EC-BM1": (NativeDevice("EC-BM1", "h00001-bed-mat"), [
        (Kind.BED_OCCUPANCY, 1.0), (Kind.BATTERY, 77.0), (Kind.BED_OCCUPANCY, 0.0)]),
}


def _render(device: DeviceSim, script: list[tuple[Kind, float]]) -> list[Message]:
    out = device.birth(T)
    for i, (kind, value) in enumerate(script):
        out.extend(device.observe(kind, value, T + 1000 * i))
    return out


def _as_json(messages: list[Message]) -> list[dict[str, object]]:
    return [{"topic": m.topic, "payload": m.payload.decode(), "retain": m.retain}
            for m in messages]


@pytest.mark.parametrize("case", sorted(CASES))
def test_device_matches_its_golden_file(case: str) -> None:
    device, script = CASES[case]
    got = _as_json(_render(device, script))
    path = GOLDEN / f"{case}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(path.read_text())


@pytest.mark.parametrize("model", sorted(Z2M_FIELDS))
def test_z2m_payloads_use_only_documented_fields(model: str) -> None:
    device = Z2mDevice(model, "room12/x", last_seen=True)
    for kind in Kind:
        for value in (0.0, 1.0, 2.0):
            for message in device.observe(kind, value, T):
                if message.topic.endswith("/availability"):
                    continue
                assert set(json.loads(message.payload)) <= Z2M_FIELDS[model]


def test_z2m_contact_true_means_closed() -> None:
    device = Z2mDevice("MCCGQ11LM", "room12/front_door")
    (opened,) = device.observe(Kind.DOOR, 1.0, T)
    (closed,) = device.observe(Kind.DOOR, 0.0, T)
    assert json.loads(opened.payload)["contact"] is False
    assert json.loads(closed.payload)["contact"] is True


def test_z2m_fields_are_absent_until_first_reported() -> None:
    device = Z2mDevice("MCCGQ11LM", "room12/front_door")
    (first,) = device.observe(Kind.DOOR, 1.0, T)
    assert "battery" not in json.loads(first.payload)
    device.observe(Kind.BATTERY, 90.0, T)
    (later,) = device.observe(Kind.DOOR, 0.0, T)
    assert json.loads(later.payload)["battery"] == 90


def test_availability_topics_are_retained_and_parse_back() -> None:
    for device, parse in [
        (Z2mDevice("RTCGQ11LM", "room12/pir"), lambda t: topics.parse_z2m(t).availability),
        (EsphomeNode("MR60FDA2", "bath12-fall"),
         lambda t: topics.parse_esphome(t).component is None),
        (NativeDevice("EC-WB1", "h1-band"),
         lambda t: topics.parse_native(t).stream is topics.NativeStream.STATUS),
    ]:
        for message in device.birth(T) + device.observe(Kind.AVAILABILITY, 0.0, T):
            assert message.retain
            assert parse(message.topic)


def test_wristband_accelerometer_shows_an_impact_then_stillness() -> None:
    import numpy as np

    band = NativeDevice("EC-WB1", "h00001-wristband")
    message = band.accel(T, 2.0, np.random.default_rng(1), impact_at_ms=T + 1000)
    block = native.decode(topics.NativeStream.ACCEL, message.payload)
    assert isinstance(block, native.Accel)
    magnitude = np.linalg.norm(np.asarray(block.xyz), axis=1)
    assert len(magnitude) == 40 and block.hz == 20.0
    assert magnitude.max() > 3.0 and magnitude.argmax() == 20
    assert magnitude[:14].max() < 1.3  # worn at rest before
    assert np.ptp(magnitude[21:]) < 1e-9  # still after
