"""The clustered broker's generated configuration: valid for nats-server, and on a real
node each gateway reaches the alert nodes only through its own topics, with its own
password; the alert nodes' user takes every partition."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker_config import nats
from harness.nats import NatsCluster, nats_binary
from runtime.mqtt import MQTTv311, new_client
from telemetry import topics
from telemetry.topics import Channel
from tests.support.mqtt import Recorder
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

PASSWORDS = {"gw-00000": "test-only-0", "gw-00001": "test-only-1", "ingest": "test-only-i"}


def test_the_generated_three_node_configs_are_valid(tmp_path: Path) -> None:
    hosts = ["mqtt-1.example.org", "mqtt-2.example.org", "mqtt-3.example.org"]
    passwords = nats.cluster(tmp_path, hosts=hosts, gateways=["gw-00000", "gw-00001"])
    assert set(passwords) == {"gw-00000", "gw-00001", "ingest"}
    for i in (1, 2, 3):
        conf = tmp_path / f"nats-{i}.conf"
        checked = subprocess.run([nats_binary(), "-t", "-c", str(conf)],
                                 capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        text = conf.read_text()
        assert "partition(6,1)" in text and f"server-{i}.crt" in text
        assert sum(f"nats://{h}:6222" in text for h in hosts) == 2  # routes to the others
        assert conf.stat().st_mode & 0o077 == 0  # it holds the passwords


@pytest.fixture
def node() -> Iterator[NatsCluster]:
    cluster = NatsCluster(1, 4, passwords=PASSWORDS).start()
    try:
        yield cluster
    finally:
        cluster.close()


def _publish(port: int, user: str, password: str, topic: str,
             ca_file: Path | None = None) -> bool:
    """Publish once at QoS 1 as ``user`` (over TLS, trusting ``ca_file``, if given): True
    once the broker acknowledged it; False if it refused the login or never answered."""
    client = new_client(client_id=f"test-{user}",
                         protocol=MQTTv311)
    client.username_pw_set(user, password)
    if ca_file is not None:
        client.tls_set(ca_certs=str(ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    answered = threading.Event()
    accepted: list[bool] = []
    client.on_connect = lambda c, u, f, reason, p: (accepted.append(not reason.is_failure),
                                                    answered.set())
    try:
        client.connect("127.0.0.1", port)
        client.loop_start()
        if not answered.wait(5) or not accepted[0]:  # no answer, or a refusal
            return False
        info = client.publish(topic, b"{}", qos=1)
        info.wait_for_publish(5)
        return info.is_published()  # the broker acknowledged it (PUBACK)
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_gateway_publishes_only_as_itself(node: NatsCluster) -> None:
    port = node.nodes[0].mqtt_port
    centre = Recorder(port, ["part/+/eldercare/v1/+/urgent"], client_id="test-alerts",
                      username="ingest", password=PASSWORDS["ingest"])
    try:
        assert _publish(port, "gw-00000", PASSWORDS["gw-00000"],
                        topics.central("gw-00000", Channel.URGENT))
        wait_until(lambda: centre.count() == 1, 10, "the gateway's own message")
        # its own password, another gateway's topic: dropped; a wrong password: refused
        assert _publish(port, "gw-00000", PASSWORDS["gw-00000"],
                        topics.central("gw-00001", Channel.URGENT))
        assert not _publish(port, "gw-00001", "wrong", topics.central("gw-00001",
                                                                      Channel.URGENT))
        assert _publish(port, "gw-00001", PASSWORDS["gw-00001"],
                        topics.central("gw-00001", Channel.URGENT))
        wait_until(lambda: centre.count() == 2, 10, "the second gateway's own message")
    finally:
        centre.close()
    gateways = [topics.parse_central(m.topic).gateway_id for m in centre.snapshot()]
    assert gateways == ["gw-00000", "gw-00001"]  # the spoofed one never arrived


def test_a_message_a_central_session_left_unacknowledged_comes_again_within_ack_wait(
        node: NatsCluster) -> None:
    """A node that let its partition go without acknowledging a fall (the state store was
    switching primaries): the broker sends the fall again after the config's ack wait,
    5 s, not after NATS's default 30 s (what such a fall waited before)."""
    port = node.nodes[0].mqtt_port
    got: list[bool] = []  # each delivery's duplicate flag
    client = new_client(client_id="test-alerts-unacked", clean_session=False,
                        protocol=MQTTv311, manual_ack=True)  # it never acknowledges
    client.username_pw_set("ingest", PASSWORDS["ingest"])
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = lambda c, u, msg: got.append(bool(msg.dup))
    client.connect("127.0.0.1", port)
    client.subscribe("part/+/eldercare/v1/+/urgent", qos=1)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        assert _publish(port, "gw-00000", PASSWORDS["gw-00000"],
                        topics.central("gw-00000", Channel.URGENT))
        wait_until(lambda: len(got) == 1, 10, "the fall, first time")
        wait_until(lambda: len(got) >= 2, 15, "the fall again, within the 5 s ack wait "
                   "(NATS's default would be 30 s)")
        assert got[:2] == [False, True]
    finally:
        client.disconnect()
        client.loop_stop()


