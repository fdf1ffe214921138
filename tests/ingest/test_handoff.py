"""A consumer that fails (the alert core's state on a full disk) loses nothing: its batch is
handed over again until taken, and the process says it is degraded meanwhile."""

from __future__ import annotations

import threading

from alerts.store import StateError
from ingest.handoff import Handoff
from runtime.backoff import Backoff
from telemetry.kinds import FallStatus, Kind
from tests.support.readings import T0, reading
from tests.support.wait import wait_until


class FlakyCore:
    """Fails ``failures`` times (the disk is full), then takes everything."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.taken: list[object] = []
        self.broken = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, readings: list[object]) -> None:
        with self.lock:
            if self.failures > 0:
                self.failures -= 1
                self.broken.set()
                raise StateError("database or disk is full")
            self.taken.extend(readings)


def test_a_fall_the_alert_core_failed_on_is_handed_over_again_until_taken() -> None:
    core = FlakyCore(failures=3)
    handoff = Handoff([core], backoff=Backoff(0.01, 0.05))
    fall = reading(Kind.FALL, float(FallStatus.FALL), T0, device_id="pendant")
    try:
        handoff.hand([fall])
        assert handoff.degraded() and handoff.errors >= 1
        assert "disk is full" in handoff.last_error
        wait_until(lambda: core.taken == [fall], 10, "the fall taken after the disk recovers")
        wait_until(lambda: not handoff.degraded(), 10, "no longer degraded")
        assert handoff.errors == 3 and handoff.dropped == 0
    finally:
        handoff.close()


def test_a_full_queue_gives_up_routine_readings_first_and_never_a_fall() -> None:
    never = FlakyCore(failures=10**9)
    handoff = Handoff([never], backoff=Backoff(10.0, 10.0), max_pending=2)
    fall = reading(Kind.FALL, float(FallStatus.FALL), T0, device_id="pendant")
    try:
        handoff.hand([fall])
        handoff.hand([reading(Kind.HEART_RATE, 70.0, T0)])
        handoff.hand([reading(Kind.HEART_RATE, 71.0, T0)])  # the queue is full
        assert handoff.pending() == 2 and handoff.dropped == 1
        handoff.hand([reading(Kind.SOS, 1.0, T0, device_id="sos-button")])
        assert handoff.pending() == 2 and handoff.dropped == 2
    finally:
        handoff.close()


def test_a_batch_given_up_with_its_partition_is_not_handed_over_any_more() -> None:
    core = FlakyCore(failures=10**9)
    handoff = Handoff([core], backoff=Backoff(0.01, 0.05))
    fall = reading(Kind.FALL, float(FallStatus.FALL), T0, device_id="pendant")
    try:
        ticket = handoff.hand([fall], key=4)
        other = handoff.hand([reading(Kind.HEART_RATE, 70.0, T0)], key=5)
        assert ticket is not None and other is not None and not ticket.wait(0)
        assert handoff.abandon(4) == [fall]  # partition 4 passes to another node
        assert ticket.wait(0) and not ticket.handled  # its message stays unacknowledged
        assert handoff.pending() == 1 and not other.wait(0)
        with core.lock:
            core.failures = 0
        wait_until(lambda: other.handled, 10, "partition 5's batch taken")
        assert core.taken == other.readings  # the given-up fall is not handed over here
    finally:
        handoff.close()


class Switch:
    """Fails until ``up`` is set (the alert store away), then records what it takes."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.taken: list[list[object]] = []

    def __call__(self, readings: list[object]) -> None:
        if not self.up.is_set():
            raise StateError("no primary answers")
        self.taken.append(readings)


def test_once_the_store_is_back_a_queued_fall_goes_before_the_routine_backlog() -> None:
    """An outage queued routine batches, then a fall, then more routine ones: once the
    store is back, the fall is the first batch handed over, not the fourth."""
    core = Switch()
    handoff = Handoff([core], backoff=Backoff(0.01, 0.02))
    routine = [[reading(Kind.HEART_RATE, 70.0 + k, T0 + k)] for k in range(3)]
    fall = [reading(Kind.FALL, float(FallStatus.FALL), T0 + 5, device_id="pendant")]
    later = [[reading(Kind.HEART_RATE, 80.0, T0 + 6)]]
    try:
        for batch in [*routine, fall, *later]:
            assert handoff.hand(batch) is not None  # queued: the store is away
        assert handoff.pending() == 5
        core.up.set()
        wait_until(lambda: handoff.pending() == 0, 10, "the backlog handed over")
        assert core.taken[0] == fall
        assert core.taken[1:] == [*routine, *later]  # the routine ones in their order
    finally:
        handoff.close()
