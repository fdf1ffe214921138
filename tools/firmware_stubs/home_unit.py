"""The home unit's prompt device, for a simulation at gateway level (where no edge agent
runs): it takes the centre's ``prompt`` commands for every simulated gateway, answers each
command as the gateway's agent would, and, when ``answers(resident_id)`` says the resident
answers, presses the pendant's second action after ``delay_s``: an ANSWER reading sent up
as the gateway sends an urgent reading (its own sequence numbers, far above the fleet's, so
the centre's dedup never takes one for the other). ``possible_fall`` is the gateway's own
question: the pendant's lower fall tier reports a possible fall, the unit asks, and the
resident answers or not, the same way."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from firmware_stubs.mqtt_out import parse_broker_url
from runtime.mqtt import MQTTv311, new_client
from telemetry import codec, topics
from telemetry import commands as wire
from telemetry.clock import Clock
from telemetry.kinds import FallStatus, Kind, unit_of
from telemetry.reading import Reading
from telemetry.topics import Channel, TopicError

log = logging.getLogger(__name__)

SEQ_BASE = 1 << 40  # the home units' sequence numbers: never the fleet's
PENDANT = "sos-button"  # its second action answers


class HomeUnits:
    def __init__(self, url: str, clock: Clock, homes: dict[str, tuple[str, str]],
                 answers: Callable[[str], bool], delay_s: float = 20.0,
                 wait: Callable[[float], bool] | None = None) -> None:
        """``homes``: resident -> (site, gateway). ``wait``: sleeps simulated seconds
        (the simulation's pace), False if the simulation stopped meanwhile; the answer
        comes ``delay_s`` after the question."""
        self.clock = clock
        self.homes = homes
        self.answers = answers
        self.delay_s = delay_s
        self._wait = wait or (lambda s: True)
        self._seq = SEQ_BASE
        self._lock = threading.Lock()
        self.asked: list[tuple[str, str]] = []  # (resident, reason)
        self.answered: list[str] = []
        host, port = parse_broker_url(url)
        self._client = new_client(client_id="simulated-home-units", protocol=MQTTv311)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.connect(host, port, keepalive=30)
        self._client.loop_start()

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason: ReasonCode, props: object) -> None:
        if not reason.is_failure:
            client.subscribe(topics.command_to_any(wire.PROMPT), qos=1)

    def _on_message(self, client: mqtt.Client, userdata: object,
                    msg: mqtt.MQTTMessage) -> None:
        try:
            gateway_id, _ = topics.parse_command(msg.topic)
            command = wire.decode_command(bytes(msg.payload))
            prompt = wire.prompt_of(command)
        except (TopicError, wire.CommandError) as exc:
            log.warning("home unit: a command refused: %s", exc)
            return
        done = wire.Result(command.id, gateway_id, True, self.clock.now_ms())
        client.publish(topics.central(gateway_id, Channel.RESULT), wire.encode(done), qos=1)
        with self._lock:
            self.asked.append((prompt.resident_id, prompt.reason))
        self._maybe_answer(prompt.resident_id)

    def possible_fall(self, resident_id: str) -> None:
        """The resident's pendant reports a possible fall; the home unit asks."""
        self._send(resident_id, "pendant", Kind.FALL, float(FallStatus.MAYBE_FALL))
        with self._lock:
            self.asked.append((resident_id, wire.ASK_POSSIBLE_FALL))
        self._maybe_answer(resident_id)

    def _maybe_answer(self, resident_id: str) -> None:
        if self.answers(resident_id) and resident_id in self.homes:
            threading.Thread(target=self._answer, args=(resident_id,), daemon=True,
                             name="home-unit-answer").start()

    def _answer(self, resident_id: str) -> None:
        if not self._wait(self.delay_s):
            return  # the simulation stopped meanwhile
        self._send(resident_id, PENDANT, Kind.ANSWER, 1.0)
        with self._lock:
            self.answered.append(resident_id)
        log.info("home unit: %s answered the question", resident_id)

    def _send(self, resident_id: str, device_id: str, kind: Kind, value: float) -> None:
        """One urgent reading of the resident's home, as its gateway sends it."""
        site_id, gateway_id = self.homes[resident_id]
        now = self.clock.now_ms()
        with self._lock:
            self._seq += 1
            seq = self._seq
        reading = Reading(site_id, gateway_id, device_id, kind, value, unit_of(kind), now,
                          now, seq, resident_id)
        self._client.publish(topics.central(gateway_id, Channel.URGENT),
                             codec.encode(gateway_id, site_id, now, [reading]), qos=1)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
