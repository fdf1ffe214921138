"""Asking the resident before a check reaches the desk, end to end on real Mosquitto
brokers: the central process (on a fake clock) holds an inactivity check back and sends
the home its question on the command path; the real edge agent plays it on the prompt
device; the resident's answer (the pendant's double press) travels up and closes the check
on the timeline, never on the desk's queue. Unanswered, the check reaches the desk when the
wait is over, saying so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.model import Alert, AlertState, Condition
from harness.mosquitto import LocalMosquitto
from runtime.mqtt import MQTTv311, new_client
from telemetry import commands as wire
from telemetry.clock import SystemClock
from tests.central.homes import RESIDENT, Home, running_home
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

PENDANT = "zigbee2mqtt/h00000/sos_pendant"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    with running_home(tmp_path) as h:
        yield h


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
