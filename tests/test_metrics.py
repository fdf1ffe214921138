"""Operators' view, end to end: a real Prometheus scrapes the central process and a gateway's
edge agent (run as ``eldercare edge``), and what it stores is what happened; readiness says
when the centre loses its broker."""

from __future__ import annotations

import json
import re
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import yaml

import registry
from alerts.settings import AlertSettings
from central.config import CentralConfig
from central.process import CentralProcess
from edge_agent import config as edge_config
from firmware_stubs.dialects import Message
from firmware_stubs.mqtt_out import Publisher
from harness.mosquitto import LocalMosquitto
from harness.process import free_port
from runtime.broker import BrokerConnection
from runtime.metrics_config import MetricsConfig
from telemetry.clock import SystemClock
from tests.support.commands import Command
from tests.support.prometheus import LocalPrometheus
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration  # Mosquitto and Prometheus (setup.sh dev)

RADAR = "zigbee2mqtt/h00000/bathroom_radar"
DOOR = "zigbee2mqtt/h00000/front_door"


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.fixture
def brokers() -> Iterator[tuple[LocalMosquitto, LocalMosquitto]]:
    central, edge = LocalMosquitto().start(), LocalMosquitto().start()
    try:
        yield central, edge
    finally:
        edge.close()
        central.close()


def _central(tmp_path: Path, broker: LocalMosquitto) -> CentralProcess:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"default": {"steps": {"fall": [
        {"after_s": 0, "channel": "sms", "to": "family"}]}}}))
    cfg = CentralConfig(data_dir=str(tmp_path / "central"), registry=str(registry.SAMPLE),
                        broker=BrokerConnection(port=broker.port),
                        alerts=AlertSettings(policy=str(policy), callback_port=free_port(),
                                             sms="console"),
                        metrics=MetricsConfig(port=0))
    return CentralProcess(cfg, SystemClock())


def _edge(tmp_path: Path, edge: LocalMosquitto, central: LocalMosquitto, port: int) -> Command:
    cfg = msgspec.structs.replace(
        edge_config.load(edge_config.SAMPLE), data_dir=str(tmp_path / "edge-data"),
        link_test=False,
        local=BrokerConnection(port=edge.port), uplink=BrokerConnection(port=central.port),
        metrics=MetricsConfig(port=port))
    path = tmp_path / "gateway.toml"
    path.write_bytes(edge_config.dump(cfg))
    return Command("edge", "--config", str(path), "--heartbeat", "1")


DASHBOARD = Path(__file__).resolve().parents[1] / "deploy/grafana/eldercare.json"
# Only there with InfluxDB (the spool) or Kannel (the SMS gateway), which this test does
# not start; a quantile of rates needs more traffic than one fall.
NOT_HERE = {"eldercare_spool_readings", "eldercare_sms_gateway_up"}


