"""Dialect adapters against what the simulated devices send."""

from __future__ import annotations

import pytest

from edge_agent import config
from edge_agent.adapters import AdapterError, Observation
from edge_agent.adapters.esphome import EsphomeAdapter
from edge_agent.adapters.native import NativeAdapter
from edge_agent.adapters.zigbee2mqtt import Zigbee2mqttAdapter
from edge_agent.config import DeviceConfig
from telemetry.kinds import FallStatus, Kind
from telemetry.refusal import Refusal
from telemetry.topics import Dialect
from tests.firmware_stubs.test_dialects import CASES, T


def _adapter_for(case: str) -> tuple[Zigbee2mqttAdapter | EsphomeAdapter | NativeAdapter,
                                     DeviceConfig]:
    device, _ = CASES[case]
    name = getattr(device, "friendly_name", None) or getattr(device, "node", None) \
        or device.device_id
    dialect = Dialect(case.split("_")[0].replace("z2m", "zigbee2mqtt"))
    cfg = DeviceConfig("dev-1", dialect, name, [k for k in Kind if k is not Kind.MOTION
                                               or "RTCGQ11LM" in case])
    adapter = {Dialect.ZIGBEE2MQTT: Zigbee2mqttAdapter, Dialect.ESPHOME: EsphomeAdapter,
               Dialect.NATIVE: NativeAdapter}[dialect]([cfg])
    return adapter, cfg


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_a_device_sends_comes_back_as_what_it_observed(case: str) -> None:
    device, script = CASES[case]
    adapter, _ = _adapter_for(case)
    fresh = type(device)(*_ctor_args(device), **_ctor_kwargs(device))  # a new, blank device
    for message in fresh.birth(T):
        assert adapter.translate(message.topic, message.payload) == [
            Observation("dev-1", Kind.AVAILABILITY, 1.0)]
    for i, (kind, value) in enumerate(script):
        got: list[Observation] = []
        for message in fresh.observe(kind, value, T + 1000 * i):
            got += adapter.translate(message.topic, message.payload)
        if kind is Kind.FALL and value == FallStatus.MAYBE_FALL and "MR60FDA2" in case:
            assert got == []  # that radar has no two-stage report
            continue
        assert (kind, value) in [(o.kind, o.value) for o in got], (kind, value, got)


def _ctor_args(device: object) -> tuple[object, ...]:
    model = device.model
    name = getattr(device, "friendly_name", None) or getattr(device, "node", None) \
        or device.device_id
    return (model, name)


def _ctor_kwargs(device: object) -> dict[str, object]:
    if hasattr(device, "friendly_name"):
        return {"legacy_availability": device._legacy,  # type: ignore[attr-defined]
                "last_seen": device._last_seen}  # type: ignore[attr-defined]
    return {}


def _z2m(kinds: list[Kind]) -> Zigbee2mqttAdapter:
    return Zigbee2mqttAdapter([DeviceConfig("front-door", Dialect.ZIGBEE2MQTT,
                                            "room12/front_door", kinds)])


def test_z2m_absent_fields_give_no_readings_and_repeats_are_not_resent() -> None:
    adapter = _z2m([Kind.DOOR, Kind.BATTERY, Kind.LINK_QUALITY])
    first = adapter.translate("zigbee2mqtt/room12/front_door",
                              b'{"contact":true,"last_seen":"2024-04-08T21:21:36.794Z",'
                              b'"linkquality":144}')
    assert first == [Observation("front-door", Kind.DOOR, 0.0),
                     Observation("front-door", Kind.LINK_QUALITY, 144.0)]
    again = adapter.translate("zigbee2mqtt/room12/front_door",
                              b'{"contact":false,"battery":97,"linkquality":144}')
    assert again == [Observation("front-door", Kind.DOOR, 1.0),
                     Observation("front-door", Kind.BATTERY, 97.0)]


@pytest.mark.parametrize("payload", [b"offline", b'{"state":"offline"}'])
def test_z2m_availability_in_both_forms(payload: bytes) -> None:
    got = _z2m([Kind.DOOR]).translate("zigbee2mqtt/room12/front_door/availability", payload)
    assert got == [Observation("front-door", Kind.AVAILABILITY, 0.0)]


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    ("zigbee2mqtt/room12/front_door", b"{not json", Refusal.MALFORMED),
    ("zigbee2mqtt/room12/front_door", b"[1, 2]", Refusal.MALFORMED),
    ("zigbee2mqtt/room12/front_door", b'{"contact": "yes"}', Refusal.BAD_VALUE),
    ("zigbee2mqtt/room12/front_door", b'{"battery": NaN}', Refusal.BAD_VALUE),
    ("zigbee2mqtt/room12/front_door", b"\xff\xfe", Refusal.MALFORMED),
    ("zigbee2mqtt/room12/front_door/availability", b"maybe", Refusal.MALFORMED),
    ("zigbee2mqtt/room99/back_door", b'{"contact": true}', Refusal.UNKNOWN_DEVICE),
    ("elsewhere/room12/front_door", b"{}", Refusal.NOT_OURS),
])
def test_z2m_bad_input_is_refused_with_a_reason(topic: str, payload: bytes,
                                                reason: Refusal) -> None:
    with pytest.raises(AdapterError) as caught:
        _z2m([Kind.DOOR, Kind.BATTERY]).translate(topic, payload)
    assert caught.value.reason is reason


