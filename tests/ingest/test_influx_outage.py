"""InfluxDB stopped for 30 s under load: ingest keeps acknowledging (the batches go to its
local spool), and after InfluxDB returns every reading is there exactly once."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import registry
from harness.influx import LocalInfluxd
from harness.mosquitto import LocalMosquitto
from ingest.consumer import Ingest
from ingest.deadletter import DeadLetters
from ingest.store.influx import InfluxStore
from ingest.store.spool import SpooledStore
from runtime.mqtt import MQTTv311, new_client
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
    publisher = new_client(protocol=MQTTv311)
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


def _poison(influx: LocalInfluxd, t_ms: int) -> None:
    """Another writer of the same database put a text 'value' in the shard of ``t_ms``:
    InfluxDB now refuses every number written there (400, field type conflict)."""
    request = urllib.request.Request(
        f"{influx.url}/write?db=eldercare&precision=ms",
        data=f'reading,kind=heart_rate value="legacy text" {t_ms}'.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204


def _heart(seq: int, t_ms: int) -> Reading:
    return Reading("site-000", "gw-00000", "wristband", Kind.HEART_RATE, 70.0,
                   unit_of(Kind.HEART_RATE), t_ms, t_ms, seq, "res-00000")


def test_a_batch_influx_refuses_for_good_is_dead_lettered_and_nothing_queues_behind_it(
        tmp_path: Path, influx: LocalInfluxd) -> None:
    now = SystemClock().now_ms()
    bad_t, good_t = now - 60 * 86_400_000, now - 3_600_000  # two different shards
    _poison(influx, bad_t - 1)
    store = SpooledStore(InfluxStore(influx.url, "eldercare", timeout_s=2.0),
                         tmp_path / "spool.db", retry_s=0.2)
    store.start()
    try:
        # written at once: 3 readings of 10 land in the poisoned shard
        mixed = [_heart(i, (bad_t if i % 3 == 0 else good_t) + i) for i in range(1, 11)]
        store.write(mixed)
        status = store.status()
        assert status["store_refused_readings"] == 3 and status["spool_readings"] == 0
        # spooled during an outage: the poisoned batch must not hold back the next one
        influx.stop()
        store.write([_heart(100 + i, bad_t + 100 + i) for i in range(5)])
        store.write([_heart(200 + i, good_t + 200 + i) for i in range(5)])
        assert store.status()["spool_readings"] == 10
        age = store.status()["spool_oldest_age_s"]
        assert age is not None and age >= 0
        influx.start()
        wait_until(lambda: store.pending() == 0, 30, "the spool to drain past the poison")
        assert store.status()["store_refused_readings"] == 3 + 5
        good = store.buckets("res-00000", Kind.HEART_RATE, good_t, good_t + 3_600_000,
                             3_600_000)
        assert sum(b.samples for b in good) == 7 + 5  # every good reading is in InfluxDB
    finally:
        store.close()
