"""Two alert nodes on one broker (NATS, with the partition mapping) and one PostgreSQL
store: a fall in a partition that node A holds is pushed live to the duty desk served by
node B, and node B's desk can acknowledge it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import registry
from alerts.settings import AlertSettings, ClusterSettings
from central.config import CentralConfig
from central.process import CentralProcess
from dashboard.settings import DashboardSettings
from firmware_stubs.dialects import Message
from firmware_stubs.mqtt_out import Publisher
from harness.nats import NatsCluster
from harness.process import free_port
from registry.model import put
from runtime.broker import BrokerConnection
from telemetry import codec, topics
from telemetry.clock import SystemClock
from telemetry.kinds import FallStatus, Kind, unit_of
from telemetry.reading import Reading
from telemetry.topics import Channel
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 2
POLICY = Path(__file__).resolve().parents[2] / "alerts" / "policy.sample.yaml"


@pytest.fixture
def nats() -> Iterator[NatsCluster]:
    cluster = NatsCluster(1, PARTITIONS).start()
    try:
        yield cluster
    finally:
        cluster.close()


def _node(name: str, tmp_path: Path, nats: NatsCluster, dsn: str,
          desk: bool) -> CentralProcess:
    cfg = CentralConfig(
        data_dir=str(tmp_path / name), registry=str(registry.SAMPLE),
        client_id="eldercare-alerts", broker=BrokerConnection(port=nats.nodes[0].mqtt_port),
        alerts=AlertSettings(policy=str(POLICY), sms="console", callback_port=free_port()),
        dashboard=DashboardSettings(port=free_port()) if desk else None,
        cluster=ClusterSettings(node_id=name, state=dsn, partitions=PARTITIONS))
    return CentralProcess(cfg, SystemClock())


def test_a_fall_raised_on_one_node_is_pushed_to_the_desk_on_the_other(
        tmp_path: Path, nats: NatsCluster, fresh_database: str) -> None:
    a = _node("node-a", tmp_path, nats, fresh_database, desk=False)
    b = _node("node-b", tmp_path, nats, fresh_database, desk=True)
    node_a, node_b = a.cluster, b.cluster
    assert b.desk is not None and b.feed is not None and node_a and node_b
    pushed: list[dict[str, Any]] = []
    publish = b.desk.live.publish

    def recording(event: dict[str, Any]) -> None:  # what node B's open pages are sent
        pushed.append(event)
        publish(event)

    b.desk.live.publish = recording  # type: ignore[method-assign]
    a.start()
    b.start()
    try:
        wait_until(lambda: len(node_a.leases.held) == len(node_b.leases.held) == 1,
                   20, "one partition each")
        assert b.feed.listening.wait(10)
        # a resident behind a gateway in node A's partition falls
        device = next(d for d in a.registry.devices.values()
                      if d.resident_id and topics.partition_of(d.gateway_id, PARTITIONS)
                      in node_a.leases.held)
        gateway = a.registry.gateways[device.gateway_id]
        now = SystemClock().now_ms()
        fall = Reading(gateway.site_id, gateway.gateway_id, device.device_id, Kind.FALL,
                       float(FallStatus.FALL), unit_of(Kind.FALL), now, now, 1,
                       device.resident_id)
        gateway_out = Publisher(f"mqtt://127.0.0.1:{nats.nodes[0].mqtt_port}", "test-gateway")
        try:
            gateway_out.publish([Message(topics.central(gateway.gateway_id, Channel.URGENT),
                                         codec.encode(gateway.gateway_id, gateway.site_id,
                                                      now, [fall]), False)])
            assert gateway_out.flush(10)
        finally:
            gateway_out.close()
        wait_until(lambda: any(e.get("change") == "opened" for e in pushed), 10,
                   "the fall on node B's desk")
        opened = next(e for e in pushed if e.get("change") == "opened")
        assert opened["alert"]["condition"] == "fall"
        alert_id = opened["alert"]["alert_id"]
        # node B's desk acknowledges it: the shared store says so, and node A's timers stop
        assert b.alerts is not None and a.alerts is not None
        b.alerts.core.acknowledge(alert_id, "nurse-b", "on my way")
        acked = a.alerts.db.alerts.get(alert_id)
        assert acked is not None and acked.state.value == "acknowledged"
    finally:
        b.close()
        a.close()


def test_a_resident_admitted_on_one_node_s_desk_is_watched_by_the_node_holding_them(
        tmp_path: Path, nats: NatsCluster, fresh_database: str) -> None:
    """The registry is in the shared store: a resident and their fall sensor enrolled
    through node A reach node B, which holds their gateway's partition, within 5 s, and
    their fall raises an alarm there, without a restart of either node."""
    a = _node("node-a", tmp_path, nats, fresh_database, desk=False)
    b = _node("node-b", tmp_path, nats, fresh_database, desk=False)
    node_a, node_b = a.cluster, b.cluster
    assert node_a and node_b and b.alerts is not None
    a.start()
    b.start()
    try:
        wait_until(lambda: len(node_a.leases.held) == len(node_b.leases.held) == 1,
                   20, "one partition each")
        held = next(iter(node_b.leases.held))
        gateway_id = next(g for g in (f"gw-1{i:04d}" for i in range(100))
                          if topics.partition_of(g, PARTITIONS) == held)
        resident = registry.Resident("res-10000", "site-001", "flat-9", "Test Resident New")
        radar = registry.Device("radar", gateway_id, resident.resident_id)
        enrolled = SystemClock().now_ms()
        a.registry_db.write([put(resident), put(registry.Gateway(gateway_id, "site-001")),
                             put(radar)], a.registry)
        wait_until(lambda: b.registry.device(gateway_id, "radar") is not None, 5,
                   "the new sensor known to node B within 5 s")
        print(f"change on node A known to node B after "
              f"{(SystemClock().now_ms() - enrolled) / 1000:.2f} s")
        wait_until(lambda: bool(b.alerts and b.alerts.bank.detectors_of("res-10000")), 5,
                   "the new resident watched on node B")
        now = SystemClock().now_ms()
        fall = Reading("site-001", gateway_id, "radar", Kind.FALL, float(FallStatus.FALL),
                       unit_of(Kind.FALL), now, now, 1)
        gateway_out = Publisher(f"mqtt://127.0.0.1:{nats.nodes[0].mqtt_port}", "test-gateway")
        try:
            gateway_out.publish([Message(topics.central(gateway_id, Channel.URGENT),
                                         codec.encode(gateway_id, "site-001", now, [fall]),
                                         False)])
            assert gateway_out.flush(10)
        finally:
            gateway_out.close()
        wait_until(lambda: any(al.subject == "res-10000" and al.condition.value == "fall"
                               for al in b.alerts.db.alerts.find(open_only=True)), 10,
                   "the new resident's fall raised")
    finally:
        b.close()
        a.close()
