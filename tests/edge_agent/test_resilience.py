"""What survives: a 60 s central outage under traffic, and kill -9 of the edge agent."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import msgspec
import pytest

from edge_agent import config
from edge_agent.agent import Agent
from edge_agent.config import GatewayConfig
from edge_agent.local_rules import CENTRE_UNREACHABLE
from edge_agent.outbox import EPOCH_SHIFT
from firmware_stubs import incidents as inc
from firmware_stubs.dialects import Message
from firmware_stubs.incidents import IncidentKind
from firmware_stubs.mqtt_out import Publisher
from firmware_stubs.runner import Level, RunConfig, run
from harness.mosquitto import LocalMosquitto
from harness.process import free_port
from runtime.broker import BrokerConnection
from runtime.limits import EDGE_MAX_INFLIGHT
from runtime.metrics_config import MetricsConfig
from telemetry import topics
from telemetry.clock import MIN_MS
from telemetry.kinds import Kind
from telemetry.reading import Reading
from tests.edge_agent.conftest import running_agent
from tests.edge_agent.test_agent_flow import GATEWAY, START, central_readings
from tests.support.mqtt import Recorder
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

OUTAGE_S = 60.0




def _dedup(readings: list[Reading]) -> tuple[list[Reading], int]:
    """First arrival of each (gateway, seq), in arrival order, and how many repeats."""
    seen: set[tuple[str, int]] = set()
    first = []
    for r in readings:
        if (r.gateway_id, r.seq) not in seen:
            seen.add((r.gateway_id, r.seq))
            first.append(r)
    return first, len(readings) - len(first)


LOCAL_UNACKED_MAX = EDGE_MAX_INFLIGHT  # what the edge broker lets the agent hold unacked


def _heart_rates(readings: list[Reading]) -> set[tuple[int, float]]:
    """The wristband's heart rates by what the device said: (its time, the value)."""
    return {(r.device_time_ms, r.value) for r in readings
            if r.kind is Kind.HEART_RATE and r.device_id == "wristband"}


def _in_order_per_device(routine: list[Reading]) -> bool:
    last: dict[str, int] = {}
    for r in routine:
        if r.seq < last.get(r.device_id, 0):
            return False
        last[r.device_id] = r.seq
    return True


def test_central_outage_of_60_s_under_traffic_loses_nothing(
    agent: Agent, edge_broker: LocalMosquitto, central_broker: LocalMosquitto,
    gateway_config: GatewayConfig,
) -> None:
    ingest = Recorder(central_broker.port, [f"eldercare/v1/{GATEWAY}/+"],
                      client_id="test-ingest")
    alarms = Recorder(edge_broker.port, [gateway_config.local_alarm_topic])
    radar = Recorder(edge_broker.port, ["zigbee2mqtt/h00000/bathroom_radar"])
    try:
        wait_until(lambda: agent.uplink.connected.is_set() and agent.local_ready.is_set(),
                   10, "agent connected at both ends")
        central_broker.stop()  # the home's internet goes down
        wait_until(lambda: not agent.uplink.connected.is_set(), 10, "uplink to notice")
        fall = inc.make(IncidentKind.FALL, 0, START + 30 * MIN_MS, 10 * MIN_MS)
        cfg = RunConfig(level=Level.DEVICE, homes=1, speed=120, duration_s=OUTAGE_S,
                        start_ms=START, step_s=5, incident_rate=0.0, extra_incidents=(fall,))
        publisher = Publisher(edge_broker.url, "sim-h00000")
        try:
            run(cfg, publisher.publish)  # steady traffic, paced in real time
            assert publisher.flush(30)
        finally:
            publisher.close()
        # the fall came 15 s into the 60 s outage: the local alarm at once, and, the centre
        # not having taken it after fallback_after_s (30 s), the fallback alarm
        wait_until(lambda: alarms.count() == 2, 5, "the local alarm and the fallback one")
        stored_during_outage = agent.outbox.depth()
        assert not agent.uplink.connected.is_set()
        central_broker.start()  # back
        wait_until(lambda: agent.outbox.depth() == 0, 60, "the outbox to drain")

        def arrived() -> bool:
            urgent, routine = central_readings(ingest)
            return len(_dedup(urgent + routine)[0]) >= agent.readings_total

        wait_until(arrived, 30, "every reading at the centre")
        urgent, routine = central_readings(ingest)
        fall_seen_at = next(m.at_s for m in radar.snapshot() if b'"fall"' in m.payload)
        alarm_at, fallback_at = (m.at_s for m in alarms.snapshot())
    finally:
        ingest.close()
        alarms.close()
        radar.close()
    unique, repeats = _dedup(urgent + routine)
    assert stored_during_outage > 1000  # the outage really was under traffic
    first = (agent.outbox.epoch << EPOCH_SHIFT) + 1
    assert sorted(r.seq for r in unique) == list(range(first, first + agent.readings_total))
    assert _in_order_per_device(_dedup(routine)[0])
    assert [r.kind for r in urgent] == [Kind.FALL, Kind.FALL]
    assert alarm_at - fall_seen_at < 1.0  # the local alarm went off at once, offline
    at_once, fallback = (msgspec.json.decode(m.payload) for m in alarms.snapshot())
    assert not at_once.get("fallback") and fallback["reason"] == CENTRE_UNREACHABLE
    assert fallback_at - fall_seen_at >= gateway_config.fallback_after_s
    # At-least-once: only what was in flight when the link dropped may come twice. The link
    # dropped before the traffic began, so at most a few side messages' worth, never the
    # outbox (the old bound, max_inflight * 500 = 32,000, could not fail in a 2,700 run).
    assert repeats <= agent.uplink.max_inflight, repeats


