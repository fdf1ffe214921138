"""The generated ACL on a real Mosquitto: a gateway cannot write into another's topics."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import pytest

from broker_config.acl import acl_text, write_password_file
from harness.mosquitto import LocalMosquitto
from runtime.mqtt import MQTTv311, new_client
from telemetry import topics
from telemetry.topics import Channel
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


def _client(port: int, user: str, password: str) -> tuple[mqtt.Client, threading.Event]:
    connected = threading.Event()
    client = new_client(client_id=user, protocol=MQTTv311)
    client.username_pw_set(user, password)
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, connected


def test_gateway_a_cannot_publish_as_gateway_b() -> None:
    broker = LocalMosquitto(allow_anonymous=False)
    passwords, acl = broker.workdir / "passwd", broker.workdir / "acl"
    write_password_file(passwords, {"gw-a": "pw-a", "gw-b": "pw-b", "ingest": "pw-i"})
    acl.write_text(acl_text())
    with broker.config_path.open("a") as conf:
        conf.write(f"password_file {passwords}\nacl_file {acl}\n")
    with broker:
        got: list[str] = []
        ingest, ok_i = _client(broker.port, "ingest", "pw-i")
        ingest.on_message = lambda c, u, m: got.append(m.topic)
        subscribed = threading.Event()
        ingest.on_subscribe = lambda *a: subscribed.set()
        wait_until(ok_i.is_set, 10, "ingest connected")
        ingest.subscribe(topics.central_filter(Channel.URGENT), qos=1)
        wait_until(subscribed.is_set, 10, "subscription")
        gw_a, ok_a = _client(broker.port, "gw-a", "pw-a")
        wait_until(ok_a.is_set, 10, "gateway a connected")
        spoof = gw_a.publish(topics.central("gw-b", Channel.URGENT), b"x", qos=1)
        own = gw_a.publish(topics.central("gw-a", Channel.URGENT), b"y", qos=1)
        spoof.wait_for_publish(10)
        own.wait_for_publish(10)
        wait_until(lambda: topics.central("gw-a", Channel.URGENT) in got, 10, "own publish")
        # MQTT 3.1.1: the denied publish is acked but dropped; it was sent before the
        # allowed one, so had it been delivered it would be here by now.
        assert topics.central("gw-b", Channel.URGENT) not in got
        bad, ok_bad = _client(broker.port, "gw-a", "wrong")
        assert not ok_bad.wait(1.0)  # a wrong password is refused
        for c in (ingest, gw_a, bad):
            c.loop_stop()
            c.disconnect()
