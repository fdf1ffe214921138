"""The edge agent between two real brokers, fed by the simulated home it is configured for."""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict

import msgspec
import pytest

from edge_agent.agent import GROUP_WINDOW_S, Agent
from edge_agent.config import GatewayConfig
from edge_agent.local_rules import LocalAlarm
from edge_agent.outbox import EPOCH_SHIFT
from firmware_stubs import incidents as inc
from firmware_stubs.dialects import Message
from firmware_stubs.incidents import IncidentKind
from firmware_stubs.mqtt_out import Publisher
from firmware_stubs.runner import Level, RunConfig, run
from harness.mosquitto import LocalMosquitto
from telemetry import codec, health, topics
from telemetry.clock import HOUR_MS, MIN_MS, FakeClock, SystemClock
from telemetry.kinds import FallStatus, Kind
from telemetry.parts import ZIGBEE_COORDINATOR
from telemetry.reading import Reading
from telemetry.topics import Channel
from tests.support.days import midnight_utc_ms
from tests.support.mqtt import Recorder
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

# The agent stamps what it generates itself with the real clock, so the simulated morning
# is yesterday's, by the same clock; the centre decodes with the real clock too.
START = midnight_utc_ms(days_ago=1) + 9 * HOUR_MS  # 09:00 UTC yesterday
GATEWAY = "gw-00000"




def simulate(edge: LocalMosquitto, *, sim_minutes: float, real_s: float | None,
             incidents: tuple[inc.Incident, ...] = (), accel: bool = False) -> None:
    """Home h00000's devices publish into the edge broker, as fast as possible or paced."""
    cfg = RunConfig(level=Level.DEVICE, homes=1, speed=sim_minutes * 60 / (real_s or 1.0),
                    duration_s=real_s or 1.0, start_ms=START, step_s=5, incident_rate=0.0,
                    extra_incidents=incidents, accel=accel)
    publisher = Publisher(edge.url, "sim-h00000")
    try:
        if real_s is None:
            clock = FakeClock()
            run(cfg, publisher.publish, clock=clock, sleep=clock.advance)
        else:
            run(cfg, publisher.publish)
        assert publisher.flush(30)
    finally:
        publisher.close()


def central_readings(recorder: Recorder) -> tuple[list[Reading], list[Reading]]:
    """(urgent, routine) readings received at the centre, in arrival order."""
    urgent: list[Reading] = []
    routine: list[Reading] = []
    for m in recorder.snapshot():
        parsed = topics.parse_central(m.topic)
        if parsed.channel not in (Channel.READINGS, Channel.URGENT):
            continue
        batch = codec.decode(m.payload, now_ms=SystemClock().now_ms(),
                             expected_gateway_id=parsed.gateway_id, max_past_ms=10**12)
        assert batch.rejections == []
        (urgent if parsed.channel is Channel.URGENT else routine).extend(batch.readings)
    return urgent, routine


def test_readings_reach_the_centre_once_with_birth_heartbeat_and_local_alarm(
    agent: Agent, edge_broker: LocalMosquitto, central_broker: LocalMosquitto,
    gateway_config: GatewayConfig,
) -> None:
    central = Recorder(central_broker.port, [f"eldercare/v1/{GATEWAY}/#"])
    alarms = Recorder(edge_broker.port, [gateway_config.local_alarm_topic])
    try:
        wait_until(lambda: agent.uplink.connected.is_set() and agent.local_ready.is_set(),
                   10, "agent connected at both ends")
        fall = inc.make(IncidentKind.FALL, 0, START + 30 * MIN_MS, 10 * MIN_MS)
        simulate(edge_broker, sim_minutes=90, real_s=None, incidents=(fall,), accel=True)
        # Settled: nothing new stored for well over a commit group's window (so nothing of
        # the simulation is still on its way in), the outbox empty, all at the centre.
        last = [-1, time.monotonic()]

        def settled() -> bool:
            total, now = agent.readings_total, time.monotonic()
            if total != last[0]:
                last[:] = [total, now]
                return False
            urgent, routine = central_readings(central)
            return (total > 100 and now - last[1] >= 5 * GROUP_WINDOW_S
                    and agent.outbox.depth() == 0 and len(urgent) + len(routine) >= total)

        wait_until(settled, 40, "every reading stored and at the centre")
        urgent, routine = central_readings(central)
        statuses = [m.payload for m in central.snapshot() if m.topic.endswith("/status")]
        beats = [health.decode_heartbeat(m.payload) for m in central.snapshot()
                 if m.topic.endswith("/heartbeat")]
        got_alarms = [msgspec.json.decode(m.payload, type=LocalAlarm)
                      for m in alarms.snapshot()]
    finally:
        central.close()
        alarms.close()
    everything = urgent + routine
    first = (agent.outbox.epoch << EPOCH_SHIFT) + 1
    assert sorted(r.seq for r in everything) == list(range(first, first + agent.readings_total))
    # The radar's two stages, and the pendant's accelerometer seen by the edge detector.
    assert sorted((r.device_id, r.value) for r in urgent) == [
        ("bathroom-radar", float(FallStatus.MAYBE_FALL)),
        ("bathroom-radar", float(FallStatus.FALL)), ("pendant", float(FallStatus.FALL))]
    pendant = next(r for r in urgent if r.device_id == "pendant")
    assert pendant.device_time_ms == fall.start_ms + 8000  # stamped with the impact
    assert all(r.site_id == "site-000" for r in everything)
    # the devices' readings are the resident's; the gateway's radio, up from the start,
    # reports itself (the retained bridge state) and is nobody's
    radio = [(r.kind, r.value, r.resident_id) for r in everything
             if r.device_id == ZIGBEE_COORDINATOR]
    assert radio == [(Kind.AVAILABILITY, 1.0, None)]
    assert all(r.resident_id == "res-00000" for r in everything
               if r.device_id != ZIGBEE_COORDINATOR)
    assert {Kind.HEART_RATE, Kind.MOTION, Kind.PRESENCE} <= {r.kind for r in routine}
    assert statuses[0] == health.ONLINE
    assert beats and beats[-1].gateway_id == GATEWAY
    assert sorted((a.device_id, a.kind) for a in got_alarms) == [
        ("bathroom-radar", Kind.FALL), ("pendant", Kind.FALL)]
    per_device: dict[tuple[str, Kind], list[tuple[int, int]]] = defaultdict(list)
    for r in routine:
        per_device[(r.device_id, r.kind)].append((r.device_time_ms, r.seq))
    inversions = [(key, a, b) for key, seen in per_device.items()
                  for a, b in itertools.pairwise(seen) if b[0] < a[0]]
    assert inversions == []


