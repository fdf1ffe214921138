"""Whatever arrives on the gateway's broker, an adapter returns observations or raises
``AdapterError``: never anything else (a stray exception in paho's callback would kill the
agent's local loop while its heartbeats go on)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent import config
from edge_agent.adapters import AdapterError, Observation
from edge_agent.adapters.esphome import EsphomeAdapter
from edge_agent.adapters.native import NativeAdapter
from edge_agent.adapters.zigbee2mqtt import Zigbee2mqttAdapter
from telemetry import topics
from telemetry.kinds import Kind
from telemetry.parts import ZIGBEE_COORDINATOR
from telemetry.topics import Dialect, EsphomeComponent, NativeStream

CFG = config.load(config.SAMPLE)
_DEVICES = {d: [c for c in CFG.devices if c.dialect is d] for d in Dialect}


def _topics() -> list[str]:
    """Every topic the sample gateway subscribes to that a device can publish on."""
    out = [topics.z2m_bridge_state(CFG.z2m_base)]
    for d in _DEVICES[Dialect.ZIGBEE2MQTT]:
        out += [topics.z2m_state(d.local_name, CFG.z2m_base),
                topics.z2m_availability(d.local_name, CFG.z2m_base)]
    for d in _DEVICES[Dialect.ESPHOME]:
        out.append(topics.esphome_status(d.local_name))
        for component in EsphomeComponent:
            for name in ("heart_rate", "breath_rate", "fall_detected", "has_target", "is_fall"):
                out.append(topics.esphome_state(d.local_name, component, name))
    for d in _DEVICES[Dialect.NATIVE]:
        out += [topics.native(d.local_name, stream) for stream in NativeStream]
    return out


TOPICS = _topics()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=12) | st.sampled_from(
        ["state", "contact", "occupancy", "battery", "action", "fall_down_status", "ts", "hr",
         "linkquality", "temperature", "presence", "water_leak", "tamper"]), inner,
        max_size=5),
    max_leaves=12)
payloads = (st.binary(max_size=200)
            | json_values.map(lambda v: json.dumps(v).encode())
            | st.sampled_from([b"[" * 100_000, b"{\"a\":" * 50_000, b"[1]", b'{"state":[]}',
                               b'{"state":{}}', b"\xff\xfe", b"", b"NaN", b"1e999",
                               b'{"contact": []}', b'{"battery": {"x": 1}}']))


def _adapter(topic: str) -> Zigbee2mqttAdapter | NativeAdapter | EsphomeAdapter:
    if topic.startswith(CFG.z2m_base + "/"):
        return Zigbee2mqttAdapter(_DEVICES[Dialect.ZIGBEE2MQTT], CFG.z2m_base)
    if topic.startswith(topics.NATIVE_ROOT + "/"):
        return NativeAdapter(_DEVICES[Dialect.NATIVE])
    return EsphomeAdapter(_DEVICES[Dialect.ESPHOME])


@settings(max_examples=600, deadline=None)
@given(topic=st.sampled_from(TOPICS), payload=payloads)
def test_any_payload_on_any_subscribed_topic_is_observed_or_refused(topic: str,
                                                                     payload: bytes) -> None:
    try:
        got = _adapter(topic).translate(topic, payload)
    except AdapterError:
        return
    assert isinstance(got, list) and all(isinstance(o, Observation) for o in got)


def test_the_zigbee_coordinator_going_down_is_one_observation_of_the_gateway() -> None:
    adapter = _adapter(topics.z2m_bridge_state(CFG.z2m_base))
    bridge = topics.z2m_bridge_state(CFG.z2m_base)
    coordinator = (ZIGBEE_COORDINATOR, Kind.AVAILABILITY)
    states = [b"online", b"offline", b'{"state":"offline"}', b'{"state":"online"}',
              b"online", b"offline"]
    got = [[(o.device_id, o.kind, o.value) for o in adapter.translate(bridge, payload)]
           for payload in states]
    # the first always goes (the centre may hold it down from before), then changes only
    assert got == [[(*coordinator, 1.0)], [(*coordinator, 0.0)], [], [(*coordinator, 1.0)],
                   [], [(*coordinator, 0.0)]]
    assert sorted(adapter.zigbee_devices()) == sorted(
        d.device_id for d in _DEVICES[Dialect.ZIGBEE2MQTT])
    for bad in (b"", b"maybe", b'{"state": 1}', b"[1]"):
        try:
            adapter.translate(bridge, bad)
        except AdapterError:
            continue
        raise AssertionError(f"{bad!r} accepted")
