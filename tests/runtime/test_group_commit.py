"""Group commit: device messages are acknowledged only after their readings are stored."""

from __future__ import annotations

import threading
from pathlib import Path

from edge_agent.outbox import Outbox, OutboxError
from runtime.group_commit import GroupWriter
from telemetry.reading import Reading
from tests.edge_agent.test_outbox import reading
from tests.support.wait import wait_until


class Acks:
    def __init__(self) -> None:
        self.acked: list[int] = []
        self.errors: list[Exception] = []
        self.stored = 0
        self.lock = threading.Lock()

    def ack(self, mid: int, qos: int) -> None:
        with self.lock:
            self.acked.append(mid)

    def on_stored(self, count: int) -> None:
        with self.lock:
            self.stored += count

    def on_error(self, exc: Exception) -> None:
        with self.lock:
            self.errors.append(exc)


def test_messages_are_acknowledged_after_their_readings_are_stored(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    acks = Acks()
    depth_at_ack: list[int] = []

    def ack(mid: int, qos: int) -> None:
        depth_at_ack.append(box.depth())
        acks.ack(mid, qos)

    writer = GroupWriter(box.append, ack, acks.on_stored, acks.on_error, errors=(OutboxError,))
    writer.start()
    for mid in range(1, 101):
        writer.submit([reading(), reading()], mid, 1)
    writer.submit([reading()])  # a watchdog reading: nothing to acknowledge
    wait_until(lambda: len(acks.acked) == 100, 10, "every message acknowledged")
    writer.close()
    assert acks.acked == list(range(1, 101))
    assert acks.stored == 201 and box.depth() == 201
    assert min(depth_at_ack) >= 2  # no message was acknowledged before it was stored


def test_a_failed_write_acknowledges_nothing(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    box.close()  # the disk is gone
    acks = Acks()
    writer = GroupWriter(box.append, acks.ack, acks.on_stored, acks.on_error,
                         errors=(OutboxError,))
    writer.start()
    writer.submit([reading()], 7, 1)
    wait_until(lambda: len(acks.errors) == 1, 10, "the error to be reported")
    writer.close()
    assert acks.acked == [] and acks.stored == 0


def test_a_failed_write_is_tried_again_and_then_acknowledged_in_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    failures = [2]  # the store is busy twice, then takes the batch

    def flaky(readings: list[object]) -> int:
        if failures[0] > 0:
            failures[0] -= 1
            raise OutboxError("database is locked")
        return box.append(readings)  # type: ignore[arg-type]

    acks = Acks()
    writer = GroupWriter(flaky, acks.ack, acks.on_stored, acks.on_error, errors=(OutboxError,))
    writer.start()
    for mid in range(1, 11):
        writer.submit([reading()], mid, 1)
    wait_until(lambda: len(acks.acked) == 10, 10, "every message acknowledged after retries")
    writer.close()
    assert acks.acked == list(range(1, 11)) and len(acks.errors) == 2
    assert box.depth() == 10


def test_a_backlog_is_written_in_short_transactions_of_whole_messages() -> None:
    """Another writer of the same store (the urgent lane) waits behind one short
    transaction, never behind a backlog of thousands of messages."""
    acks = Acks()
    sizes: list[int] = []
    first_write = threading.Event()
    release = threading.Event()

    def write(readings: list[Reading]) -> None:
        sizes.append(len(readings))
        first_write.set()
        release.wait(10)

    writer = GroupWriter(write, acks.ack, acks.on_stored, acks.on_error, errors=(OSError,),
                         max_readings=1000)
    writer.start()
    message = [reading() for _ in range(300)]
    writer.submit(message, 0, 1)
    assert first_write.wait(10)
    for mid in range(1, 51):  # a backlog builds while the first write is under way
        writer.submit(message, mid, 1)
    release.set()
    wait_until(lambda: len(acks.acked) == 51, 10, "every message acknowledged")
    writer.close()
    assert sizes == [300] + [1200] * 12 + [600]
    assert acks.acked == list(range(51)) and acks.stored == 51 * 300


def test_an_urgent_message_is_written_without_waiting_for_the_group_to_fill() -> None:
    acks = Acks()
    writes: list[int] = []
    writer = GroupWriter(lambda readings: writes.append(len(readings)), acks.ack,
                         acks.on_stored, acks.on_error, errors=(OSError,), max_delay_s=30.0)
    writer.start()
    writer.submit([reading()], 1, 1)  # routine: would wait up to 30 s for company
    writer.submit([reading()], 2, 1, flush=True)  # a fall: now
    wait_until(lambda: acks.acked == [1, 2], 5, "both written and acknowledged at once")
    writer.close()
    assert writes == [2]


def test_the_rest_of_a_backlog_is_written_without_waiting_for_company() -> None:
    """What is left after one short transaction is already a full group: it, and an urgent
    message inside it, are written at once, not after another gathering window."""
    acks = Acks()
    first_write = threading.Event()
    release = threading.Event()

    def write(readings: list[Reading]) -> None:
        first_write.set()
        release.wait(10)

    writer = GroupWriter(write, acks.ack, acks.on_stored, acks.on_error, errors=(OSError,),
                         max_delay_s=30.0, max_readings=100)
    writer.start()
    writer.submit([reading()], 0, 1, flush=True)
    assert first_write.wait(10)
    message = [reading() for _ in range(60)]
    for mid in range(1, 6):  # a backlog of three groups builds behind the first write
        writer.submit(message, mid, 1)
    writer.submit([reading()], 6, 1, flush=True)  # a fall at the back of it
    release.set()
    wait_until(lambda: len(acks.acked) == 7, 10, "the backlog and the fall, without waiting")
    writer.close()
    assert acks.acked == list(range(7))


def test_an_unexpected_exception_does_not_kill_the_writer(tmp_path: Path) -> None:
    """A bug below the writer (here an OverflowError, not a store error) is counted and the
    group tried again; the thread lives on and later messages are stored and acknowledged."""
    box = Outbox(tmp_path / "o.db", 10_000_000)
    failures = [1]

    def buggy(readings: list[object]) -> int:
        if failures[0] > 0:
            failures[0] -= 1
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return box.append(readings)  # type: ignore[arg-type]

    acks = Acks()
    writer = GroupWriter(buggy, acks.ack, acks.on_stored, acks.on_error, errors=(OutboxError,))
    writer.start()
    writer.submit([reading()], 1, 1)
    wait_until(lambda: len(acks.errors) == 1, 10, "the failure reported")
    for mid in range(2, 6):
        writer.submit([reading()], mid, 1)
    wait_until(lambda: len(acks.acked) == 5, 10, "every message acknowledged")
    assert writer.is_alive()
    writer.close()
    assert acks.acked == [1, 2, 3, 4, 5] and isinstance(acks.errors[0], OverflowError)


def test_a_slow_store_holds_the_submitter_back_instead_of_filling_memory() -> None:
    gate = threading.Event()  # the store is stuck until the test opens it
    written: list[int] = []

    def slow(readings: list[object]) -> int:
        gate.wait(10)
        written.append(len(readings))
        return len(readings)

    acks = Acks()
    writer = GroupWriter(slow, acks.ack, acks.on_stored, acks.on_error,
                         errors=(OutboxError,), max_readings=50, max_queued_readings=100)
    writer.start()
    submitted = [0]

    def submitter() -> None:
        for mid in range(1, 21):
            writer.submit([reading() for _ in range(50)], mid, 1)
            submitted[0] += 1

    thread = threading.Thread(target=submitter, daemon=True)
    thread.start()
    try:
        wait_until(lambda: writer.queued_readings() >= 100, 10, "the queue to fill")
        thread.join(0.5)  # it must still be waiting for room, not done
        assert thread.is_alive() and submitted[0] <= 3
        assert writer.queued_readings() <= 100
    finally:
        gate.set()
    wait_until(lambda: len(acks.acked) == 20, 10, "every message written and acknowledged")
    thread.join(5)
    writer.close()
    assert acks.acked == list(range(1, 21)) and sum(written) == 1000


def test_a_message_waits_for_its_gate_and_an_unhandled_one_holds_back_the_rest(
        tmp_path: Path) -> None:
    """Ingest's gate: the alert core has not taken a message's readings yet. Neither it nor
    any later message is stored or acknowledged until the gate settles; given back (its
    partition passed to another node), none of them is, and they are told as unacked."""
    from ingest.handoff import Handoff

    box = Outbox(tmp_path / "o.db", 10_000_000)
    acks = Acks()
    unacked: list[Reading] = []
    failing = [True]

    def core(readings: list[Reading]) -> None:
        if failing[0]:
            raise RuntimeError("alert state unreachable")

    handoff = Handoff([core])
    writer = GroupWriter(box.append, acks.ack, acks.on_stored, acks.on_error,
                         errors=(OutboxError,), on_unacked=unacked.extend)
    writer.start()
    try:
        writer.submit([reading()], 1, 1)
        first = [reading()]
        writer.submit(first, 2, 1, gate=handoff.hand(first, key=3))
        writer.submit([reading()], 3, 1)
        wait_until(lambda: acks.acked == [1], 10, "the message before the gate")
        assert handoff.errors >= 1 and box.depth() == 1  # nothing after the gate stored
        failing[0] = False  # the alert state is back: the retry takes the readings
        wait_until(lambda: acks.acked == [1, 2, 3], 10, "the gated message and the next")
        assert box.depth() == 3 and unacked == []

        failing[0] = True
        second = [reading()]
        writer.submit(second, 4, 1, gate=handoff.hand(second, key=3))
        writer.submit([reading()], 5, 1)
        assert handoff.abandon(3) == second  # the partition goes to another node
        wait_until(lambda: len(unacked) == 2, 10, "both left unacknowledged")
        writer.submit([reading()], 6, 1)  # nothing after it is acknowledged either
        writer.close()
        assert acks.acked == [1, 2, 3] and box.depth() == 3
        assert unacked[0] == second[0] and len(unacked) == 3
    finally:
        handoff.close()


def test_a_message_of_an_earlier_connection_is_stored_but_not_acknowledged(
        tmp_path: Path) -> None:
    """After a reconnect, an id of the old connection names another message on the new
    one: acknowledging it could let the broker drop a message never stored."""
    box = Outbox(tmp_path / "o.db", 10_000_000)
    acks = Acks()
    connection = [1]
    writer = GroupWriter(box.append, acks.ack, acks.on_stored, acks.on_error,
                         errors=(OutboxError,), connection=lambda: connection[0])
    gate = threading.Event()

    class Gate:
        handled = True

        def wait(self, timeout_s: float) -> bool:
            return gate.wait(timeout_s)

    writer.start()
    try:
        writer.submit([reading()], 7, 1, gate=Gate())  # waits (the alert core is away)
        connection[0] = 2  # the client reconnected meanwhile
        writer.submit([reading()], 7, 1)  # the same id, another message, new connection
        gate.set()
        wait_until(lambda: box.depth() == 2, 10, "both stored")
        wait_until(lambda: acks.acked == [7], 10, "the new connection's message acked")
    finally:
        writer.close()
    assert acks.acked == [7] and acks.stored == 2  # once: only the new one's


def test_a_message_submitted_once_the_writer_has_stopped_is_told_as_unacknowledged(
        tmp_path: Path) -> None:
    """A lane's network thread may hand a message over while its partition closes (it was
    waiting for room in the queue). Nobody writes it any more, so it is neither stored nor
    acknowledged, and it is told as unacknowledged: ingest's dedup forgets it, and the
    broker's redelivery is taken as new (before, it was dropped as a duplicate: lost)."""
    box = Outbox(tmp_path / "o.db", 10_000_000)
    acks = Acks()
    unacked: list[Reading] = []
    writer = GroupWriter(box.append, acks.ack, acks.on_stored, acks.on_error,
                         errors=(OutboxError,), on_unacked=unacked.extend)
    writer.start()
    writer.close()
    late = [reading()]
    writer.submit(late, 9, 1)
    assert unacked == late and acks.acked == [] and box.depth() == 0
