"""Hand readings to the consumers (the alert core) and retry, until handled, what failed.

A consumer that raises (the alert state's disk is full, a bug in one detector) must not
lose what it was given: the readings are already deduplicated and stored, so the broker
would never send them again. They wait here and are handed over again with backoff until
the consumer takes them; meanwhile the process reports itself degraded (the desk shows a
banner) and counts every failure. The queue is bounded: when full, the oldest batch with no
urgent reading goes first (counted); urgent ones (falls, SOS) are never dropped.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable

from telemetry import backoff as retry_policy
from telemetry.backoff import Backoff
from telemetry.kinds import is_urgent
from telemetry.reading import Reading

log = logging.getLogger(__name__)

Consumer = Callable[[list[Reading]], None]
MAX_PENDING_BATCHES = 10_000


class Handoff:
    """Calls each consumer with each batch; failed batches are retried in a thread."""

    def __init__(self, consumers: list[Consumer], *, backoff: Backoff | None = None,
                 max_pending: int = MAX_PENDING_BATCHES) -> None:
        self.consumers = consumers
        self._backoff = backoff or retry_policy.handoff()
        self._max_pending = max_pending
        self._cond = threading.Condition()
        self._pending: collections.deque[tuple[Consumer, list[Reading]]] = collections.deque()
        self._closing = False
        self.errors = 0  # every failed call, first tries and retries
        self.dropped = 0  # routine readings given up because the queue was full
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name="consumer-retry", daemon=True)
        self._thread.start()

    def hand(self, readings: list[Reading]) -> None:
        """Give ``readings`` to every consumer now; whatever fails is queued for retry."""
        for consumer in self.consumers:
            if not self._call(consumer, readings):
                self._queue(consumer, readings)

    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def degraded(self) -> bool:
        """True while any batch waits for a consumer that failed on it."""
        return self.pending() > 0

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

    def _queue(self, consumer: Consumer, readings: list[Reading]) -> None:
        with self._cond:
            if len(self._pending) >= self._max_pending:
                for i, (_, batch) in enumerate(self._pending):
                    if not any(is_urgent(r.kind, r.value) for r in batch):
                        del self._pending[i]
                        self.dropped += len(batch)
                        break
            self._pending.append((consumer, readings))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                consumer, readings = self._pending[0]
            if self._call(consumer, readings):
                self._backoff.reset()
                with self._cond:
                    self._pending.popleft()
                continue
            with self._cond:
                self._cond.wait(self._backoff.next_delay())

    def close(self) -> None:
        with self._cond:
            self._closing = True
            if self._pending:
                log.error("stopping with %d batches not yet handled by the alert core; "
                          "their readings are stored", len(self._pending))
            self._cond.notify_all()
        self._thread.join(5)
