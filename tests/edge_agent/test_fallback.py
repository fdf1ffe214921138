"""The home's fallback: an SOS the centre's broker has not taken within the configured
time (the internet is down) sounds the fallback alarm in the home, once, after the local
alarm that went off at once; with the link up, the centre takes it and no fallback
sounds (real brokers at both ends)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from edge_agent.agent import Agent
from edge_agent.config import GatewayConfig
from edge_agent.local_rules import CENTRE_UNREACHABLE
from harness.mosquitto import LocalMosquitto
from runtime.mqtt import MQTTv311, new_client
from telemetry import commands as wire
from telemetry import topics
from telemetry.clock import SystemClock
from telemetry.topics import Channel
from tests.edge_agent.conftest import running_agent
from tests.support.mqtt import Recorder
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

SOS_TOPIC = "zigbee2mqtt/h00000/sos_pendant"


def _press(broker: LocalMosquitto) -> None:
    """The pendant's SOS, as zigbee2mqtt publishes it on the gateway's broker."""
    client = new_client(protocol=MQTTv311)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.publish(SOS_TOPIC, json.dumps({"action": "emergency"}),
                       qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_an_sos_the_centre_cannot_take_sounds_the_fallback_alarm_once(
        gateway_config: GatewayConfig, edge_broker: LocalMosquitto,
        central_broker: LocalMosquitto, tmp_path: Path) -> None:
    cfg = msgspec.structs.replace(gateway_config, fallback_after_s=1.0)
    alarms = Recorder(edge_broker.port, [cfg.local_alarm_topic])
    try:
        with running_agent(cfg) as agent:
            wait_until(lambda: agent.uplink.connected.is_set() and agent.local_ready.is_set(),
                       10, "agent connected at both ends")
            _press(edge_broker)  # link up: taken by the centre's broker, no fallback
            wait_until(lambda: agent.outbox.depth() == 0 and alarms.count() == 1, 10,
                       "the SOS taken by the centre, the local alarm sounded")
            central_broker.stop()  # the home's internet goes down
            wait_until(lambda: not agent.uplink.connected.is_set(), 10, "uplink down")
            _press(edge_broker)
            wait_until(lambda: agent.fallback_alarms == 1, 10, "the fallback alarm")
            wait_until(lambda: alarms.count() == 3, 5, "both alarms of the second SOS")
            first, local, fallback = (json.loads(m.payload) for m in alarms.snapshot())
            assert not first.get("fallback") and not local.get("fallback")
            assert fallback["fallback"] is True and fallback["reason"] == CENTRE_UNREACHABLE
            assert (fallback["kind"], fallback["device_id"]) == ("sos", local["device_id"])
            n = agent.fallback_alarms
            central_broker.start()  # back: the SOS goes up and nothing sounds again
            wait_until(lambda: agent.outbox.depth() == 0, 30, "the outbox drained")
            assert agent.fallback_alarms == n == 1 and alarms.count() == 3
    finally:
        alarms.close()


def test_the_centre_s_sound_command_sounds_the_home_and_is_answered(
        agent: Agent, edge_broker: LocalMosquitto, central_broker: LocalMosquitto,
        gateway_config: GatewayConfig) -> None:
    """Nobody at the desk took the fall in time: the centre tells the gateway, which sounds
    the fallback alarm (saying why) and answers."""
    alarms = Recorder(edge_broker.port, [gateway_config.local_alarm_topic])
    answers = Recorder(central_broker.port, [topics.central_filter(Channel.RESULT)])
    centre = new_client(protocol=MQTTv311)
    try:
        wait_until(lambda: agent.uplink.connected.is_set(), 10, "the uplink connected")
        now = SystemClock().now_ms()
        command = wire.Command("sound-41", wire.SOUND, now, now + 60_000, {
            "alert_id": 41, "kind": "fall", "device_id": "bathroom-radar"})
        centre.connect("127.0.0.1", central_broker.port)
        centre.loop_start()
        centre.publish(topics.command(gateway_config.gateway_id, wire.SOUND),
                       wire.encode(command), qos=1).wait_for_publish(5)
        wait_until(lambda: alarms.count() == 1 and answers.count() == 1, 10,
                   "the home sounded and the gateway answered")
        sounded = json.loads(alarms.snapshot()[0].payload)
        assert (sounded["fallback"], sounded["reason"], sounded["kind"]) == (
            True, wire.NO_ANSWER_AT_DESK, "fall")
        answer = wire.decode_result(answers.snapshot()[0].payload)
        assert (answer.id, answer.ok) == ("sound-41", True)
        assert agent.fallback_alarms == 1
    finally:
        centre.disconnect()
        centre.loop_stop()
        alarms.close()
        answers.close()
