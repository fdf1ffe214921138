from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry import topics
from telemetry.topics import Channel, EsphomeComponent, NativeStream, TopicError

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)


@given(ids, st.sampled_from(list(Channel)))
def test_central_round_trip(gateway: str, channel: Channel) -> None:
    parsed = topics.parse_central(topics.central(gateway, channel))
    assert parsed == (gateway, channel)


@pytest.mark.parametrize("topic", [
    "eldercare/v1/gw-1", "eldercare/v1/gw-1/readings/extra", "eldercare/v2/gw-1/readings",
    "eldercare/v1/GW 1/readings", "eldercare/v1/gw-1/unknown", "eldercare/v1/+/readings",
    "eldercare/v1/#/readings", "", "/", "eldercare/v1//readings",
])
def test_malformed_central_topics_are_rejected(topic: str) -> None:
    with pytest.raises(TopicError):
        topics.parse_central(topic)


@pytest.mark.parametrize("bad", ["", "GW", "gw/1", "gw+1", "gw#", "-gw", "a" * 65])
def test_ids_that_would_break_a_topic_are_refused(bad: str) -> None:
    with pytest.raises(TopicError):
        topics.central(bad, Channel.READINGS)


def test_filters_and_commands() -> None:
    assert topics.central_filter(Channel.READINGS) == "eldercare/v1/+/readings"
    assert topics.central_filter(Channel.URGENT, "ingest").startswith("$share/ingest/")
    assert topics.command("gw-1", "siren") == "eldercare/v1/gw-1/cmd/siren"


def test_acl_patterns_cover_every_channel_of_the_own_gateway_only() -> None:
    rules = topics.acl_patterns()
    writes = {t for access, t in rules if access == "write"}
    for channel in Channel:
        assert f"eldercare/v1/%u/{channel.value}" in writes
    assert all("%u" in t for _, t in rules)
    assert ("read", "eldercare/v1/%u/cmd/#") in rules


@given(st.lists(st.from_regex(r"[A-Za-z0-9_.-]{1,10}", fullmatch=True), min_size=1,
                max_size=3))
def test_z2m_round_trip_with_slashes_in_names(levels: list[str]) -> None:
    name = "/".join(levels)
    if levels[-1] in ("availability", "set", "get") or levels[0] == "bridge":
        return
    assert topics.parse_z2m(topics.z2m_state(name)) == (name, False)
    assert topics.parse_z2m(topics.z2m_availability(name)) == (name, True)


def test_z2m_bridge_and_commands_are_not_device_topics() -> None:
    assert topics.parse_z2m("zigbee2mqtt/bridge/state") is None
    assert topics.parse_z2m("zigbee2mqtt/room12/lamp/set") is None
    assert topics.parse_z2m("zigbee2mqtt/room12/lamp/get") is None
    with pytest.raises(TopicError):
        topics.parse_z2m("other/room12/front_door")
    with pytest.raises(TopicError):
        topics.parse_z2m("zigbee2mqtt/room 12")


def test_esphome_round_trip() -> None:
    t = topics.esphome_state("bed12-vitals", EsphomeComponent.SENSOR, "heart_rate")
    assert t == "bed12-vitals/sensor/heart_rate/state"
    assert topics.parse_esphome(t) == ("bed12-vitals", EsphomeComponent.SENSOR, "heart_rate")
    assert topics.parse_esphome(topics.esphome_status("bath12-fall")) == (
        "bath12-fall", None, "status")
    assert topics.parse_esphome("bath12-fall/binary_sensor/fall_detected/command") is None
    for bad in ("bath12-fall/light/x/state", "bath12-fall", "a/b/c/d/e"):
        with pytest.raises(TopicError):
            topics.parse_esphome(bad)


def test_native_round_trip() -> None:
    for stream in NativeStream:
        t = topics.native("h00001-wristband", stream)
        assert topics.parse_native(t) == ("h00001-wristband", stream)
    for bad in ("native/x", "native/x/gps", "other/x/vitals"):
        with pytest.raises(TopicError):
            topics.parse_native(bad)