def test_z2m_bridge_messages_other_than_its_state_are_ignored() -> None:
    assert _z2m([Kind.DOOR]).translate("zigbee2mqtt/bridge/info", b'{"version":"1"}') == []


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    ("bed12-vitals/sensor/heart_rate/state", b"fast", Refusal.BAD_VALUE),
    ("bed12-vitals/sensor/heart_rate/state", b"nan", Refusal.BAD_VALUE),
    ("bed12-vitals/binary_sensor/has_target/state", b"YES", Refusal.BAD_VALUE),
    ("bed12-vitals/status", b"sleeping", Refusal.MALFORMED),
    ("bed99-vitals/sensor/heart_rate/state", b"64", Refusal.UNKNOWN_DEVICE),
])
def test_esphome_bad_input_is_refused(topic: str, payload: bytes, reason: Refusal) -> None:
    adapter = EsphomeAdapter([DeviceConfig("bed-vitals", Dialect.ESPHOME, "bed12-vitals",
                                           [Kind.HEART_RATE, Kind.PRESENCE])])
    with pytest.raises(AdapterError) as caught:
        adapter.translate(topic, payload)
    assert caught.value.reason is reason


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    ("native/h1-band/vitals", b'{"ts": 1, "hr": "x"}', Refusal.MALFORMED),
    ("native/h1-band/vitals", b"{", Refusal.MALFORMED),
    ("native/h1-band/status", b"gone", Refusal.MALFORMED),
    ("native/h2-band/vitals", b'{"ts": 1}', Refusal.UNKNOWN_DEVICE),
    ("native/h1-band/gps", b"{}", Refusal.NOT_OURS),
])
def test_native_bad_input_is_refused(topic: str, payload: bytes, reason: Refusal) -> None:
    adapter = NativeAdapter([DeviceConfig("wristband", Dialect.NATIVE, "h1-band",
                                          [Kind.HEART_RATE])])
    with pytest.raises(AdapterError) as caught:
        adapter.translate(topic, payload)
    assert caught.value.reason is reason


def test_native_vitals_keep_the_device_clock() -> None:
    adapter = NativeAdapter([DeviceConfig("wristband", Dialect.NATIVE, "h1-band",
                                          [Kind.HEART_RATE, Kind.SPO2])])
    got = adapter.translate("native/h1-band/vitals", b'{"ts": 1234, "hr": 70, "battery": 50}')
    assert got == [Observation("wristband", Kind.HEART_RATE, 70.0, 1234)]  # battery not asked


def test_the_sample_config_loads_and_covers_every_dialect() -> None:
    cfg = config.load(config.SAMPLE)
    assert cfg.gateway_id == "gw-00000"
    assert {d.dialect for d in cfg.devices} == set(Dialect)


def test_a_broken_config_is_refused_clearly(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "gw.toml"
    path.write_text(config.SAMPLE.read_text().replace('gateway_id = "gw-00000"',
                                                      'gateway_id = "GW 0"'))
    with pytest.raises(config.GatewayConfigError, match="gateway id"):
        config.load(path)
    path.write_text("site_id = 5")
    with pytest.raises(config.GatewayConfigError):
        config.load(path)


def test_the_sample_config_matches_the_simulated_home() -> None:
    from firmware_stubs import layout

    cfg = config.load(config.SAMPLE)
    by_id = {d.device_id: d for d in cfg.devices}
    for device in layout.DEVICES:
        mine = by_id[device.device_id]
        assert mine.local_name == layout.local_name(0, device)
        assert set(mine.kinds) == set(device.kinds)


def test_a_pendant_fall_becomes_a_fall_observation_at_the_impact() -> None:
    import numpy as np

    from firmware_stubs.dialects.native import NativeDevice

    adapter = NativeAdapter([DeviceConfig("pendant", Dialect.NATIVE, "h1-pendant",
                                          [Kind.FALL], fall_position="waist")])
    band = NativeDevice("EC-PD1", "h1-pendant")
    rng = np.random.default_rng(5)
    got: list[Observation] = []
    for s in range(20):
        block = band.accel(T + s * 1000, 1.0, rng, T + 8_300 if s == 8 else None,
                           lying=s > 8)
        got += adapter.translate(block.topic, block.payload)
    assert got == [Observation("pendant", Kind.FALL, float(FallStatus.FALL), T + 8_300)]