def _config_file(tmp_path: Path, edge: LocalMosquitto, central: LocalMosquitto) -> Path:
    cfg = msgspec.structs.replace(
        config.load(config.SAMPLE), data_dir=str(tmp_path / "edge-data"), link_test=False,
        local=BrokerConnection(port=edge.port), uplink=BrokerConnection(port=central.port),
        metrics=MetricsConfig(port=free_port()))
    path = tmp_path / "gateway.toml"
    path.write_bytes(config.dump(cfg))
    return path


def _start_agent(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "eldercare_cli.main", "edge", "--config",
                             str(path), "--heartbeat", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=Path(__file__).resolve().parents[2])


def test_kill_9_of_the_edge_agent_under_traffic_loses_nothing(
    tmp_path: Path, edge_broker: LocalMosquitto, central_broker: LocalMosquitto,
) -> None:
    path = _config_file(tmp_path, edge_broker, central_broker)
    ingest = Recorder(central_broker.port, [f"eldercare/v1/{GATEWAY}/+"],
                      client_id="test-ingest")
    sent: list[Message] = []
    agent = _start_agent(path)
    try:
        publisher = Publisher(edge_broker.url, "sim-h00000")
        probe = Message("zigbee2mqtt/h00000/front_door/availability", b"online", False)

        def probe_arrived() -> bool:  # the agent is subscribed locally and sending
            publisher.publish([probe])
            return any(r.kind is Kind.AVAILABILITY for r in central_readings(ingest)[1])

        wait_until(probe_arrived, 30, "a probe through the agent")

        def publish(messages: list[Message]) -> None:
            sent.extend(messages)
            publisher.publish(messages)

        cfg = RunConfig(level=Level.DEVICE, homes=1, speed=3600, duration_s=6,
                        start_ms=START, step_s=5, incident_rate=0.0)
        traffic = threading.Thread(target=run, args=(cfg, publish), daemon=True)
        traffic.start()

        def some_arrived() -> bool:
            return len(central_readings(ingest)[1]) > 300

        wait_until(some_arrived, 30, "traffic at the centre")
        agent.kill()  # kill -9 in the middle of the traffic
        agent.wait()
        assert traffic.is_alive()
        agent = _start_agent(path)
        traffic.join(60)
        assert publisher.flush(30)
        publisher.close()
        hr_sent = sum(1 for m in sent if m.topic == "native/h00000-wristband/vitals"
                      and b'"hr"' in m.payload)

        def all_heart_rates() -> bool:
            unique, _ = _dedup(central_readings(ingest)[1])
            return len(_heart_rates(unique)) >= hr_sent

        wait_until(all_heart_rates, 60, "every heart rate at the centre")
    finally:
        agent.terminate()
        agent.wait(20)
        ingest.close()
    urgent, routine = central_readings(ingest)
    unique, _ = _dedup(routine + urgent)
    seqs = sorted(r.seq - (r.seq >> EPOCH_SHIFT << EPOCH_SHIFT) for r in unique)
    assert seqs == list(range(1, len(seqs) + 1))  # no gap: nothing lost or corrupt
    hr_got = [r for r in unique if r.kind is Kind.HEART_RATE and r.device_id == "wristband"]
    assert len(_heart_rates(unique)) == hr_sent > 100  # every heart rate the device sent
    # At least once: a message stored in the outbox but not yet acknowledged to the local
    # broker when the agent died comes back from that broker and is stored again (a new
    # sequence number, the same device time and value). Only such a handful, never more.
    assert len(hr_got) - hr_sent <= LOCAL_UNACKED_MAX
    statuses = [m.payload for m in ingest.snapshot()
                if m.topic == topics.central(GATEWAY, topics.Channel.STATUS)]
    assert b"offline" in statuses  # the last will told the centre it died




