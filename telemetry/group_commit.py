"""Group commit: messages become durable together, then each is acknowledged, in order.

One transaction per MQTT message would cost more than the message itself; the writer
gathers what arrives within a few milliseconds, stores it with one call, and only then
acknowledges each message to its broker, in the order they came (so a crash before the
write means redelivery, never loss; and Mosquitto reorders deliveries after out-of-order
acknowledgements). Used by the edge agent (outbox) and by ingest (the store).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from telemetry import backoff
from telemetry.reading import Reading

log = logging.getLogger(__name__)

Ack = Callable[[int, int], object]


class GroupWriter(threading.Thread):
    def __init__(self, write: Callable[[list[Reading]], object], ack: Ack,
                 on_stored: Callable[[int], None], on_error: Callable[[Exception], None], *,
                 errors: tuple[type[Exception], ...], max_delay_s: float = 0.005,
                 max_items: int = 512, max_readings: int = 5000,
                 max_queued_readings: int | None = None,
                 name: str = "group-writer") -> None:
        super().__init__(name=name, daemon=True)
        self._write_batch = write
        self._errors = errors
        self._ack = ack
        self._on_stored = on_stored
        self._on_error = on_error
        self._max_delay_s = max_delay_s
        self._max_items = max_items
        self._max_readings = max_readings
        # Backpressure (opt-in): a store slower than the stream must not pile readings up
        # in memory (Mosquitto sent ingest 45,000 messages past its in-flight window in the
        # soak). Past this many queued readings ``submit`` waits; the caller's network
        # thread then stops reading and the broker keeps the rest. The edge agent opts out:
        # its local alarms must sound even while its outbox cannot be written.
        self._max_queued = max_queued_readings if max_queued_readings else 2**62
        self._queued = 0
        self._cond = threading.Condition()
        self._items: list[tuple[list[Reading], int | None, int]] = []
        self._closing = False
        self._flush = False  # something urgent is queued: write without waiting

    def submit(self, readings: list[Reading], mid: int | None = None, qos: int = 0,
               flush: bool = False) -> None:
        """Store ``readings``; then acknowledge local message ``mid`` (if any). ``flush``:
        write the group now instead of letting it fill (an urgent event)."""
        with self._cond:
            while self._queued >= self._max_queued and not self._closing:
                self._cond.wait(1.0)
            self._items.append((readings, mid, qos))
            self._queued += len(readings)
            self._flush = self._flush or flush
            if len(self._items) == 1 or len(self._items) >= self._max_items or flush:
                self._cond.notify()

    def queued_readings(self) -> int:
        """Readings submitted and not yet taken for writing."""
        with self._cond:
            return self._queued

    def run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing:
                    self._cond.wait()
                if not self._items and self._closing:
                    return
                # Give the group a few milliseconds to fill, unless it is already full or
                # holds something urgent.
                if len(self._items) < self._max_items and not (self._closing or self._flush):
                    self._cond.wait(self._max_delay_s)
                items = self._take()
                # What is left of a backlog is a full group already (and may hold the
                # urgent message that set the flag): write it next without waiting.
                self._flush = bool(self._items)
            retry = backoff.store_write()
            # A failed write keeps its messages unacknowledged and is tried again (a busy
            # or briefly unavailable store must not stall the stream for good); closing
            # gives up, and the broker redelivers to the next process.
            while not self._write(items):
                with self._cond:
                    if self._closing:
                        return
                    self._cond.wait(retry.next_delay())

    def _take(self) -> list[tuple[list[Reading], int | None, int]]:
        """The next group: whole messages up to ``max_readings`` readings (at least one
        message). A backlog is written in several short transactions, so another writer
        of the same store (the urgent lane) never waits behind one long one."""
        n = end = 0
        while end < len(self._items) and (end == 0 or n < self._max_readings):
            n += len(self._items[end][0])
            end += 1
        items, self._items = self._items[:end], self._items[end:]
        self._queued -= n
        self._cond.notify_all()  # room for a waiting submit
        return items

    def _write(self, items: list[tuple[list[Reading], int | None, int]]) -> bool:
        readings = [r for batch, _, _ in items for r in batch]
        try:
            if readings:
                self._write_batch(readings)
        except self._errors as exc:
            log.error("write failed; %d messages stay unacknowledged: %s", len(items), exc)
            self._on_error(exc)
            return False
        except Exception as exc:  # a bug below must not kill the writer: it would stop acks
            log.exception("unexpected write failure; %d messages stay unacknowledged",
                          len(items))
            self._on_error(exc)
            return False
        self._on_stored(len(readings))
        for _, mid, qos in items:
            if mid is not None:
                self._ack(mid, qos)
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Store and acknowledge what is queued, then stop."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self.join(timeout_s)