def _check_dashboard(prom: LocalPrometheus) -> None:
    """Every query of the shipped Grafana dashboard is valid PromQL over metric names the
    processes really export, and those this run feeds show data."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"\beldercare_[a-z_]+", e)}
    assert used - NOT_HERE <= prom.names(), sorted(used - NOT_HERE - prom.names())
    fed = [e for e in exprs if not any(n in e for n in (*NOT_HERE, "histogram_quantile"))]
    for e in exprs:
        prom.query(e)  # fails on invalid PromQL
    # a rate needs two scrapes of a series: wait for them rather than assume
    wait_until(lambda: all(prom.query(e) for e in fed), 20, "every fed panel shows data")


def test_prometheus_sees_a_fall_a_refusal_and_a_lost_broker_at_both_ends(
    tmp_path: Path, brokers: tuple[LocalMosquitto, LocalMosquitto],
) -> None:
    central_broker, edge_broker = brokers
    central = _central(tmp_path, central_broker)
    assert central.ops is not None
    edge_port = free_port()
    central.start()
    edge = _edge(tmp_path, edge_broker, central_broker, edge_port)
    prometheus: LocalPrometheus | None = None
    publisher = Publisher(edge_broker.url, "zigbee2mqtt-bridge")
    try:
        edge.wait_for(f"metrics on http://127.0.0.1:{edge_port}/metrics", 20)
        edge_url = f"http://127.0.0.1:{edge_port}"
        prometheus = LocalPrometheus({"central": [f"127.0.0.1:{central.ops.port}"],
                                      "edge": [f"127.0.0.1:{edge_port}"]}).start()
        prom = prometheus
        wait_until(lambda: _get(f"{edge_url}/health/ready")[0] == 200, 20, "edge ready")
        wait_until(lambda: _get(f"{central.ops.url}/health/ready")[0] == 200, 20,
                   "central ready")
        wait_until(lambda: prom.value('up{job="edge"}') == 1
                   and prom.value('up{job="central"}') == 1, 30, "both scraped")

        publisher.publish([Message(RADAR, b'{"fall_down_status": "fall"}', False),
                           Message(DOOR, b"{not json", False)])
        assert publisher.flush(10)
        forger = Publisher(central_broker.url, "not-a-gateway")  # poison at the centre too
        try:
            forger.publish([Message("eldercare/v1/gw-00000/readings", b"{not json", False)])
            assert forger.flush(10)
        finally:
            forger.close()

        def seen(expr: str, want: float) -> bool:
            got = prom.value(expr)
            return got is not None and got >= want

        for expr, want in [
            ('eldercare_edge_refused_total{reason="malformed"}', 1),
            ('eldercare_ingest_refused_total{reason="malformed"}', 1),
            ('eldercare_dead_letters{reason="malformed"}', 1),
            ("eldercare_edge_local_alarms_total", 1),
            ('eldercare_ingest_readings_total{outcome="stored"}', 1),
            ('eldercare_open_alerts{condition="fall",severity="critical"}', 1),
            ('eldercare_urgent_to_desk_seconds_count{condition="fall"}', 1),
            ('eldercare_notices{channel="sms",state="sent"}', 1),
            ("eldercare_store_write_seconds_count", 1),
            ("eldercare_broker_connected", 1),
            ("eldercare_edge_uplink_connected", 1),
        ]:
            wait_until(lambda e=expr, w=want: seen(e, w), 30, f"{expr} >= {want}")
        # one fall, one alert, delivered to the desk well within a second of the reading
        assert prom.value('eldercare_open_alerts{condition="fall"}') == 1
        # taken at the desk: the month's response figures, by the report's SQL
        assert central.alerts is not None
        (fall,) = [a for a in central.alerts.db.alerts.find(open_only=True)
                   if a.condition.value == "fall"]
        central.alerts.core.response.take(fall.alert_id, "nurse-1")
        for expr, want in [("eldercare_response_alarms", 1),
                           ('eldercare_response_answered_share{within="180s"}', 1),
                           ('eldercare_response_seconds{what="answer",quantile="p50"}', 0)]:
            wait_until(lambda e=expr, w=want: seen(e, w), 30, f"{expr} >= {want}")
        assert prom.value('histogram_quantile(1, eldercare_urgent_to_desk_seconds_bucket)') \
            <= 1.0

        _check_dashboard(prom)

        central_broker.close()  # the centre's broker goes away
        wait_until(lambda: _get(f"{central.ops.url}/health/ready")[0] == 503, 20,
                   "central unready without its broker")
        status, body = _get(f"{central.ops.url}/health/ready")
        assert status == 503 and body == {"ready": False, "checks": {"broker": False, "store": True,
                                                   "alert_state": True}}
        assert _get(f"{central.ops.url}/health/live")[0] == 200
        publisher.publish([Message(DOOR, b'{"contact": false}', False)])
        assert publisher.flush(10)
        for expr in ("eldercare_broker_connected == 0", "eldercare_edge_uplink_connected == 0",
                     "eldercare_edge_outbox_readings >= 1"):
            wait_until(lambda e=expr: bool(prom.query(e)), 30, expr)
        assert _get(f"{edge_url}/health/ready")[0] == 200  # the outbox covers the gap
    finally:
        publisher.close()
        if prometheus is not None:
            prometheus.close()
        try:
            edge.stop(signal.SIGTERM)
        finally:
            edge.kill()
            central.close()
