"""The ingest process: its sample config loads, and kill -9 under load loses nothing."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

import registry
from alerts.settings import AlertSettings
from central import config
from dashboard.settings import DashboardSettings
from harness.mosquitto import LocalMosquitto
from harness.process import free_port
from runtime.broker import BrokerConnection
from runtime.mqtt import MQTTv311, new_client
from telemetry import topics
from telemetry.clock import SystemClock
from telemetry.topics import Channel
from tests.support.commands import Command
from tests.support.readings import load_envelope, load_keys
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_the_sample_central_config_loads() -> None:
    cfg = config.load(config.SAMPLE)
    assert cfg.broker.username == "ingest" and cfg.registry.endswith("registry.yaml")
    assert cfg.retention.raw_days == 30 and cfg.retention.resolved_alert_days == 365


def _stored(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            n: int = conn.execute("SELECT COUNT(*) FROM raw").fetchone()[0]
        except sqlite3.OperationalError:
            return 0
        return n


def _start(cfg_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "eldercare_cli.main", "ingest", "--config",
                             str(cfg_path)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


@pytest.mark.integration
def test_kill_9_of_ingest_under_load_stores_every_reading_exactly_once(
    tmp_path: Path, mosquitto: LocalMosquitto,
) -> None:
    cfg = config.CentralConfig(data_dir=str(tmp_path / "data"),
                               registry=str(registry.SAMPLE),
                               broker=BrokerConnection(port=mosquitto.port))
    cfg_path = tmp_path / "central.toml"
    cfg_path.write_bytes(config.dump(cfg))
    db = tmp_path / "data" / "store.db"
    proc = _start(cfg_path)
    envelopes, per = 2000, 50  # enough that the kill lands in the middle of the load
    publisher = new_client(protocol=MQTTv311)
    publisher.max_inflight_messages_set(100)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    now = SystemClock().now_ms()

    def envelope(i: int) -> bytes:
        return load_envelope(i, per, now)

    try:
        # A probe until the process has subscribed (its session then queues the rest).
        def probe_stored() -> bool:
            publisher.publish(topics.central("gw-00000", Channel.READINGS), envelope(0),
                              qos=1).wait_for_publish(5)
            return _stored(db) >= per

        wait_until(probe_stored, 30, "ingest to store a probe")
        sender = threading.Thread(target=lambda: [
            publisher.publish(topics.central(f"gw-0000{i % 2}", Channel.READINGS),
                              envelope(i), qos=1).wait_for_publish(10)
            for i in range(1, envelopes)], daemon=True)
        sender.start()
        wait_until(lambda: _stored(db) >= 100 * per // 2, 60, "load under way")
        proc.kill()  # kill -9 in the middle of the load
        proc.wait()
        assert _stored(db) < envelopes * per  # it really died before the end
        sender.join(60)
        proc = _start(cfg_path)
        wait_until(lambda: _stored(db) >= envelopes * per, 60, "every reading stored")
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        proc.terminate()
        proc.wait(20)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT gateway, seq FROM raw").fetchall()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    expected = load_keys(envelopes, per)
    assert len(rows) == len(expected) and set(rows) == expected  # once each, none missing


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_central_process_stops_cleanly_within_10_s_of_a_signal(
    tmp_path: Path, mosquitto: LocalMosquitto, sig: signal.Signals,
) -> None:
    """Ingest, alert core and duty desk in one process, stopped as systemd or Ctrl-C does."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"default": {"steps": {"fall": [
        {"after_s": 60, "channel": "console", "to": "family"}]}}}))
    cfg = config.CentralConfig(
        data_dir=str(tmp_path / "data"), registry=str(registry.SAMPLE),
        broker=BrokerConnection(port=mosquitto.port),
        alerts=AlertSettings(policy=str(policy), callback_port=free_port()),
        dashboard=DashboardSettings(port=free_port()))
    cfg_path = tmp_path / "central.toml"
    cfg_path.write_bytes(config.dump(cfg))
    central = Command("ingest", "--config", str(cfg_path))
    try:
        central.wait_for("ingest running", 60)
        central.stop(sig)
    finally:
        central.kill()
