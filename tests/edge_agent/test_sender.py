"""The uplink's sender on its own (no broker): an urgent reading goes alone and first, a
routine batch waits for its window or for a full batch, at most ``max_inflight`` envelopes
wait for their PUBACK, and a reading leaves the outbox only with its PUBACK."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.outbox import Outbox
from edge_agent.uplink.sender import Sender
from telemetry import codec
from telemetry.clock import FakeClock
from telemetry.kinds import FallStatus, Kind
from tests.support.readings import T0, reading


class Wire:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []  # (topic, readings)

    def __call__(self, topic: str, payload: bytes, retain: bool) -> int:
        self.sent.append((topic.rsplit("/", 1)[1], len(codec.decode(payload, now_ms=T0).readings)))
        return len(self.sent)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.db", 1 << 24)


def test_urgent_first_routine_in_batches_after_the_window(outbox: Outbox) -> None:
    clock = FakeClock(T0)
    sender = Sender("gw-00000", "site-000", outbox, clock, batch_max=10,
                    batch_window_s=1.0, max_inflight=4)
    wire = Wire()
    outbox.append([reading(Kind.HEART_RATE, 70, T0)])
    sender.wake.set()
    sender.send(wire)  # at start, whatever the outbox holds is a backlog: it goes at once
    assert wire.sent == [("readings", 1)] and sender.acked(1)
    outbox.append([reading(Kind.HEART_RATE, 70, T0) for _ in range(3)])
    outbox.append([reading(Kind.FALL, float(FallStatus.FALL), T0, device_id="bathroom-radar")])
    sender.wake.set()
    assert sender.urgent_now()
    sender.send(wire)
    assert wire.sent[1:] == [("urgent", 1)]  # the routine three wait for their window
    clock.advance(1.0)
    sender.send(wire)
    assert wire.sent[1:] == [("urgent", 1), ("readings", 3)]
    assert outbox.depth() == 4  # nothing leaves before its PUBACK
    assert sender.acked(3) and outbox.depth() == 1
    assert not sender.acked(3)  # the same PUBACK twice frees nothing more


def test_no_more_than_max_inflight_envelopes_wait_for_their_puback(outbox: Outbox) -> None:
    sender = Sender("gw-00000", "site-000", outbox, FakeClock(T0), batch_max=10,
                    batch_window_s=1.0, max_inflight=2)
    wire = Wire()
    outbox.append([reading(Kind.SOS, 1, T0, device_id="sos-button") for _ in range(5)])
    sender.wake.set()
    sender.send(wire)
    assert wire.sent == [("urgent", 1), ("urgent", 1)]
    sender.acked(1)
    sender.wake.set()
    sender.send(wire)
    assert len(wire.sent) == 3
