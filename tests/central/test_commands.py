"""The command path on a real Mosquitto with the generated ACL: the centre sends a
gateway its device list and a ping, and each is answered once; a command for a gateway
that stays offline expires with the reason; a gateway can neither command another nor
answer for it (an answer on its own topic naming another's command changes nothing)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from alerts.model import Alert, AlertState, Condition, Severity
from broker_config.acl import acl_text, write_password_file
from central.commands import Commander, unanswered_alarms
from edge_agent.commands import CommandHandler
from edge_agent.outbox import Outbox
from edge_agent.uplink.session import Uplink
from harness.mosquitto import LocalMosquitto
from registry.commands import DONE, EXPIRED, NO_ANSWER, SENT, CommandStore
from runtime.broker import BrokerConnection
from runtime.mqtt import MQTTv311, new_client
from telemetry import commands as wire
from telemetry import topics
from telemetry.clock import SystemClock
from telemetry.topics import Channel
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

PASSWORDS = {"gw-a": "pw-a", "gw-b": "pw-b", "ingest": "pw-i"}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalMosquitto]:
    server = LocalMosquitto(allow_anonymous=False)
    passwords, acl = server.workdir / "passwd", server.workdir / "acl"
    write_password_file(passwords, PASSWORDS)
    acl.write_text(acl_text())
    with server.config_path.open("a") as conf:
        conf.write(f"password_file {passwords}\nacl_file {acl}\n")
    with server:
        yield server


def _secret(tmp: Path, user: str) -> str:
    path = tmp / f"{user}.password"
    path.write_text(PASSWORDS[user])
    return str(path)


def _raw_client(port: int, user: str) -> tuple[mqtt.Client, threading.Event]:
    connected = threading.Event()
    client = new_client(client_id=f"{user}-raw", protocol=MQTTv311)
    client.username_pw_set(user, PASSWORDS[user])
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, connected


def test_commands_reach_their_gateway_only_and_each_is_answered_or_expires(
        broker: LocalMosquitto, tmp_path: Path) -> None:
    clock = SystemClock()
    store = CommandStore(tmp_path / "registry.db")
    commander = Commander(store, BrokerConnection(port=broker.port, username="ingest",
                                                  password_file=_secret(tmp_path, "ingest")),
                          clock, "eldercare-test")
    handler = CommandHandler("gw-a", clock, tmp_path)
    outbox = Outbox(tmp_path / "outbox.db", 10_000_000)
    uplink = Uplink("gw-a", "site-000", BrokerConnection(
        port=broker.port, username="gw-a", password_file=_secret(tmp_path, "gw-a")),
        outbox, clock, on_command=handler)
    commander.start()
    uplink.start()
    heard_by_b: list[str] = []
    spy_b, b_up = _raw_client(broker.port, "gw-b")  # gateway B, listening for commands
    spy_b.on_message = lambda c, u, m: heard_by_b.append(m.topic)
    try:
        wait_until(lambda: commander.connected.is_set() and uplink.connected.is_set()
                   and b_up.is_set(), 10, "everyone connected")
        spy_b.subscribe(topics.command_filter("gw-b"), qos=1)
        now = clock.now_ms()
        listed = store.queue("gw-a", wire.DEVICES, {"devices": [
            {"device_id": "front-door", "kinds": ["door"], "room": "hall"}]}, now)
        ping = store.queue("gw-a", wire.PING, {}, now)
        commander.wake()
        wait_until(lambda: {c.command_id: c.state for c in store.of(("gw-a",))}
                   == {listed.id: DONE, ping.id: DONE}, 10, "both answered")
        assert [d.device_id for d in handler.devices] == ["front-door"]
        assert handler.counts["done"] == 2

        # B is offline to the centre (its raw client takes no commands): B's command
        # expires with the reason, for the desk
        store.queue("gw-b", wire.PING, {}, clock.now_ms(), ttl_ms=1500)
        commander.wake()
        wait_until(lambda: store.of(("gw-b",))[0].state == EXPIRED, 10, "expired")
        assert store.of(("gw-b",))[0].reason == NO_ANSWER
        open_b = store.queue("gw-b", wire.PING, {}, clock.now_ms())
        commander.wake()
        wait_until(lambda: store.of(("gw-b",))[0].state == SENT, 10, "sent to B")
        wait_until(lambda: len(heard_by_b) >= 2, 10, "B's own commands reach B")

        # A tries to command B, and to answer for B: on B's topic (the broker drops it)
        # and on its own topic naming B's command (the centre matches it to nothing)
        forged = wire.Result(open_b.id, "gw-b", True, clock.now_ms())
        gw_a, a_up = _raw_client(broker.port, "gw-a")
        wait_until(a_up.is_set, 10, "A's second client connected")
        before = len(heard_by_b)
        for topic, payload in ((topics.command("gw-b", wire.PING), wire.encode(
                wire.Command("c-forged", wire.PING, 0, 2**40))),
                (topics.central("gw-b", Channel.RESULT), wire.encode(forged)),
                (topics.central("gw-a", Channel.RESULT), wire.encode(
                    wire.Result(open_b.id, "gw-a", True, clock.now_ms())))):
            gw_a.publish(topic, payload, qos=1).wait_for_publish(5)
        wait_until(lambda: commander.counts["answer_unmatched"] >= 1, 10,
                   "A's answer for B's command heard and matched to nothing")
        assert store.of(("gw-b",))[0].state == SENT  # still waiting for B itself
        assert len(heard_by_b) == before  # the forged command never reached B
        gw_a.loop_stop()
        gw_a.disconnect()
    finally:
        spy_b.loop_stop()
        spy_b.disconnect()
        uplink.stop()
        commander.stop()
        outbox.close()
        store.close()


def _alert(alert_id: int, condition: Condition, state: AlertState, opened_ms: int,
           owner: str | None = None) -> Alert:
    return Alert(alert_id, condition, "res-00001", "site-000", "gw-a", "sos-pendant",
                 Severity.CRITICAL, state, True, opened_ms, opened_ms, 0, 0, False, "",
                 owner=owner)


def test_only_falls_and_sos_nobody_took_in_time_sound_the_home() -> None:
    now = 1_000_000
    alerts = [_alert(1, Condition.SOS, AlertState.OPEN, now - 120_000),  # due
              _alert(2, Condition.FALL, AlertState.OPEN, now - 119_000),  # not yet
              _alert(3, Condition.FALL, AlertState.OPEN, now - 600_000, owner="nurse-1"),
              _alert(4, Condition.FALL, AlertState.ACKNOWLEDGED, now - 600_000),
              _alert(5, Condition.WATER_LEAK, AlertState.OPEN, now - 600_000)]
    assert unanswered_alarms(alerts, now, 120_000) == [
        ("gw-a", wire.Sound(1, "sos", "sos-pendant"))]


def test_a_home_is_told_to_sound_once_per_alarm_whichever_node_sees_it(
        broker: LocalMosquitto, tmp_path: Path) -> None:
    """Two alert nodes on one store both see the SOS nobody took: the gateway is told
    once, sounds its fallback alarm once, and says so."""
    clock = SystemClock()
    store = CommandStore(tmp_path / "registry.db")
    due = [("gw-a", wire.Sound(7, "sos", "sos-pendant"))]
    ingest = BrokerConnection(port=broker.port, username="ingest",
                              password_file=_secret(tmp_path, "ingest"))
    nodes = [Commander(store, ingest, clock, f"node-{i}", unanswered=lambda _now: due)
             for i in (1, 2)]
    sounded: list[wire.Sound] = []
    handler = CommandHandler("gw-a", clock, tmp_path, on_sound=sounded.append)
    outbox = Outbox(tmp_path / "outbox.db", 10_000_000)
    uplink = Uplink("gw-a", "site-000", BrokerConnection(
        port=broker.port, username="gw-a", password_file=_secret(tmp_path, "gw-a")),
        outbox, clock, on_command=handler)
    uplink.start()
    for node in nodes:
        node.start()
    try:
        wait_until(lambda: [c.state for c in store.of(("gw-a",))] == [DONE], 10,
                   "the sound command done by the gateway")
        assert sum(node.counts["sound"] for node in nodes) == 1
        assert nodes[0].sound_unanswered() + nodes[1].sound_unanswered() == 0  # still once
        assert sounded == [due[0][1]]
    finally:
        for node in nodes:
            node.stop()
        uplink.stop()
        outbox.close()
        store.close()
