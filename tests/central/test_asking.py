"""Asking the resident before a check reaches the desk, end to end on real Mosquitto
brokers: the central process (on a fake clock) holds an inactivity check back and sends
the home its question on the command path; the real edge agent plays it on the prompt
device; the resident's answer (the pendant's double press) travels up and closes the check
on the timeline, never on the desk's queue. Unanswered, the check reaches the desk when the
wait is over, saying so."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import msgspec
import pytest
import yaml

import registry
from alerts.model import Alert, AlertState, Condition
from alerts.settings import AlertSettings
from central.config import CentralConfig
from central.process import CentralProcess
from edge_agent import config as edge_config
from edge_agent.agent import Agent
from harness.mosquitto import LocalMosquitto
from harness.process import free_port
from runtime.broker import BrokerConnection
from runtime.mqtt import MQTTv311, new_client
from telemetry import commands as wire
from telemetry import topics
from telemetry.clock import FakeClock, SystemClock
from tests.support.mqtt import Recorder
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

RESIDENT = "res-00000"
PENDANT = "zigbee2mqtt/h00000/sos_pendant"
PROMPTER = topics.z2m_set("h00000/sos_pendant")


class Home(NamedTuple):
    clock: FakeClock
    central: CentralProcess
    agent: Agent
    edge: LocalMosquitto
    prompts: Recorder


def _ten_in_the_morning() -> int:
    """The next 02:00 UTC (10:00 at the sample sites, Shanghai): a daytime silence, and a
    centre a little ahead of the real time, never behind it."""
    now = dt.datetime.now(dt.UTC)
    at = now.replace(hour=2, minute=0, second=0, microsecond=0)
    if at <= now:
        at += dt.timedelta(days=1)
    return int(at.timestamp() * 1000)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    data = yaml.safe_load(registry.SAMPLE.read_text())
    for device in data["devices"]:  # the pendant's double press answers
        if device["device_id"] == "sos-button" and device["resident_id"] == RESIDENT:
            device["kinds"] = [*device["kinds"], "answer"]
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(data))
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump({"default": {"steps": {}}}))
    clock = FakeClock(_ten_in_the_morning())
    with LocalMosquitto() as centre_broker, LocalMosquitto() as edge:
        cfg = CentralConfig(data_dir=str(tmp_path / "central"),
                            registry=str(tmp_path / "registry.yaml"),
                            broker=BrokerConnection(port=centre_broker.port),
                            alerts=AlertSettings(policy=str(tmp_path / "policy.yaml"),
                                                 callback_port=free_port(),
                                                 prompt_answer_s=120))
        central = CentralProcess(cfg, clock)
        gateway = msgspec.structs.replace(
            edge_config.load(edge_config.SAMPLE), data_dir=str(tmp_path / "edge"),
            local=BrokerConnection(port=edge.port),
            uplink=BrokerConnection(port=centre_broker.port))
        agent = Agent(gateway, clock, heartbeat_s=5)
        runner = threading.Thread(target=agent.run, daemon=True)
        prompts = Recorder(edge.port, [PROMPTER])
        try:
            central.start()
            assert central.ingest.ready.wait(30)
            runner.start()
            wait_until(lambda: agent.local_ready.is_set() and agent.uplink.connected.is_set()
                       and central.commander is not None
                       and central.commander.connected.is_set(), 20, "all connected")
            yield Home(clock, central, agent, edge, prompts)
        finally:
            prompts.close()
            agent.stop()
            runner.join(20)
            central.close()


def _minutes(home: Home, n: int) -> None:
    """``n`` simulated minutes, each with a round of the alert core's timers."""
    assert home.central.alerts is not None
    for _ in range(n):
        home.clock.advance(60)
        assert home.central.alerts.tick_now(), "the alert core's round did not finish"


def _alerts(home: Home, condition: Condition) -> list[Alert]:
    assert home.central.alerts is not None
    return [a for a in home.central.alerts.db.alerts.find(subjects=(RESIDENT,))
            if a.condition is condition]


def _until_asked(home: Home) -> dict[str, object]:
    """Minutes pass until the home unit plays the question: what it was asked."""
    assert home.central.alerts is not None
    for _ in range(120):
        _minutes(home, 1)
        assert not _alerts(home, Condition.INACTIVITY_CHECK), "the check reached the desk"
        if home.central.alerts.asking():  # held: the command path takes it (real time)
            break
    wait_until(lambda: home.prompts.count() == 1, 20, "the question played at home")
    asked: dict[str, object] = json.loads(home.prompts.snapshot()[0].payload)["prompt"]
    return asked


def _press_twice(edge: LocalMosquitto) -> None:
    client = new_client(protocol=MQTTv311)
    client.connect("127.0.0.1", edge.port)
    client.loop_start()
    try:
        client.publish(PENDANT, json.dumps({"action": "double"}), qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_check_answered_at_home_is_closed_on_the_timeline_and_never_on_the_desk(
        home: Home) -> None:
    asked = _until_asked(home)
    assert asked == {"reason": wire.ASK_INACTIVITY, "language": "zh",
                     "answer_within_s": 120.0}
    assert home.central.commands is not None
    wait_until(lambda: any(c.name == wire.PROMPT and c.state == "done"
                           for c in home.central.commands.of(("gw-00000",))), 20,
               "the gateway answered the command")
    _press_twice(home.edge)
    wait_until(lambda: [a.state for a in _alerts(home, Condition.INACTIVITY_ANSWERED)]
               == [AlertState.RESOLVED], 20, "the answer reached the centre")
    _minutes(home, 5)  # past the wait: nothing for the desk
    assert _alerts(home, Condition.INACTIVITY_CHECK) == []
    assert home.central.alerts is not None
    assert home.central.alerts.db.alerts.find(open_only=True, subjects=(RESIDENT,)) == []


def test_a_check_nobody_answers_reaches_the_desk_when_the_wait_is_over(home: Home) -> None:
    _until_asked(home)
    _minutes(home, 1)
    assert _alerts(home, Condition.INACTIVITY_CHECK) == []  # still waiting for the answer
    _minutes(home, 2)
    [check] = _alerts(home, Condition.INACTIVITY_CHECK)
    assert check.state is AlertState.OPEN
    assert "no answer at home within 120 s" in check.detail
    assert _alerts(home, Condition.INACTIVITY_ANSWERED) == []
    assert SystemClock().now_ms() < home.clock.now_ms()  # (the centre ahead, never behind)
