"""Asking at home and the daily test alarm behind the clustered broker (three real NATS
nodes with their MQTT listeners): the centre's ``prompt`` command reaches the gateway
through its node, is played and answered; the resident's answer and the gateway's test
alarm reach the alert node of the gateway's partition."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import msgspec
import pytest

from edge_agent import config
from edge_agent.agent import Agent
from harness.mosquitto import LocalMosquitto
from harness.nats import NatsCluster
from runtime.broker import BrokerConnection
from runtime.mqtt import MQTTv311, new_client
from telemetry import commands as wire
from telemetry import topics
from telemetry.clock import DAY_MS, FakeClock, SystemClock
from telemetry.health import link_test_due_ms
from telemetry.kinds import Kind
from telemetry.topics import Channel
from tests.edge_agent.conftest import NATS_PARTITIONS
from tests.edge_agent.test_agent_flow import GATEWAY, central_readings
from tests.support.mqtt import Recorder
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

PARTITIONS = NATS_PARTITIONS
PROMPTER = topics.z2m_set("h00000/sos_pendant")


def _publish(port: int, topic: str, payload: bytes) -> None:
    client = new_client(protocol=MQTTv311)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_question_answered_and_a_test_alarm_through_the_clustered_broker(
        tmp_path: Path, edge_broker: LocalMosquitto, nats: NatsCluster) -> None:
    first, *others = nats.addresses
    cfg = msgspec.structs.replace(
        config.load(config.SAMPLE), data_dir=str(tmp_path / "edge-data"),
        local=BrokerConnection(port=edge_broker.port),
        uplink=BrokerConnection(host=first[0], port=first[1],
                                also=[f"{h}:{p}" for h, p in others]))
    now = SystemClock().now_ms()
    yesterday = now - now % DAY_MS - DAY_MS
    # the gateway's clock stands a minute after its test time (yesterday's: in the past,
    # as the centre's checks want; a fake clock, so the test goes at the first round)
    clock = FakeClock(link_test_due_ms(GATEWAY, yesterday) + 60_000)
    part = topics.partition_of(GATEWAY, PARTITIONS)
    centre = Recorder(nats.nodes[2].mqtt_port, [f"part/{part}/eldercare/v1/{GATEWAY}/+"],
                      client_id=f"alerts-part-{part}")
    prompts = Recorder(edge_broker.port, [PROMPTER])
    agent = Agent(cfg, clock, heartbeat_s=5)
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:
        wait_until(lambda: agent.uplink.connected.is_set() and agent.local_ready.is_set(),
                   30, "agent connected at both ends")
        sent = clock.now_ms()
        ask = wire.Prompt("res-00000", wire.ASK_INACTIVITY, "en", 120.0)
        command = wire.Command("prompt-res-00000-7", wire.PROMPT, sent, sent + 120_000,
                               msgspec.to_builtins(ask))
        _publish(nats.nodes[1].mqtt_port, topics.command(GATEWAY, wire.PROMPT),
                 wire.encode(command))  # the centre, on another node
        wait_until(lambda: prompts.count() == 1, 30, "the question played at home")
        assert json.loads(prompts.snapshot()[0].payload)["prompt"]["reason"] == \
            wire.ASK_INACTIVITY
        _publish(edge_broker.port, "zigbee2mqtt/h00000/sos_pendant",
                 json.dumps({"action": "double"}).encode())

        def kinds() -> set[Kind]:
            urgent, _ = central_readings(centre)
            return {r.kind for r in urgent}

        wait_until(lambda: {Kind.ANSWER, Kind.LINK_TEST} <= kinds(), 30,
                   "the answer and the test alarm at the partition's alert node")
        results = [wire.decode_result(m.payload) for m in centre.snapshot()
                   if topics.parse_central(m.topic).channel is Channel.RESULT]
        assert [(r.id, r.ok) for r in results] == [("prompt-res-00000-7", True)]
        assert agent.link_tests == 1
    finally:
        agent.stop()
        runner.join(20)
        prompts.close()
        centre.close()
