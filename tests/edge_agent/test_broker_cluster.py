"""A gateway on a clustered broker (three real NATS nodes with their MQTT listeners): the
node it is connected to is killed -9 under traffic; it goes on through another node of
its list, within its backoff, and nothing is lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import msgspec
import pytest

from edge_agent import config
from edge_agent.config import GatewayConfig, GatewayConfigError
from edge_agent.outbox import EPOCH_SHIFT
from firmware_stubs.dialects import Message
from firmware_stubs.mqtt_out import Publisher
from firmware_stubs.runner import Level, RunConfig, run
from harness.mosquitto import LocalMosquitto
from harness.nats import NatsCluster
from runtime.broker import BrokerConnection
from telemetry import topics
from telemetry.topics import Channel
from tests.edge_agent.conftest import NATS_PARTITIONS, running_agent
from tests.edge_agent.test_agent_flow import GATEWAY, START, central_readings
from tests.edge_agent.test_resilience import _dedup
from tests.support.mqtt import Recorder
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

PARTITIONS = NATS_PARTITIONS


def test_a_gateway_goes_on_through_another_node_when_its_node_dies(
        tmp_path: Path, edge_broker: LocalMosquitto, nats: NatsCluster) -> None:
    first, *others = nats.addresses
    cfg = msgspec.structs.replace(
        config.load(config.SAMPLE), data_dir=str(tmp_path / "edge-data"), link_test=False,
        local=BrokerConnection(port=edge_broker.port),
        uplink=BrokerConnection(host=first[0], port=first[1],
                                also=[f"{h}:{p}" for h, p in others]))
    part = topics.partition_of(GATEWAY, PARTITIONS)
    # the alert node that owns the gateway's partition, on the third node
    centre = Recorder(nats.nodes[2].mqtt_port, [f"part/{part}/eldercare/v1/{GATEWAY}/+"],
                      client_id=f"alerts-part-{part}")
    try:
        with running_agent(cfg) as agent:
            wait_until(lambda: agent.uplink.connected.is_set() and agent.local_ready.is_set(),
                       20, "agent connected at both ends")
            traffic = RunConfig(level=Level.DEVICE, homes=1, speed=120, duration_s=12,
                                start_ms=START, step_s=5, incident_rate=0.0)
            publisher = Publisher(edge_broker.url, "sim-h00000")
            sender = threading.Thread(target=run, args=(traffic, publisher.publish))
            sender.start()
            wait_until(lambda: agent.uplink.acked_readings > 100, 20, "traffic flowing")
            nats.nodes[0].kill()  # the gateway's node dies under traffic
            killed_at = time.monotonic()
            wait_until(lambda: not agent.uplink.connected.is_set()
                       or time.monotonic() - killed_at > 0.5, 10, "the loss noticed")
            # The next node is tried at once (the test backoff is 0.05 s to 1 s), but it
            # accepts the session only once the cluster has re-elected the leaders of the
            # streams that hold MQTT sessions: 5-9 s on a quiet machine, past 10 s on a
            # loaded CI machine. The outbox covers the gap; what counts is that nothing is
            # lost.
            wait_until(agent.uplink.connected.is_set, 30, "connected to another node")
            sender.join(60)
            assert publisher.flush(30)
            publisher.close()
            wait_until(lambda: agent.outbox.depth() == 0, 60, "the outbox to drain")
            total = agent.readings_total

            def arrived() -> bool:
                urgent, routine = central_readings(centre)
                return len(_dedup(urgent + routine)[0]) >= total

            wait_until(arrived, 30, "every reading at the centre")
            epoch = agent.outbox.epoch
    finally:
        centre.close()
    urgent, routine = central_readings(centre)
    unique, repeats = _dedup(urgent + routine)
    start = (epoch << EPOCH_SHIFT) + 1
    assert sorted(r.seq for r in unique) == list(range(start, start + total))  # 0 lost
    assert total > 300
    assert repeats <= 64 * 500  # only what was in flight may come twice


def test_every_gateway_arrives_on_the_partition_the_alert_nodes_compute(
        nats: NatsCluster) -> None:
    gateways = [f"gw-{i:05d}" for i in range(24)]
    centre = Recorder(nats.nodes[1].mqtt_port, ["part/+/eldercare/v1/+/urgent"])
    try:
        publisher = Publisher(f"mqtt://127.0.0.1:{nats.nodes[0].mqtt_port}", "test-gateways")
        try:
            publisher.publish([Message(topics.central(g, Channel.URGENT), b"{}", False)
                               for g in gateways])
            assert publisher.flush(10)
        finally:
            publisher.close()
        wait_until(lambda: centre.count() >= len(gateways), 10, "every gateway's message")
    finally:
        centre.close()
    arrived = {m.topic.split("/")[4]: int(m.topic.split("/")[1]) for m in centre.snapshot()}
    assert arrived == {g: topics.partition_of(g, PARTITIONS) for g in gateways}
    assert set(arrived.values()) == set(range(PARTITIONS))  # every partition gets some


def test_a_broker_address_that_is_not_host_and_port_is_refused(
        gateway_config: GatewayConfig, tmp_path: Path) -> None:
    bad = msgspec.structs.replace(
        gateway_config, uplink=BrokerConnection(also=["10.0.0.2"]))
    path = tmp_path / "gateway.toml"
    path.write_bytes(config.dump(bad))
    with pytest.raises(GatewayConfigError, match="not host:port"):
        config.load(path)
