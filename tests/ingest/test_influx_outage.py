"""InfluxDB stopped for 30 s under load: ingest keeps acknowledging (the batches go to its
local spool), and after InfluxDB returns every reading is there exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker_config.local import LocalMosquitto
from ingest import registry
from ingest.consumer import Ingest
from ingest.deadletter import DeadLetters
from ingest.store.influx import InfluxStore
from ingest.store.local_influx import LocalInfluxd
from ingest.store.spool import SpooledStore
from telemetry import codec, topics
from telemetry.clock import SystemClock
from telemetry.kinds import Kind, unit_of
from telemetry.reading import Reading
from telemetry.topics import Channel
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration
OUTAGE_S = 30.0
PER = 50


@pytest.fixture
def influx() -> Iterator[LocalInfluxd]:
    server = LocalInfluxd().start()
    try:
        yield server
    finally:
        server.close()


def test_influx_outage_under_load_loses_nothing_and_duplicates_nothing(
        tmp_path: Path, mosquitto: LocalMosquitto, influx: LocalInfluxd) -> None:
    store = SpooledStore(InfluxStore(influx.url, "eldercare", timeout_s=2.0),
                         tmp_path / "spool.db", retry_s=0.5)
    store.start()
    ingest = Ingest(host="127.0.0.1", port=mosquitto.port,
                    registry=registry.load(registry.SAMPLE), store=store,
                    dead_letters=DeadLetters(tmp_path / "dead.db"), clock=SystemClock(),
                    consumers=[])
    ingest.start()
    assert ingest.ready.wait(10)
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    publisher.max_inflight_messages_set(50)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    sent = [0]
    stop = threading.Event()
    # One device's readings are at distinct milliseconds, as a real device's are (InfluxDB
    # keeps one point per series and time: that is what makes a replay idempotent).
    t_start = SystemClock().now_ms() - 120_000

    def load() -> None:  # about 2,500 readings/s, with repeats of earlier envelopes
        while not stop.wait(0.02):
            now = SystemClock().now_ms()
            i = sent[0]
            gateway = f"gw-0000{i % 2}"
            batch = [Reading("site-000", gateway, "wristband", Kind.HEART_RATE, 70.0 + k % 9,
                             unit_of(Kind.HEART_RATE), t_start + i * PER + k, now,
                             i * PER + k + 1) for k in range(PER)]
            payload = codec.encode(gateway, "site-000", now, batch)
            publisher.publish(topics.central(gateway, Channel.READINGS), payload,
                              qos=1).wait_for_publish(10)
            if i % 10 == 3:  # an edge resending after a lost PUBACK
                publisher.publish(topics.central(gateway, Channel.READINGS), payload,
                                  qos=1).wait_for_publish(10)
            sent[0] += 1

    sender = threading.Thread(target=load, daemon=True)
    try:
        sender.start()
        wait_until(lambda: store.count() >= 20 * PER, 30, "load reaching InfluxDB")
        influx.stop()
        outage_started = sent[0]
        threading.Event().wait(OUTAGE_S)  # the outage itself: InfluxDB stays down this long
        assert sent[0] - outage_started > 100  # traffic went on meanwhile
        assert store.spooled_total > 0 and ingest.counts["store_errors"] == 0
        influx.start()
        stop.set()
        sender.join(30)
        total = sent[0] * PER
        wait_until(lambda: ingest.counts["stored"] >= total, 60, "every message acked")
        wait_until(lambda: store.pending() == 0, 60, "the spool to drain")
        wait_until(lambda: store.count() >= total, 60, "every reading in InfluxDB")
        assert store.count() == total  # none lost, none twice
    finally:
        stop.set()
        publisher.loop_stop()
        publisher.disconnect()
        ingest.close()
        store.close()
