"""The fleet runner into a real Mosquitto: a subscriber receives exactly what the labels say."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest

from firmware_stubs import incidents as inc
from firmware_stubs import layout
from firmware_stubs.incidents import IncidentKind
from firmware_stubs.mqtt_out import Publisher
from firmware_stubs.runner import Level, RunConfig, run
from harness.mosquitto import LocalMosquitto
from telemetry import codec, topics
from telemetry.clock import DAY_MS, HOUR_MS, MIN_MS, FakeClock
from telemetry.health import link_test_due_ms
from telemetry.kinds import FallStatus, Kind
from telemetry.topics import Channel
from tests.support.mqtt import Recorder
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

START = 1_795_305_600_000 + 8 * HOUR_MS  # 08:00


def _run_into(broker: LocalMosquitto, cfg: RunConfig) -> tuple[int, int, bytes]:
    publisher = Publisher(broker.url, "test-sim")
    labels = io.BytesIO()
    clock = FakeClock()
    try:
        stats = run(cfg, publisher.publish, labels=labels, clock=clock, sleep=clock.advance)
        assert publisher.flush(30)
    finally:
        publisher.close()
    return stats.readings, stats.messages, labels.getvalue()


def test_gateway_level_readings_arrive_exactly_as_labelled(mosquitto: LocalMosquitto) -> None:
    recorder = Recorder(mosquitto.port, [topics.central_filter(c) for c in Channel])
    try:
        cfg = RunConfig(level=Level.GATEWAY, homes=30, speed=1800, duration_s=8,
                        start_ms=START, step_s=30, incident_rate=3.0)
        readings, messages, raw_labels = _run_into(mosquitto, cfg)
        births = 30
        wait_until(lambda: recorder.count() >= messages + births, 30, "every message")
        got = recorder.snapshot()
    finally:
        recorder.close()
    assert len(got) == messages + births
    late = Recorder(mosquitto.port, [topics.central_filter(Channel.STATUS)])
    try:  # the birth is retained: a subscriber that comes later still learns it
        wait_until(lambda: late.count() >= births, 10, "retained status of every gateway")
        assert all(m.retain and m.payload == b"online" for m in late.snapshot())
    finally:
        late.close()
    labels = inc.read_labels(raw_labels)
    assert labels, "the run should have injected incidents"
    seen: Counter[tuple[str, int]] = Counter()
    urgent: list[tuple[str, Kind, float, int]] = []
    total = 0
    for m in got:
        parsed = topics.parse_central(m.topic)
        if parsed.channel is Channel.STATUS:
            assert m.payload == b"online"
            continue
        batch = codec.decode(m.payload, now_ms=START + 5 * HOUR_MS,
                             expected_gateway_id=parsed.gateway_id)
        assert batch.rejections == []
        for r in batch.readings:
            seen[(r.gateway_id, r.seq)] += 1
            if parsed.channel is Channel.URGENT:
                urgent.append((r.gateway_id, r.kind, r.value, r.device_time_ms))
        total += len(batch.readings)
    assert total == readings
    assert max(seen.values()) == 1  # no (gateway, seq) twice
    end = START + int(cfg.duration_s * cfg.speed * 1000)
    expected: list[tuple[str, Kind, float, int]] = []
    for label in labels:
        if label.incident is IncidentKind.FALL and label.start_ms + 8000 < end:
            expected.append((label.gateway_id, Kind.FALL, float(FallStatus.MAYBE_FALL),
                             label.start_ms))
            expected.append((label.gateway_id, Kind.FALL, float(FallStatus.FALL),
                             label.start_ms + 8000))
        elif label.incident is IncidentKind.SOS and label.start_ms < end:
            expected.append((label.gateway_id, Kind.SOS, 1.0, label.start_ms))
    # and each gateway's daily test alarm, at its own time, on each day the run covered
    for h in range(cfg.homes):
        gateway = f"gw-{h:05d}"
        for day in range(START // DAY_MS, (end - 1) // DAY_MS + 1):
            due = link_test_due_ms(gateway, day * DAY_MS)
            if START <= due < end:
                expected.append((gateway, Kind.LINK_TEST, 1.0, due))
    assert any(kind is Kind.LINK_TEST for _, kind, _, _ in expected)
    assert sorted(urgent) == sorted(expected)


def test_device_level_fall_reaches_the_broker_in_zigbee2mqtt_form(
    mosquitto: LocalMosquitto,
) -> None:
    recorder = Recorder(mosquitto.port, ["#"])
    try:
        fall = inc.make(IncidentKind.FALL, 1, START + 20 * MIN_MS, 20 * MIN_MS)
        cfg = RunConfig(level=Level.DEVICE, homes=2, speed=600, duration_s=5,
                        start_ms=START, step_s=5, incident_rate=0.0, extra_incidents=(fall,))
        _, messages, _ = _run_into(mosquitto, cfg)
        births = 1 + 2 * len(layout.DEVICES)  # bridge state + every device's availability
        wait_until(lambda: recorder.count() >= messages + births, 30, "every message")
        got = recorder.snapshot()
    finally:
        recorder.close()
    radar = [json.loads(m.payload)["fall_down_status"] for m in got
             if m.topic.startswith("zigbee2mqtt/h0000") and m.topic.endswith("bathroom_radar")
             and "fall_down_status" in json.loads(m.payload)]
    # zigbee2mqtt repeats the whole state with every change: look at the transitions
    changes = [s for i, s in enumerate(radar) if i == 0 or radar[i - 1] != s]
    assert changes == ["maybe_fall", "fall", "none"]
    assert all(m.topic == "zigbee2mqtt/h00001/bathroom_radar" for m in got
               if b"maybe_fall" in m.payload)
    assert any(m.topic == "zigbee2mqtt/h00000/front_door/availability"
               and m.payload == b"online" for m in got)
    assert any(m.topic == "zigbee2mqtt/h00001/front_door/availability"
               and json.loads(m.payload) == {"state": "online"} for m in got)
    assert any(m.topic == "h00001-bed-vitals/status" and m.payload == b"online" for m in got)
