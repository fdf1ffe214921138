"""The home unit asks before alarming (real brokers at both ends): a possible fall is
asked about on the prompt device and sounds the home's alarm unless answered; an SOS is
followed by the cancel question; the centre's ``prompt`` command is played in the
resident's language and answered; the resident's answer travels to the centre at once."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from edge_agent.agent import Agent
from edge_agent.config import GatewayConfig
from edge_agent.local_rules import POSSIBLE_FALL_UNANSWERED
from harness.mosquitto import LocalMosquitto
from runtime.mqtt import MQTTv311, new_client
from telemetry import codec, topics
from telemetry import commands as wire
from telemetry.clock import SystemClock
from telemetry.kinds import Kind
from telemetry.topics import Channel
from tests.edge_agent.conftest import running_agent
from tests.support.mqtt import Recorder
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

RADAR = "zigbee2mqtt/h00000/bathroom_radar"
PENDANT = "zigbee2mqtt/h00000/sos_pendant"
PROMPTER = topics.z2m_set("h00000/sos_pendant")  # the pendant speaks and listens


def _publish(broker: LocalMosquitto, topic: str, body: dict[str, object]) -> None:
    """A device's message, as zigbee2mqtt publishes it on the gateway's broker."""
    client = new_client(protocol=MQTTv311)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.publish(topic, json.dumps(body), qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def _asked(recorder: Recorder) -> list[dict[str, object]]:
    return [json.loads(m.payload)["prompt"] for m in recorder.snapshot()]


def _answers_at_centre(recorder: Recorder) -> int:
    now = SystemClock().now_ms()
    return sum(1 for m in recorder.snapshot()
               for r in codec.decode(m.payload, now_ms=now).readings if r.kind is Kind.ANSWER)


def test_a_possible_fall_is_asked_about_and_sounds_the_home_unless_answered(
        gateway_config: GatewayConfig, edge_broker: LocalMosquitto,
        central_broker: LocalMosquitto) -> None:
    cfg = msgspec.structs.replace(gateway_config, possible_fall_s=1.0, language="en")
    prompts = Recorder(edge_broker.port, [PROMPTER])
    alarms = Recorder(edge_broker.port, [cfg.local_alarm_topic])
    try:
        with running_agent(cfg) as agent:
            wait_until(lambda: agent.local_ready.is_set() and agent.uplink.connected.is_set(),
                       10, "agent connected at both ends")
            _publish(edge_broker, RADAR, {"fall_down_status": "maybe_fall"})
            wait_until(lambda: prompts.count() == 1, 10, "the question played")
            assert _asked(prompts) == [{"reason": wire.ASK_POSSIBLE_FALL, "language": "en",
                                        "answer_within_s": 1.0}]
            wait_until(lambda: agent.fallback_alarms == 1 and alarms.count() == 1, 10,
                       "the unanswered fall sounded")
            sounded = json.loads(alarms.snapshot()[-1].payload)
            assert (sounded["kind"], sounded["device_id"], sounded["reason"]) == (
                "fall", "bathroom-radar", POSSIBLE_FALL_UNANSWERED)
    finally:
        prompts.close()
        alarms.close()


def test_a_possible_fall_answered_at_home_sounds_nothing_and_the_answer_goes_up(
        gateway_config: GatewayConfig, edge_broker: LocalMosquitto,
        central_broker: LocalMosquitto) -> None:
    cfg = msgspec.structs.replace(gateway_config, possible_fall_s=2.0)
    prompts = Recorder(edge_broker.port, [PROMPTER])
    up = Recorder(central_broker.port, [topics.central_filter(Channel.URGENT)])
    try:
        with running_agent(cfg) as agent:
            wait_until(lambda: agent.local_ready.is_set() and agent.uplink.connected.is_set(),
                       10, "agent connected at both ends")
            _publish(edge_broker, RADAR, {"fall_down_status": "maybe_fall"})
            wait_until(lambda: prompts.count() == 1, 10, "the question played")
            _publish(edge_broker, PENDANT, {"action": "double"})  # "I am all right"
            wait_until(lambda: _answers_at_centre(up) == 1, 10, "the answer at the centre")
            # the wait over and the agent's round run after it: nothing sounded
            due_ms = SystemClock().now_ms() + 2000
            wait_until(lambda: agent.last_tick_ms > due_ms, 15, "a round after the wait")
            assert agent.fallback_alarms == 0
    finally:
        prompts.close()
        up.close()


def test_an_sos_is_followed_by_the_cancel_question(
        agent: Agent, edge_broker: LocalMosquitto, gateway_config: GatewayConfig) -> None:
    prompts = Recorder(edge_broker.port, [PROMPTER])
    try:
        wait_until(lambda: agent.local_ready.is_set(), 10, "agent subscribed")
        _publish(edge_broker, PENDANT, {"action": "emergency"})
        wait_until(lambda: prompts.count() == 1, 10, "the cancel question")
        assert _asked(prompts)[0]["reason"] == wire.ASK_SOS
        assert agent.alarms_raised == 1  # the local alarm did not wait for the question
    finally:
        prompts.close()


def _command(central_broker: LocalMosquitto, gateway_id: str, command: wire.Command) -> None:
    centre = new_client(protocol=MQTTv311)
    centre.connect("127.0.0.1", central_broker.port)
    centre.loop_start()
    try:
        centre.publish(topics.command(gateway_id, command.name), wire.encode(command),
                       qos=1).wait_for_publish(5)
    finally:
        centre.disconnect()
        centre.loop_stop()


def test_the_centre_s_question_is_played_in_the_resident_s_language_and_answered(
        agent: Agent, edge_broker: LocalMosquitto, central_broker: LocalMosquitto,
        gateway_config: GatewayConfig) -> None:
    prompts = Recorder(edge_broker.port, [PROMPTER])
    answers = Recorder(central_broker.port, [topics.central_filter(Channel.RESULT)])
    try:
        wait_until(lambda: agent.uplink.connected.is_set() and agent.local_ready.is_set(),
                   10, "agent connected")
        now = SystemClock().now_ms()
        ask = wire.Prompt("res-00000", wire.ASK_INACTIVITY, "en", 120.0)
        _command(central_broker, gateway_config.gateway_id, wire.Command(
            "prompt-res-00000-1", wire.PROMPT, now, now + 120_000, msgspec.to_builtins(ask)))
        wait_until(lambda: prompts.count() == 1 and answers.count() == 1, 10,
                   "played and answered")
        assert _asked(prompts) == [{"reason": wire.ASK_INACTIVITY, "language": "en",
                                    "answer_within_s": 120.0}]
        result = wire.decode_result(answers.snapshot()[0].payload)
        assert (result.id, result.ok) == ("prompt-res-00000-1", True)
    finally:
        prompts.close()
        answers.close()


def test_a_home_without_a_prompt_device_refuses_the_question_with_the_reason(
        gateway_config: GatewayConfig, edge_broker: LocalMosquitto,
        central_broker: LocalMosquitto, tmp_path: Path) -> None:
    devices = [d for d in gateway_config.devices if Kind.ANSWER not in d.kinds]
    cfg = msgspec.structs.replace(gateway_config, devices=devices)
    answers = Recorder(central_broker.port, [topics.central_filter(Channel.RESULT)])
    try:
        with running_agent(cfg) as agent:
            wait_until(lambda: agent.uplink.connected.is_set(), 10, "uplink connected")
            now = SystemClock().now_ms()
            ask = wire.Prompt("res-00000", wire.ASK_INACTIVITY, "zh", 120.0)
            _command(central_broker, cfg.gateway_id, wire.Command(
                "prompt-x", wire.PROMPT, now, now + 120_000, msgspec.to_builtins(ask)))
            wait_until(lambda: answers.count() == 1, 10, "answered")
            result = wire.decode_result(answers.snapshot()[0].payload)
            assert not result.ok and "no prompt device" in result.reason
            assert agent.prompts == 0
    finally:
        answers.close()