def test_gateways_reach_a_tls_node_only_over_tls_with_their_password() -> None:
    with NatsCluster(1, 4, passwords=PASSWORDS, tls=True) as tls_node:
        assert tls_node.ca_file is not None
        port = tls_node.nodes[0].mqtt_port
        topic = topics.central("gw-00000", Channel.URGENT)
        assert _publish(port, "gw-00000", PASSWORDS["gw-00000"], topic, tls_node.ca_file)
        # plain MQTT on the TLS listener, the right password: not let in
        assert not _publish(port, "gw-00000", PASSWORDS["gw-00000"], topic)


def test_a_cluster_starts_even_if_a_picked_port_is_taken_before_it_binds() -> None:
    cluster = NatsCluster(3, 4)
    with socket.socket() as squatter:  # another process gets the port first
        squatter.bind(("127.0.0.1", cluster.nodes[2].mqtt_port))
        squatter.listen()
        taken = cluster.nodes[2].mqtt_port
        try:
            cluster.start()
            assert cluster.nodes[2].mqtt_port != taken
            assert all(node.healthy() for node in cluster.nodes)
        finally:
            cluster.close()


def test_the_alert_nodes_user_may_probe_the_partition_count_and_a_gateway_may_not(
        node: NatsCluster) -> None:
    from ingest.probe import PartitionCountError, check_partitions

    address = [("127.0.0.1", node.nodes[0].mqtt_port)]
    check_partitions(address, 4, username="ingest", password=PASSWORDS["ingest"])
    with pytest.raises(PartitionCountError, match="partitions = 6"):
        check_partitions(address, 6, username="ingest", password=PASSWORDS["ingest"])
    with pytest.raises(PartitionCountError, match="probes"):  # its permissions deny them
        check_partitions(address, 4, username="gw-00000", password=PASSWORDS["gw-00000"],
                         timeout_s=2)


def test_only_the_centre_commands_a_gateway_and_a_gateway_answers_only_for_itself(
        node: NatsCluster) -> None:
    """Commands (``telemetry.commands``) behind the clustered broker: gateway 0 can
    neither command gateway 1 nor answer on its topic; the centre can command it."""
    port = node.nodes[0].mqtt_port
    heard_by_1 = Recorder(port, [topics.command_filter("gw-00001")], client_id="gw-00001",
                          username="gw-00001", password=PASSWORDS["gw-00001"])
    answers = Recorder(port, [f"part/+/{topics.central_filter(Channel.RESULT)}"],
                       client_id="test-commands", username="ingest",
                       password=PASSWORDS["ingest"])
    try:
        assert _publish(port, "gw-00000", PASSWORDS["gw-00000"],
                        topics.command("gw-00001", "ping"))  # acknowledged, then dropped
        assert _publish(port, "gw-00000", PASSWORDS["gw-00000"],
                        topics.central("gw-00001", Channel.RESULT))
        assert _publish(port, "gw-00000", PASSWORDS["gw-00000"],
                        topics.central("gw-00000", Channel.RESULT))
        assert _publish(port, "ingest", PASSWORDS["ingest"], topics.command("gw-00001", "ping"))
        wait_until(lambda: heard_by_1.count() == 1 and answers.count() == 1, 10,
                   "the centre's command and gateway 0's own answer")
    finally:
        heard_by_1.close()
        answers.close()
    assert [topics.parse_central(m.topic).gateway_id for m in answers.snapshot()] == \
        ["gw-00000"]
    assert [m.topic for m in heard_by_1.snapshot()] == [topics.command("gw-00001", "ping")]
