"""Store workers: the central process hands every reading to its consumers while worker
processes store them; a worker killed with -9 under load is restarted and nothing is lost."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

import registry
from central import config
from central.config import CentralConfigError
from central.process import CentralProcess
from harness.mosquitto import LocalMosquitto
from ingest.roles import ProcessRole
from runtime.broker import BrokerConnection
from runtime.mqtt import MQTTv311, new_client
from telemetry import codec, topics
from telemetry.clock import SystemClock
from telemetry.kinds import SPECS, FallStatus, Kind
from telemetry.reading import Reading
from telemetry.topics import Channel
from tests.support.readings import load_envelope, load_keys
from tests.support.wait import wait_until


def _rows(db: Path) -> list[tuple[str, int]]:
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            return conn.execute("SELECT gateway, seq FROM raw").fetchall()
        except sqlite3.OperationalError:  # the worker has not made the table yet
            return []


def test_store_workers_are_refused_where_they_make_no_sense(tmp_path: Path) -> None:
    base = config.CentralConfig(data_dir=str(tmp_path), registry=str(registry.SAMPLE))
    for bad in (config.CentralConfig(data_dir=str(tmp_path), registry=str(registry.SAMPLE),
                                     store_workers=-1),
                config.CentralConfig(data_dir=str(tmp_path), registry=str(registry.SAMPLE),
                                     store_workers=1, role=ProcessRole.STORE)):
        with pytest.raises(CentralConfigError):
            CentralProcess(bad, SystemClock())
    assert base.store_workers == 0 and base.role is ProcessRole.ALL


@pytest.mark.integration
def test_a_killed_store_worker_is_restarted_and_every_reading_is_stored_once(
    tmp_path: Path, mosquitto: LocalMosquitto,
) -> None:
    cfg = config.CentralConfig(data_dir=str(tmp_path / "data"), registry=str(registry.SAMPLE),
                               broker=BrokerConnection(port=mosquitto.port),
                               client_id="central-under-test", store_workers=1)
    central = CentralProcess(cfg, SystemClock())
    seen: list[Reading] = []
    lock = threading.Lock()

    def consume(readings: list[Reading]) -> None:
        with lock:
            seen.extend(readings)

    central.ingest.consumers.append(consume)
    assert central.ingest.role is ProcessRole.ALERTS and central.workers is not None
    db = tmp_path / "data" / "store.db"
    envelopes, per = 1500, 40
    now = SystemClock().now_ms()

    def envelope(i: int) -> bytes:
        return load_envelope(i, per, now)

    fall = codec.encode("gw-00000", "site-000", now, [Reading(
        "site-000", "gw-00000", "pendant", Kind.FALL, float(FallStatus.FALL),
        SPECS[Kind.FALL].unit, now, now, 10**9, None)])
    publisher = new_client(protocol=MQTTv311)
    publisher.max_inflight_messages_set(100)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    central.start()
    try:
        wait_until(central.ingest.ready.is_set, 30, "the central process subscribed")
        publisher.publish(topics.central("gw-00000", Channel.URGENT), fall,
                          qos=1).wait_for_publish(5)
        sender = threading.Thread(target=lambda: [
            publisher.publish(topics.central(f"gw-0000{i % 2}", Channel.READINGS),
                              envelope(i), qos=1).wait_for_publish(10)
            for i in range(envelopes)], daemon=True)
        sender.start()
        wait_until(lambda: len(_rows(db)) >= 100 * per, 60, "load under way")
        worker = central.workers.processes[0]
        assert worker is not None
        worker.kill()  # kill -9 in the middle of the load
        worker.wait()
        assert len(_rows(db)) < envelopes * per + 1  # it really died before the end
        sender.join(60)
        wait_until(lambda: central.workers is not None and central.workers.restarts == 1,
                   30, "the worker restarted")
        wait_until(lambda: len(_rows(db)) >= envelopes * per + 1, 60, "every reading stored")
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        central.close()
    rows = _rows(db)
    expected = load_keys(envelopes, per) | {("gw-00000", 10**9)}
    assert len(rows) == len(expected) and set(rows) == expected  # once each, none missing
    with lock:
        handed = sorted((r.gateway_id, r.seq) for r in seen)
    assert handed == sorted(expected)  # the consumers saw each reading exactly once
    assert central.ingest.counts.get("stored", 0) == 0  # this process wrote none itself
