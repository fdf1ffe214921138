"""An alert node of several whose shared store (PostgreSQL) goes away for longer than its
lease: a fall that arrives meanwhile is not acknowledged to the broker while the alert core
cannot record it, so it reaches the desk and is texted once the store is back; and the desk
says the node is degraded for as long as the store is away (real NATS, real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import registry
from alerts.model import AlertState, NoticeState
from alerts.settings import AlertSettings, ClusterSettings
from central.config import CentralConfig
from central.process import CentralProcess
from firmware_stubs.dialects import Message
from firmware_stubs.mqtt_out import Publisher
from harness.nats import NatsCluster
from harness.postgres import LocalPostgres
from harness.process import free_port
from runtime.broker import BrokerConnection
from telemetry import codec, topics
from telemetry.clock import SystemClock
from telemetry.kinds import FallStatus, Kind, unit_of
from telemetry.reading import Reading
from telemetry.topics import Channel
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 2
OUTAGE_S = 8.0  # twice the lease


@pytest.fixture
def own_postgres() -> Iterator[LocalPostgres]:
    """A PostgreSQL of this test's own: it is stopped and started under the node."""
    server = LocalPostgres().start()
    try:
        yield server
    finally:
        server.close()


def _policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text("default:\n  steps:\n    fall:\n"
                    "      - {after_s: 0, channel: sms, to: family}\nsites: {}\n")
    return path


def _fall(node: CentralProcess, held: frozenset[int], now: int) -> tuple[str, str, Reading]:
    device = next(d for d in node.registry.devices.values()
                  if d.resident_id and topics.partition_of(d.gateway_id, PARTITIONS) in held)
    gateway = node.registry.gateways[device.gateway_id]
    return gateway.gateway_id, gateway.site_id, Reading(
        gateway.site_id, gateway.gateway_id, device.device_id, Kind.FALL,
        float(FallStatus.FALL), unit_of(Kind.FALL), now, now, 1, device.resident_id)


def test_a_fall_during_a_store_outage_longer_than_the_lease_reaches_the_desk_and_is_texted(
        tmp_path: Path, own_postgres: LocalPostgres) -> None:
    dsn = own_postgres.create_database("outage")
    nats = NatsCluster(1, PARTITIONS).start()
    node = CentralProcess(CentralConfig(
        data_dir=str(tmp_path / "node"), registry=str(registry.SAMPLE),
        client_id="eldercare-alerts", broker=BrokerConnection(port=nats.nodes[0].mqtt_port),
        alerts=AlertSettings(policy=str(_policy(tmp_path)), sms="console",
                             callback_port=free_port()),
        cluster=ClusterSettings(node_id="node-a", state=dsn, partitions=PARTITIONS,
                                lease_ttl_s=4)), SystemClock())
    cluster, alerts = node.cluster, node.alerts
    assert cluster is not None and alerts is not None
    node.start()
    try:
        wait_until(lambda: len(cluster.leases.held) == PARTITIONS
                   and all(node.ingest.subscribed(p) for p in range(PARTITIONS)), 30,
                   "both partitions held and subscribed")
        gateway_id, site_id, fall = _fall(node, cluster.leases.held, SystemClock().now_ms())
        own_postgres.stop()
        out = Publisher(f"mqtt://127.0.0.1:{nats.nodes[0].mqtt_port}", "test-gateway")
        try:
            out.publish([Message(topics.central(gateway_id, Channel.URGENT),
                                 codec.encode(gateway_id, site_id, fall.received_time_ms, [fall]),
                                 False)])
            assert out.flush(10)  # the broker has it
        finally:
            out.close()
        wait_until(lambda: node.status()["alert_core_degraded"] is True, 10,
                   "the desk's banner while the store is away")
        # past the lease: the node lets its partitions go; the banner must stay up
        wait_until(lambda: node.ingest.partitions() == [], 2 * OUTAGE_S,
                   "the partitions let go once the leases expired")
        assert node.status()["alert_core_degraded"] is True
        own_postgres.start()
        wait_until(lambda: any(a.condition.value == "fall" for a in alerts.db.alerts.find()), 30,
                   "the fall on the desk once the store is back")
        fall_alert = next(a for a in alerts.db.alerts.find() if a.condition.value == "fall")
        assert fall_alert.state is AlertState.OPEN
        wait_until(lambda: any(n.state is NoticeState.SENT
                               for n in alerts.db.notices.of(fall_alert.alert_id)), 30,
                   "the family texted")
        assert len(alerts.db.notices.of(fall_alert.alert_id)) == 1  # once, not twice
        wait_until(lambda: node.status()["alert_core_degraded"] is False, 30,
                   "the banner gone once the store is back and the fall handled")
    finally:
        node.close()
        nats.close()
