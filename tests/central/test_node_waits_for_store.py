"""A node of several started before its shared store answers (a site powering up at once,
or a switch of primaries under way) waits for it and then runs by itself; asked to stop
while it waits, it stops at once (real PostgreSQL, real NATS, the real command)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

import registry
from alerts.settings import AlertSettings, ClusterSettings
from bench.cluster import AlertNode
from central.config import CentralConfig
from harness.nats import NatsCluster
from harness.postgres import LocalPostgres
from harness.process import free_port
from runtime.broker import BrokerConnection
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def nats() -> Iterator[NatsCluster]:
    cluster = NatsCluster(1, 2).start()
    try:
        yield cluster
    finally:
        cluster.close()


def _node(tmp_path: Path, nats: NatsCluster, dsn: str) -> AlertNode:
    policy = tmp_path / "policy.yaml"
    policy.write_text("default:\n  steps:\n    fall:\n"
                      "      - {after_s: 0, channel: sms, to: family}\nsites: {}\n")
    return AlertNode(0, tmp_path, CentralConfig(
        data_dir=str(tmp_path / "node"), registry=str(registry.SAMPLE),
        client_id="eldercare-alerts", broker=BrokerConnection(port=nats.nodes[0].mqtt_port),
        alerts=AlertSettings(policy=str(policy), sms="console", callback_port=free_port()),
        cluster=ClusterSettings(node_id="node-1", state=dsn, partitions=2, lease_ttl_s=4)))


def _said(node: AlertNode, words: str) -> bool:
    return words in (node.path.parent / f"{node.node_id}.log").read_text(errors="replace")


def test_a_node_started_before_its_store_waits_for_it_and_runs(
        tmp_path: Path, nats: NatsCluster) -> None:
    server = LocalPostgres(free_port())
    node = _node(tmp_path, nats, server.dsn("eldercare"))
    try:
        wait_until(lambda: _said(node, "waiting for the shared state store"), 30,
                   "the node says it waits for its store")
        assert node.process.poll() is None and not node.ready.is_set()
        server.start()
        server.create_database("eldercare")
        wait_until(node.ready.is_set, 60, "the node runs once its store answers")
        assert node.process.poll() is None
    finally:
        node.stop()
        server.close()
    assert node.process.returncode == 0


def test_a_node_waiting_for_its_store_stops_at_once_when_asked(
        tmp_path: Path, nats: NatsCluster) -> None:
    node = _node(tmp_path, nats, f"postgresql://postgres@127.0.0.1:{free_port()}/eldercare")
    try:
        wait_until(lambda: _said(node, "waiting for the shared state store"), 30,
                   "the node says it waits for its store")
        node.process.send_signal(signal.SIGTERM)
        assert node.process.wait(10) == 0
    finally:
        node.stop()
