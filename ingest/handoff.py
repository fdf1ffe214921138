"""Hand readings to the consumers (the alert core) and retry, until handled, what failed.

A consumer that raises (the alert state's disk is full, the shared store out of reach, a
bug in one detector) must not lose what it was given. The batch waits here and is handed
over again with backoff until the consumer takes it; meanwhile its message is not
acknowledged to the broker: ``hand`` returns a ``Ticket`` that the message's store writer
waits on before it stores or acknowledges anything more. So a crash, or the partition
passing to another node (``abandon``), leaves the batch with the broker for whoever takes
the partition next. The process reports itself degraded (the desk shows a banner) and
counts every failure. The queue is bounded: when full, the oldest batch with no urgent
reading goes first (counted, and its message let through: those routine readings are given
up by the alert core only); urgent ones (falls, SOS) are never dropped. Batches with an
urgent reading are retried first, oldest first, then the routine ones: a fall queued
during an outage of the alert store must not wait, once it is back, behind the routine
backlog queued before it (urgent readings overtake routine ones on the live path too: they
come on a lane of their own).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable

from runtime import backoff as retry_policy
from runtime.backoff import Backoff
from telemetry.kinds import is_urgent
from telemetry.reading import Reading

log = logging.getLogger(__name__)

Consumer = Callable[[list[Reading]], None]
MAX_PENDING_BATCHES = 10_000


class Ticket:
    """A batch some consumer has not taken yet. Settled once every consumer has it
    (``handled``) or once it is given back to the broker (abandoned, or dropped routine)."""

    __slots__ = ("_left", "_settled", "handled", "key", "readings", "urgent")

    def __init__(self, readings: list[Reading], key: object, consumers: int) -> None:
        self.readings = readings
        self.key = key  # which partition's message it is (None: no partitions)
        self.urgent = any(is_urgent(r.kind, r.value) for r in readings)
        self._left = consumers
        self.handled = False
        self._settled = threading.Event()

    def wait(self, timeout_s: float) -> bool:
        """True once settled, handled or not (the store writer's gate)."""
        return self._settled.wait(timeout_s)

    def _taken(self) -> None:
        self._left -= 1
        if self._left == 0:
            self.handled = True
            self._settled.set()

    def _given_back(self) -> None:
        self._settled.set()

    def _let_through(self) -> None:
        self.handled = True
        self._settled.set()


class Handoff:
    """Calls each consumer with each batch; failed batches are retried in a thread."""

    def __init__(self, consumers: list[Consumer], *, backoff: Backoff | None = None,
                 max_pending: int = MAX_PENDING_BATCHES) -> None:
        self.consumers = consumers
        self._backoff = backoff or retry_policy.handoff()
        self._max_pending = max_pending
        self._cond = threading.Condition()
        # waiting batches, those with an urgent reading apart (retried first)
        self._urgent: collections.deque[tuple[Consumer, Ticket]] = collections.deque()
        self._routine: collections.deque[tuple[Consumer, Ticket]] = collections.deque()
        self._closing = False
        self.errors = 0  # every failed call, first tries and retries
        self.dropped = 0  # routine readings given up because the queue was full
        self.given_back = 0  # batches left to the broker with their partition
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name="consumer-retry", daemon=True)
        self._thread.start()

    def hand(self, readings: list[Reading], key: object = None) -> Ticket | None:
        """Give ``readings`` to every consumer now. None: all took them. Otherwise the
        ticket of the batch, queued for retry; its message waits for it."""
        failed = [c for c in self.consumers if not self._call(c, readings)]
        if not failed:
            return None
        ticket = Ticket(readings, key, len(failed))
        for consumer in failed:
            self._queue(consumer, ticket)
        return ticket

    def pending(self) -> int:
        with self._cond:
            return len(self._urgent) + len(self._routine)

    def degraded(self) -> bool:
        """True while any batch waits for a consumer that failed on it."""
        return self.pending() > 0

    def abandon(self, key: object) -> list[Reading]:
        """Give up every waiting batch of ``key`` (its partition passes to another node):
        their messages stay unacknowledged, for the broker to hand to the next owner.
        Returns their readings."""
        out: list[Reading] = []
        with self._cond:
            mine = []
            for queue in (self._urgent, self._routine):
                here = [entry for entry in queue if entry[1].key == key]
                for entry in here:
                    queue.remove(entry)
                mine += here
            for ticket in {id(t): t for _, t in mine}.values():
                ticket._given_back()
                out += ticket.readings
                self.given_back += 1
        if out:
            log.warning("%d readings not yet handled by the alert core left with the broker "
                        "for the partition's next owner", len(out))
        return out

    def _call(self, consumer: Consumer, readings: list[Reading]) -> bool:
        try:
            consumer(readings)
        except Exception as exc:  # any failure: keep the readings and say so
            with self._cond:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            log.exception("consumer %r failed on %d readings; kept for retry", consumer,
                          len(readings))
            return False
        return True

    def _queue(self, consumer: Consumer, ticket: Ticket) -> None:
        with self._cond:
            if len(self._urgent) + len(self._routine) >= self._max_pending and self._routine:
                entry = self._routine.popleft()  # the oldest with no urgent reading
                self.dropped += len(entry[1].readings)
                entry[1]._let_through()
            (self._urgent if ticket.urgent else self._routine).append((consumer, ticket))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._urgent or self._routine) and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                queue = self._urgent if self._urgent else self._routine
                entry = queue[0]
            consumer, ticket = entry
            if self._call(consumer, ticket.readings):
                self._backoff.reset()
                with self._cond:
                    if queue and queue[0] is entry:  # not abandoned meanwhile
                        queue.popleft()
                        ticket._taken()
                continue
            with self._cond:
                self._cond.wait(self._backoff.next_delay())

    def close(self) -> None:
        """Stop retrying; what waits stays unacknowledged, for the broker to send again."""
        with self._cond:
            self._closing = True
            waiting = [*self._urgent, *self._routine]
            if waiting:
                log.error("stopping with %d batches not yet handled by the alert core; "
                          "their messages stay with the broker", len(waiting))
            for _, ticket in waiting:
                ticket._given_back()
            self._cond.notify_all()
        self._thread.join(5)
