"""Generated broker configs, run by a real Mosquitto: TLS only for gateways, passwords, ACL."""

from __future__ import annotations

import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from broker_config import generate
from edge_agent import config
from edge_agent.agent import Agent
from harness.mosquitto import LocalMosquitto
from harness.process import free_port
from runtime.backoff import Backoff
from runtime.broker import BrokerConnection
from runtime.mqtt import MQTTv5, MQTTv311, new_client
from telemetry import codec, topics
from telemetry.clock import SystemClock
from telemetry.topics import Channel
from tests.support.mqtt import Recorder
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


class Central:
    def __init__(self, out: Path, broker: LocalMosquitto, tls_port: int, ingest_port: int,
                 passwords: dict[str, str]) -> None:
        self.out = out
        self.broker = broker
        self.tls_port = tls_port
        self.ingest_port = ingest_port
        self.passwords = passwords


@pytest.fixture
def broker_dir() -> Iterator[Path]:
    """A folder the broker's user can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="eldercare-test-broker-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def central(broker_dir: Path) -> Iterator[Central]:
    out = broker_dir / "central"
    tls_port, ingest_port = free_port(), free_port()
    passwords = generate.central(out, host="127.0.0.1", port=tls_port, bind="127.0.0.1",
                                 gateways=["gw-00000", "gw-00001"], ingest_port=ingest_port)
    broker = LocalMosquitto(port=tls_port, workdir=out, config_file=out / "mosquitto.conf")
    broker.start()  # returns once the TLS listener accepts; the ingest one may lag behind
    try:
        wait_until(lambda: _accepts(ingest_port), 10, "the ingest listener")
        yield Central(out, broker, tls_port, ingest_port, passwords)
    finally:
        broker.stop()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _connect(port: int, user: str, password: str, *, ca: Path | None) -> tuple[
        mqtt.Client, threading.Event, list[str]]:
    """Connect; the event fires on CONNACK or on being dropped; the list says which."""
    outcome: list[str] = []
    done = threading.Event()
    client = new_client(protocol=MQTTv311)
    client.username_pw_set(user, password)
    if ca is not None:
        client.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)

    def on_connect(c: mqtt.Client, u: object, f: object, rc: mqtt.ReasonCode,
                   p: object) -> None:
        outcome.append("refused" if rc.is_failure else "accepted")
        done.set()

    def on_disconnect(c: mqtt.Client, u: object, f: object, rc: mqtt.ReasonCode,
                      p: object) -> None:
        outcome.append("dropped")
        done.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect("127.0.0.1", port)
    except (OSError, ssl.SSLError):
        outcome.append("dropped")
        done.set()
        return client, done, outcome
    client.loop_start()
    return client, done, outcome


def test_gateway_listener_takes_tls_with_the_right_password_only(central: Central) -> None:
    ca = central.out / "ca" / "ca.crt"
    cases = [
        ("gw-00000", central.passwords["gw-00000"], ca, "accepted"),
        ("gw-00000", "wrong", ca, "refused"),
        ("gw-00000", central.passwords["gw-00000"], None, "dropped"),  # plaintext
        ("nobody", "x", ca, "refused"),
    ]
    for user, password, use_ca, expected in cases:
        client, done, outcome = _connect(central.tls_port, user, password, ca=use_ca)
        assert done.wait(10), (user, expected)
        client.loop_stop()
        client.disconnect()
        assert outcome[0] == expected, (user, use_ca, outcome)


def test_the_acl_lets_a_gateway_write_only_its_own_channels(central: Central) -> None:
    ca = central.out / "ca" / "ca.crt"
    ingest = Recorder(central.ingest_port, [f"{topics.CENTRAL_ROOT}/#"], username="ingest",
                      password=central.passwords["ingest"])
    gw, done, outcome = _connect(central.tls_port, "gw-00000",
                                 central.passwords["gw-00000"], ca=ca)
    try:
        assert done.wait(10) and outcome == ["accepted"]
        for channel in Channel:  # another's first: denied ones are dropped silently (3.1.1)
            gw.publish(topics.central("gw-00001", channel), b"spoof", qos=1).wait_for_publish(5)
            gw.publish(topics.central("gw-00000", channel), b"own", qos=1).wait_for_publish(5)
        wait_until(lambda: ingest.count() >= len(Channel), 10, "the gateway's own messages")
        got = ingest.snapshot()
    finally:
        gw.loop_stop()
        gw.disconnect()
        ingest.close()
    assert sorted(m.topic for m in got) == sorted(
        topics.central("gw-00000", channel) for channel in Channel)
    assert {m.payload for m in got} == {b"own"}


def test_an_edge_agent_sends_over_tls_with_its_credentials(
    central: Central, broker_dir: Path, tmp_path: Path,
) -> None:
    edge_out = broker_dir / "edge"
    edge_port = free_port()
    generate.edge(edge_out, port=edge_port)
    edge_broker = LocalMosquitto(port=edge_port, workdir=edge_out,
                                 config_file=edge_out / "mosquitto.conf").start()
    cfg = config.load(config.SAMPLE)
    creds = central.out / "credentials"
    from msgspec.structs import replace

    cfg = replace(cfg, data_dir=str(tmp_path / "edge-data"), local=BrokerConnection(port=edge_port),
                  uplink=BrokerConnection(host="127.0.0.1", port=central.tls_port,
                                      username="gw-00000",
                                      password_file=str(creds / "gw-00000.password"),
                                      ca_file=str(central.out / "ca" / "ca.crt")))
    ingest = Recorder(central.ingest_port, [topics.central_filter(Channel.URGENT)],
                      username="ingest", password=central.passwords["ingest"])
    agent = Agent(cfg, SystemClock(), uplink_backoff=Backoff(0.05, 0.5))
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:
        sos = new_client()
        sos.connect("127.0.0.1", edge_port)
        sos.loop_start()
        wait_until(lambda: agent.uplink.connected.is_set() and agent.local_ready.is_set(),
                   15, "the TLS uplink and the local subscription")
        sos.publish("zigbee2mqtt/h00000/sos_pendant",
                    b'{"action": "emergency", "battery": 64, "linkquality": 102}',
                    qos=1).wait_for_publish(5)
        wait_until(lambda: ingest.count() >= 1, 10, "the SOS at the centre")
        batch = codec.decode(ingest.snapshot()[0].payload, now_ms=SystemClock().now_ms(),
                             expected_gateway_id="gw-00000")
        sos.loop_stop()
        sos.disconnect()
    finally:
        agent.stop()
        runner.join(20)
        ingest.close()
        edge_broker.stop()
    assert [(r.device_id, r.kind.value, r.value) for r in batch.readings] == [
        ("sos-button", "sos", 1.0)]


def test_sample_configs_are_written_for_a_fresh_host(tmp_path: Path) -> None:
    generate.edge(tmp_path / "e")
    text = (tmp_path / "e" / "mosquitto.conf").read_text()
    assert "listener 1883 127.0.0.1" in text and "persistence true" in text


def test_under_mqtt_5_a_spoofed_publish_is_refused_with_reason_135(central: Central) -> None:
    reasons: dict[int, int] = {}
    acked = threading.Event()
    connected = threading.Event()
    client = new_client(protocol=MQTTv5)
    client.username_pw_set("gw-00000", central.passwords["gw-00000"])
    client.tls_set(ca_certs=str(central.out / "ca" / "ca.crt"),
                   tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.on_connect = lambda c, u, f, rc, p: connected.set()

    def on_publish(c: mqtt.Client, u: object, mid: int, rc: mqtt.ReasonCode,
                   p: object) -> None:
        reasons[mid] = rc.value
        if len(reasons) == 2:
            acked.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", central.tls_port)
    client.loop_start()
    try:
        assert connected.wait(10)
        spoof = client.publish(topics.central("gw-00001", Channel.URGENT), b"x", qos=1)
        own = client.publish(topics.central("gw-00000", Channel.URGENT), b"y", qos=1)
        assert acked.wait(10)
    finally:
        client.loop_stop()
        client.disconnect()
    assert reasons[spoof.mid] == 135  # not authorized
    assert reasons[own.mid] in (0, 16)  # success (16: no subscriber matched)


def test_an_edge_broker_off_loopback_takes_passwords_unless_told_the_lan_is_trusted(
        tmp_path: Path) -> None:
    made = generate.edge(tmp_path / "lan", bind="192.0.2.10")  # written, never started
    text = (tmp_path / "lan" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in text and "allow_anonymous true" not in text
    assert sorted(made) == ["agent", "devices"]
    assert (tmp_path / "lan" / "credentials" / "devices.password").read_text().strip() == \
        made["devices"]
    assert made["devices"] not in (tmp_path / "lan" / "passwd").read_text()  # hashed
    assert generate.edge(tmp_path / "trusted", bind="192.0.2.10", passwords=False) == {}
    assert "allow_anonymous true" in (tmp_path / "trusted" / "mosquitto.conf").read_text()


@pytest.mark.integration
def test_an_edge_broker_with_passwords_refuses_an_anonymous_device(broker_dir: Path) -> None:
    out, port = broker_dir / "edge", free_port()
    made = generate.edge(out, port=port, passwords=True)
    broker = LocalMosquitto(port=port, workdir=out, config_file=out / "mosquitto.conf").start()
    clients = []
    try:
        for user, password, expected in (("", "", "refused"), ("devices", "wrong", "refused"),
                                         ("devices", made["devices"], "accepted")):
            client, done, outcome = _connect(port, user, password, ca=None)
            clients.append(client)
            assert done.wait(10) and outcome[0] == expected, (user, outcome)
    finally:
        for client in clients:
            client.loop_stop()
            client.disconnect()
        broker.stop()