def test_bad_local_payloads_are_counted_and_the_agent_keeps_going(
    agent: Agent, edge_broker: LocalMosquitto, central_broker: LocalMosquitto,
) -> None:
    central = Recorder(central_broker.port, [f"eldercare/v1/{GATEWAY}/heartbeat"])
    publisher = Publisher(edge_broker.url, "bad-devices")
    try:
        wait_until(agent.local_ready.is_set, 10, "the agent subscribed locally")
        publisher.publish([
            _msg("zigbee2mqtt/h00000/front_door", b"{not json"),
            _msg("zigbee2mqtt/h00000/front_door", b'{"contact": "maybe"}'),
            _msg("zigbee2mqtt/h99999/back_door", b'{"contact": true}'),
            _msg("native/h00000-wristband/vitals", b"\xff" * 10),
            _msg("h00000-bed-vitals/sensor/heart_rate/state", b"NaN"),
            _msg("zigbee2mqtt/h00000/front_door", b'{"contact": false}'),
        ])
        assert publisher.flush(10)
        wait_until(lambda: sum(agent.refused.values()) == 5 and agent.readings_total == 1,
                   10, "five refusals and one good reading")

        def reported() -> bool:
            beats = [health.decode_heartbeat(m.payload) for m in central.snapshot()]
            return any(sum(b.refused.values()) == 5 for b in beats)

        wait_until(reported, 10, "a heartbeat that reports the refusals")
    finally:
        publisher.close()
        central.close()
    assert agent.refused == Counter({"malformed": 2, "bad_value": 2, "unknown_device": 1})


def _msg(topic: str, payload: bytes) -> Message:
    return Message(topic, payload, False)


def test_payloads_that_once_killed_the_local_loop_are_refused_and_intake_goes_on(
    agent: Agent, edge_broker: LocalMosquitto,
) -> None:
    publisher = Publisher(edge_broker.url, "bad-devices")
    try:
        wait_until(agent.local_ready.is_set, 10, "the agent subscribed locally")
        publisher.publish([
            _msg("zigbee2mqtt/h00000/front_door/availability", b"[1]"),
            _msg("zigbee2mqtt/h00000/front_door/availability", b'{"state": []}'),
            _msg("zigbee2mqtt/h00000/front_door", b"[" * 100_000),
        ])
        assert publisher.flush(10)
        wait_until(lambda: sum(agent.refused.values()) == 3, 10, "three refusals")

        def bug(topic: str, payload: bytes) -> list[object]:
            raise RuntimeError("an adapter bug")

        agent._z2m.translate = bug  # type: ignore[method-assign,assignment]
        publisher.publish([_msg("zigbee2mqtt/h00000/front_door", b'{"contact": true}')])
        assert publisher.flush(10)
        wait_until(lambda: agent.refused["internal_error"] == 1, 10, "the bug counted")
        del agent._z2m.translate  # the adapter mended: intake must still be running
        publisher.publish([_msg("zigbee2mqtt/h00000/front_door", b'{"contact": false}')])
        assert publisher.flush(10)
        wait_until(lambda: agent.readings_total == 1, 10, "the next good message stored")
    finally:
        publisher.close()
    assert agent.refused == Counter({"malformed": 3, "internal_error": 1})


def test_the_zigbee_coordinator_going_down_reaches_the_centre_at_once_as_one_report(
    agent: Agent, edge_broker: LocalMosquitto, central_broker: LocalMosquitto,
) -> None:
    """zigbee2mqtt's retained ``bridge/state`` goes ``offline``: the centre hears of the
    gateway's radio within seconds, once, and hears that it is back; no Zigbee device is
    reported silent one by one meanwhile."""
    central = Recorder(central_broker.port, [f"eldercare/v1/{GATEWAY}/#"])
    publisher = Publisher(edge_broker.url, "zigbee2mqtt-bridge")

    def availability() -> list[tuple[str, float]]:
        _, routine = central_readings(central)
        return [(r.device_id, r.value) for r in routine if r.kind is Kind.AVAILABILITY]

    try:
        wait_until(lambda: agent.uplink.connected.is_set() and agent.local_ready.is_set(),
                   10, "agent connected at both ends")
        for state in (b'{"state":"offline"}', b"offline"):  # the repeat says nothing new
            publisher.publish([Message("zigbee2mqtt/bridge/state", state, True)])
        assert publisher.flush(10)
        wait_until(lambda: availability() == [(ZIGBEE_COORDINATOR, 0.0)], 10,
                   "the radio reported down, once")
        publisher.publish([Message("zigbee2mqtt/bridge/state", b"online", True)])
        assert publisher.flush(10)
        wait_until(lambda: availability() == [(ZIGBEE_COORDINATOR, 0.0),
                                              (ZIGBEE_COORDINATOR, 1.0)], 10,
                   "the radio reported back")
    finally:
        publisher.close()
        central.close()