def test_a_full_outbox_keeps_every_urgent_event_and_counts_what_it_dropped(
    edge_broker: LocalMosquitto, central_broker: LocalMosquitto,
    gateway_config: GatewayConfig,
) -> None:
    small = msgspec.structs.replace(gateway_config, outbox_max_bytes=20_000)
    with running_agent(small) as agent:
        _full_outbox(agent, edge_broker, central_broker)


def _full_outbox(agent: Agent, edge_broker: LocalMosquitto,
                 central_broker: LocalMosquitto) -> None:
    ingest = Recorder(central_broker.port, [f"eldercare/v1/{GATEWAY}/+"],
                      client_id="test-ingest")
    publisher = Publisher(edge_broker.url, "devices")
    try:
        wait_until(lambda: agent.uplink.connected.is_set() and agent.local_ready.is_set(),
                   10, "agent connected at both ends")
        central_broker.stop()
        wait_until(lambda: not agent.uplink.connected.is_set(), 10, "uplink to notice")
        messages = []
        for i in range(2000):
            body = f'{{"ts": {START + i * 1000}, "hr": {60 + i % 30}}}'.encode()
            messages.append(Message("native/h00000-wristband/vitals", body, False))
            if i % 200 == 100:
                messages.append(Message("zigbee2mqtt/h00000/sos_pendant",
                                        b'{"action": "emergency"}', False))
        publisher.publish(messages)
        assert publisher.flush(30)
        wait_until(lambda: agent.readings_total >= 2010, 30, "every device message stored")
        dropped = agent.outbox.dropped
        assert dropped > 1000  # the budget holds a few hundred readings
        central_broker.start()
        wait_until(lambda: agent.outbox.depth() == 0, 60, "the outbox to drain")

        def reported() -> bool:
            from telemetry import health

            beats = [health.decode_heartbeat(m.payload) for m in ingest.snapshot()
                     if m.topic.endswith("/heartbeat")]
            return any(b.dropped_total == dropped and b.outbox_depth == 0 for b in beats)

        wait_until(reported, 20, "a heartbeat reporting the drops")
        urgent, routine = central_readings(ingest)
    finally:
        publisher.close()
        ingest.close()
    assert [r.kind for r in urgent] == [Kind.SOS] * 10  # every SOS survived
    heart = [r for r in _dedup(routine)[0] if r.kind is Kind.HEART_RATE]
    assert len(heart) + dropped == 2000
    times = [r.device_time_ms for r in heart]
    assert times == sorted(times) and times[-1] == START + 1999 * 1000  # the newest kept
    assert times[0] == START + dropped * 1000  # the oldest went first
