"""The [cluster] table: the three-node sample loads as one node of three, and what cannot
work as a node of several is refused at startup with a reason."""

from __future__ import annotations

import functools
from pathlib import Path

import msgspec
import pytest

import registry
from alerts.settings import AlertSettings, ClusterSettings
from central import config
from central.config import CentralConfig, CentralConfigError
from central.process import CentralProcess
from telemetry.clock import SystemClock
from tests.support.wait import wait_until

POLICY = Path(__file__).resolve().parents[2] / "alerts" / "policy.sample.yaml"


def test_the_three_node_sample_is_one_node_of_three() -> None:
    cfg = config.load(config.CLUSTER_SAMPLE)
    assert cfg.cluster is not None and cfg.cluster.node_id == "node-1"
    assert cfg.cluster.state.startswith("postgresql://") and cfg.cluster.partitions == 6
    assert len(cfg.broker.addresses()) == 3 and cfg.alerts is not None
    assert cfg.influx is not None and cfg.dashboard is not None


@pytest.mark.parametrize("toml, reason", [
    ('[cluster]\nnode_id = "n1"\nstate = "/var/lib/alerts.db"\n', "postgresql:// DSN"),
    ('[cluster]\nnode_id = "n1"\nstate = "postgresql://x/y"\npartitions = 0\n', "1 or more"),
    ('[broker]\nalso = ["mqtt-2"]\n', "not host:port"),
])
def test_a_bad_cluster_table_is_refused(tmp_path: Path, toml: str, reason: str) -> None:
    path = tmp_path / "central.toml"
    path.write_text(f'data_dir = "{tmp_path}"\nregistry = "{registry.SAMPLE}"\n{toml}')
    with pytest.raises((CentralConfigError, ValueError), match=reason):
        cfg = config.load(path)
        cfg.broker.addresses()


def test_a_node_of_several_needs_the_alert_core_and_no_share_group(tmp_path: Path) -> None:
    cluster = ClusterSettings(node_id="node-1", state="postgresql://127.0.0.1:9/none")
    base = CentralConfig(data_dir=str(tmp_path), registry=str(registry.SAMPLE), cluster=cluster)
    with pytest.raises(CentralConfigError, match="needs \\[alerts\\]"):
        CentralProcess(base, SystemClock())
    shared = msgspec.structs.replace(
        base, alerts=AlertSettings(policy="p.yaml", sms="console"), share_group="alerts")
    with pytest.raises(CentralConfigError, match="share_group"):
        CentralProcess(shared, SystemClock())


def test_a_node_refuses_to_start_when_the_broker_splits_into_another_count(
        tmp_path: Path, fresh_database: str) -> None:
    """The broker maps gateways into 2 partitions; a node told 3 takes none and says why;
    a node told 2 starts."""
    from harness.nats import NatsCluster
    from harness.process import free_port
    from ingest.probe import PartitionCountError
    from runtime.broker import BrokerConnection

    nats = NatsCluster(1, 2).start()
    try:
        for told in (3, 2):
            node = CentralProcess(CentralConfig(
                data_dir=str(tmp_path / f"node-{told}"), registry=str(registry.SAMPLE),
                broker=BrokerConnection(port=nats.nodes[0].mqtt_port),
                alerts=AlertSettings(policy=str(POLICY), sms="console",
                                     callback_port=free_port()),
                cluster=ClusterSettings(node_id=f"node-{told}", state=fresh_database,
                                        partitions=told)), SystemClock())
            assert node.cluster is not None
            try:
                if told == 3:
                    with pytest.raises(PartitionCountError, match="partitions = 3"):
                        node.start()
                    assert node.ingest.partitions() == [] and node.cluster.leases.held == set()
                else:
                    node.start()  # the handing thread opens what the first round took
                    wait_until(functools.partial(lambda i: i.partitions() == [0, 1],
                                                 node.ingest), 10, "both partitions open")
            finally:
                node.close()
    finally:
        nats.close()


def test_a_desk_reachable_from_other_machines_needs_secure_cookies() -> None:
    from dashboard.settings import DashboardSettings

    with pytest.raises(msgspec.ValidationError, match="secure_cookies"):
        msgspec.convert({"host": "0.0.0.0"}, DashboardSettings)
    assert msgspec.convert({"host": "0.0.0.0", "secure_cookies": True},
                           DashboardSettings).secure_cookies
    assert msgspec.convert({"host": "127.0.0.1"}, DashboardSettings).host == "127.0.0.1"
