"""Ingest on a real Mosquitto: poison input is dead-lettered, good readings stored once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import registry
from harness.mosquitto import LocalMosquitto
from ingest.consumer import Ingest
from ingest.deadletter import DeadLetters
from ingest.store.sqlite import SqliteStore
from runtime.backoff import Backoff
from runtime.mqtt import MQTTv311, new_client
from telemetry import codec, topics
from telemetry.clock import SystemClock
from telemetry.kinds import SPECS, Kind
from telemetry.parts import ZIGBEE_COORDINATOR
from telemetry.reading import Reading
from telemetry.topics import Channel
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


class Harness:
    def __init__(self, folder: Path, broker: LocalMosquitto) -> None:
        self.folder = folder
        self.broker = broker
        self.seen: list[Reading] = []
        self.lock = threading.Lock()
        self.ingest = self._make()
        self.publisher = new_client(protocol=MQTTv311)
        self.publisher.connect("127.0.0.1", broker.port)
        self.publisher.loop_start()
        self.seq = 0

    def _make(self) -> Ingest:
        ingest = Ingest(host="127.0.0.1", port=self.broker.port,
                        registry=registry.load(registry.SAMPLE),
                        store=SqliteStore(self.folder / "store.db"),
                        dead_letters=DeadLetters(self.folder / "dead.db"),
                        clock=SystemClock(), consumers=[self._consume])
        ingest.start()
        wait_until(ingest.ready.is_set, 10, "ingest subscribed")
        return ingest

    def restart(self) -> None:
        self.ingest.close()
        self.ingest.store.close()
        self.ingest.dead.close()
        self.ingest = self._make()

    def _consume(self, readings: list[Reading]) -> None:
        with self.lock:
            self.seen.extend(readings)

    def publish(self, payload: bytes, gateway: str = "gw-00000",
                channel: Channel = Channel.READINGS, topic: str | None = None) -> None:
        before = self.ingest.count("handled")
        self.publisher.publish(topic or topics.central(gateway, channel), payload,
                               qos=1).wait_for_publish(5)
        # "handled" is counted once a message is decoded, refused or handed on (not on
        # arrival, which raced the dead letter being written)
        wait_until(lambda: self.ingest.count("handled") > before, 10, "ingest to handle it")

    def good(self, n: int = 3, gateway: str = "gw-00000", claimed: str = "res-99999") -> bytes:
        now = SystemClock().now_ms()
        readings = []
        for _ in range(n):
            self.seq += 1
            readings.append(Reading("site-000", gateway, "wristband", Kind.HEART_RATE, 70.0,
                                    SPECS[Kind.HEART_RATE].unit, now, now, self.seq, claimed))
        return codec.encode(gateway, "site-000", now, readings)

    def close(self) -> None:
        self.publisher.loop_stop()
        self.publisher.disconnect()
        self.ingest.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    broker = LocalMosquitto().start()
    h = Harness(tmp_path_factory.mktemp("ingest"), broker)
    try:
        yield h
    finally:
        h.close()
        broker.close()


def test_good_readings_are_handed_on_and_stored_with_the_registry_resident(
    harness: Harness,
) -> None:
    stored = harness.ingest.store.count()
    harness.publish(harness.good(5))
    wait_until(lambda: harness.ingest.store.count() == stored + 5, 10, "five stored")
    assert {r.resident_id for r in harness.seen[-5:]} == {"res-00000"}  # not the claim


@pytest.mark.parametrize(("payload", "kwargs", "reason"), [
    (b"{not json", {}, "malformed"),
    (b'{"v": 9}', {}, "unsupported_version"),
    (b"x" * (codec.MAX_ENVELOPE_BYTES + 10), {}, "oversized"),
    (None, {"gateway": "gw-00777"}, "unknown_gateway"),
    (None, {"topic": "eldercare/v1/GW_X/readings"}, "bad_topic"),
])
def test_bad_envelopes_are_dead_lettered_with_their_reason(
    harness: Harness, payload: bytes | None, kwargs: dict[str, str], reason: str,
) -> None:
    before = harness.ingest.dead.reasons()[reason]
    harness.publish(payload if payload is not None else harness.good(1), **kwargs)
    assert harness.ingest.dead.reasons()[reason] == before + 1


def test_bad_readings_inside_a_good_envelope_go_alone(harness: Harness) -> None:
    now = SystemClock().now_ms()
    harness.seq += 3
    s = harness.seq
    unit = SPECS[Kind.HEART_RATE].unit
    readings = [
        Reading("site-000", "gw-00000", "wristband", Kind.HEART_RATE, 900.0, unit, now, now,
                s - 2, None),  # a heart rate of 900
        Reading("site-000", "gw-00000", "mystery-box", Kind.HEART_RATE, 70.0, unit, now,
                now, s - 1, None),
        Reading("site-000", "gw-00000", "wristband", Kind.HEART_RATE, 71.0, unit, now, now,
                s, None),
    ]
    before = harness.ingest.dead.reasons()
    stored = harness.ingest.store.count()
    harness.publish(codec.encode("gw-00000", "site-000", now, readings))
    wait_until(lambda: harness.ingest.store.count() == stored + 1, 10, "the good one stored")
    after = harness.ingest.dead.reasons()
    assert after["out_of_range"] == before["out_of_range"] + 1
    assert after["unknown_device"] == before["unknown_device"] + 1


def test_a_gateway_reporting_its_own_radio_is_heard_without_a_registry_entry(
    harness: Harness,
) -> None:
    now = SystemClock().now_ms()
    unit = SPECS[Kind.AVAILABILITY].unit
    harness.seq += 2
    radio = [Reading("site-000", "gw-00000", ZIGBEE_COORDINATOR, Kind.AVAILABILITY, 0.0, unit,
                     now, now, harness.seq - 1, "res-00000"),  # claims a resident: nobody's
             Reading("site-999", "gw-00000", ZIGBEE_COORDINATOR, Kind.AVAILABILITY, 0.0, unit,
                     now, now, harness.seq, None)]
    before = harness.ingest.dead.reasons()
    stored = harness.ingest.store.count()
    harness.publish(codec.encode("gw-00000", "site-000", now, radio))
    wait_until(lambda: harness.ingest.store.count() == stored + 1, 10, "the radio stored")
    with harness.lock:
        handed = [r for r in harness.seen if r.device_id == ZIGBEE_COORDINATOR]
    assert [(r.value, r.resident_id, r.site_id) for r in handed] == [(0.0, None, "site-000")]
    after = harness.ingest.dead.reasons()
    assert after["site_mismatch"] == before["site_mismatch"] + 1
    assert after["unknown_device"] == before["unknown_device"]


def test_a_replayed_envelope_is_stored_and_handed_on_once_even_after_a_restart(
    harness: Harness,
) -> None:
    payload = harness.good(4)
    stored = harness.ingest.store.count()
    harness.publish(payload)
    wait_until(lambda: harness.ingest.store.count() == stored + 4, 10, "stored")
    seen = len(harness.seen)
    harness.publish(payload)
    harness.restart()
    harness.publish(payload)
    assert harness.ingest.store.count() == stored + 4
    assert len(harness.seen) == seen


_VALID = codec.encode("gw-00000", "site-000", 1, [Reading(
    "site-000", "gw-00000", "wristband", Kind.HEART_RATE, 70.0, "bpm", 1, 1, 1, None)])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=600),
    st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), min_size=1,
             max_size=6).map(lambda edits: _mutate(_VALID, edits)),
))
def test_poison_never_stops_ingest_and_good_messages_between_are_stored(
    harness: Harness, poison: bytes,
) -> None:
    stored = harness.ingest.store.count()
    harness.publish(poison)
    harness.publish(harness.good(2))
    wait_until(lambda: harness.ingest.store.count() >= stored + 2, 10, "the good pair stored")


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, byte in edits:
        out[pos] = byte
    return bytes(out)


def test_what_was_refused_is_kept_with_topic_and_capped_raw_bytes(harness: Harness) -> None:
    harness.publish(b"y" * 10_000)
    row = harness.ingest.dead._db.execute(
        "SELECT topic, reason, LENGTH(raw), raw_size FROM dead_letters ORDER BY rowid DESC "
        "LIMIT 1").fetchone()
    assert row == ("eldercare/v1/gw-00000/readings", "malformed", 4096, 10_000)


def test_an_alert_core_failure_on_a_fall_is_retried_and_shown_not_swallowed(
    tmp_path: Path, mosquitto: LocalMosquitto,
) -> None:
    seen: list[Reading] = []
    failures = [10**9]  # the alert state's disk is full until we say otherwise

    def core(readings: list[Reading]) -> None:
        if failures[0] > 0:
            failures[0] -= 1
            raise RuntimeError("alert state: database or disk is full")
        seen.extend(readings)

    ingest = Ingest(host="127.0.0.1", port=mosquitto.port,
                    registry=registry.load(registry.SAMPLE),
                    store=SqliteStore(tmp_path / "store.db"),
                    dead_letters=DeadLetters(tmp_path / "dead.db"), clock=SystemClock(),
                    consumers=[core])
    ingest.handoff._backoff = Backoff(0.05, 0.2)
    publisher = new_client(protocol=MQTTv311)
    try:
        ingest.start()
        wait_until(ingest.ready.is_set, 10, "ingest subscribed")
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        now = SystemClock().now_ms()
        fall = Reading("site-000", "gw-00000", "pendant", Kind.FALL, 2.0,
                       SPECS[Kind.FALL].unit, now, now, 1, None)
        publisher.publish(topics.central("gw-00000", Channel.URGENT),
                          codec.encode("gw-00000", "site-000", now, [fall]),
                          qos=1).wait_for_publish(5)
        wait_until(lambda: ingest.status()["consumer_errors"] >= 2, 10, "a retry failed too")
        assert ingest.status()["alert_core_degraded"] is True  # what the desk's banner reads
        failures[0] = 0  # the disk has room again
        wait_until(lambda: [r.kind for r in seen] == [Kind.FALL], 10, "the fall handled")
        wait_until(lambda: ingest.status()["alert_core_degraded"] is False, 10, "recovered")
        # stored once, whatever the alert core did (the store's writer commits on its own
        # thread: a loaded machine may not have committed it yet when the core recovered)
        wait_until(lambda: ingest.store.count() >= 1, 10, "the fall stored")
        ingest.close()  # (its writer drained: nothing more to come)
        assert ingest.store.count() == 1
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        ingest.close()
        ingest.store.close()
        ingest.dead.close()


def test_a_subscription_the_broker_refuses_is_not_taken_for_one(
        tmp_path: Path, mosquitto: LocalMosquitto) -> None:
    """A SUBACK with a failure code (NATS refuses a filter its permissions deny; Mosquitto
    2.0 grants such a 3.1.1 subscription and delivers nothing) leaves the lane not ready
    and counted, and the subscription is asked for again, so a node never takes a
    partition as subscribed while the broker queues nothing for it."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    ingest = Ingest(host="127.0.0.1", port=mosquitto.port,
                    registry=registry.load(registry.SAMPLE),
                    store=SqliteStore(tmp_path / "store.db"),
                    dead_letters=DeadLetters(tmp_path / "dead.db"), clock=SystemClock(),
                    consumers=[])
    try:
        ingest.start()
        wait_until(ingest.ready.is_set, 10, "ingest subscribed")
        client, _ = ingest._lanes[0]
        subscribed = []
        real_subscribe = client.subscribe

        def subscribe(*args: object, **kwargs: object) -> object:
            subscribed.append(args)
            return real_subscribe(*args, **kwargs)  # type: ignore[arg-type]

        client.subscribe = subscribe  # type: ignore[method-assign]
        ingest.ready.clear()
        ingest._subscribed.clear()
        refused = ReasonCode(PacketTypes.SUBACK, identifier=0x80)
        client.on_subscribe(client, None, 1, [refused], None)  # as paho calls it
        assert ingest.count("subscribe_refused") == 1 and not ingest.ready.is_set()
        wait_until(lambda: len(subscribed) == 1, 10, "the subscription asked for again")
        wait_until(lambda: len(ingest._subscribed) == 1, 10, "granted this time")
    finally:
        ingest.close()
        ingest.store.close()
        ingest.dead.close()
