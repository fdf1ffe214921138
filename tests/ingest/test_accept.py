"""Ingest's acceptance, apart from any broker or store: each refusal with its reason from
the one vocabulary, the registry's resident on every reading, a replay taken once."""

from __future__ import annotations

import registry
from ingest.accept import Acceptor, Refused
from ingest.dedup import Dedup
from registry import Registry, RegistryFile
from telemetry import codec, health, topics
from telemetry.kinds import Kind
from telemetry.refusal import Refusal
from telemetry.topics import Channel
from tests.support.readings import T0, reading

REG = registry.load(registry.SAMPLE)
TOPIC = topics.central("gw-00000", Channel.READINGS)


def _acceptor() -> Acceptor:
    return Acceptor(REG, Dedup())


def test_valid_readings_get_the_registry_s_resident_and_a_replay_is_taken_once() -> None:
    accept = _acceptor()
    r = reading(Kind.HEART_RATE, 70, T0, device_id="bed-vitals", resident_id="someone-else")
    raw = codec.encode("gw-00000", "site-000", T0, [r])
    first = accept.readings(TOPIC, raw, T0)
    assert [x.resident_id for x in first.readings] == ["res-00000"]
    assert first.refused == [] and first.duplicates == 0
    again = accept.readings(TOPIC, raw, T0)
    assert again.readings == [] and again.duplicates == 1
    accept.forget(first.readings)  # its message stayed unacknowledged: new again
    assert len(accept.readings(TOPIC, raw, T0).readings) == 1


def test_each_refusal_says_why() -> None:
    # the sample registry, but its wristband only behind the other gateway
    devices = [d for d in REG.devices.values()
               if (d.gateway_id, d.device_id) != ("gw-00000", "wristband")]
    assert ("gw-00001", "wristband") in REG.devices
    accept = Acceptor(Registry(RegistryFile(list(REG.sites.values()),
                                            list(REG.gateways.values()),
                                            list(REG.residents.values()), devices)), Dedup())
    readings = [reading(Kind.HEART_RATE, 70, T0, device_id="no-such-device"),
                reading(Kind.HEART_RATE, 70, T0, device_id="wristband"),
                reading(Kind.HEART_RATE, 70, T0, device_id="bed-vitals", site_id="site-x"),
                reading(Kind.HEART_RATE, 70, T0, device_id="bed-vitals")]
    raw = codec.encode("gw-00000", "site-000", T0, readings)
    accepted = accept.readings(TOPIC, raw, T0)
    assert len(accepted.readings) == 1
    assert [r.reason for r in accepted.refused] == [
        Refusal.UNKNOWN_DEVICE, Refusal.FOREIGN_DEVICE, Refusal.SITE_MISMATCH]
    assert accept.readings("not/ours", raw, T0).refused[0].reason is Refusal.BAD_TOPIC
    assert accept.readings(topics.central("gw-99999", Channel.READINGS), raw, T0) \
        .refused[0].reason is Refusal.UNKNOWN_GATEWAY
    assert accept.readings(TOPIC, b"{not json", T0).refused[0].reason is Refusal.MALFORMED


def test_a_gateway_status_is_online_offline_or_refused() -> None:
    accept = _acceptor()
    status = topics.central("gw-00000", Channel.STATUS)
    assert accept.status(status, health.OFFLINE).online is False
    online = accept.status(status, health.ONLINE)
    assert online.online and online.gateway is not None and online.refused is None
    assert accept.status(status, b"maybe").refused == Refused(Refusal.BAD_STATUS, "maybe")
