"""Group commit: messages become durable together, then each is acknowledged, in order.

One transaction per MQTT message would cost more than the message itself; the writer
gathers what arrives within a few milliseconds, stores it with one call, and only then
acknowledges each message to its broker, in the order they came (so a crash before the
write means redelivery, never loss; and Mosquitto reorders deliveries after out-of-order
acknowledgements). Used by the edge agent (outbox) and by ingest (the store).

A message may come with a gate (ingest's: the alert core has not taken its readings yet).
The writer neither stores nor acknowledges it, nor anything after it, until the gate
settles; a gate that settles unhandled, or a close while it waits, leaves that message and
every later one unacknowledged (told to ``on_unacked``), for the broker to send again.

A message that came on an earlier connection (the client reconnected meanwhile) is stored
but not acknowledged: its id means another message on the new connection, and the broker
sends it again anyway (the dedup then drops its readings, and that copy is acknowledged).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from runtime import backoff
from telemetry.reading import Reading

log = logging.getLogger(__name__)

Ack = Callable[[int, int], object]
GATE_POLL_S = 0.05  # how soon a writer waiting on a gate notices it is closing


class Gate(Protocol):
    handled: bool

    def wait(self, timeout_s: float) -> bool:
        """True once settled (``handled`` says how)."""


def _nothing_unacked(readings: list[Reading]) -> None:
    pass


# readings, message id, QoS, gate, the connection it came on (its acknowledgement means
# nothing on another: after a reconnect the broker sends it again, with a new id)
_Item = tuple[list[Reading], int | None, int, Gate | None, int]


def _one_connection() -> int:
    return 0


class GroupWriter(threading.Thread):
    def __init__(self, write: Callable[[list[Reading]], object], ack: Ack,
                 on_stored: Callable[[int], None], on_error: Callable[[Exception], None], *,
                 errors: tuple[type[Exception], ...], max_delay_s: float = 0.005,
                 max_items: int = 512, max_readings: int = 5000,
                 max_queued_readings: int | None = None,
                 on_unacked: Callable[[list[Reading]], None] = _nothing_unacked,
                 connection: Callable[[], int] = _one_connection,
                 name: str = "group-writer") -> None:
        super().__init__(name=name, daemon=True)
        self._write_batch = write
        self._errors = errors
        self._ack = ack
        self._on_stored = on_stored
        self._on_error = on_error
        self._on_unacked = on_unacked
        self._connection = connection  # which connection to the broker is the current one
        self._held_back = False  # a gate failed: nothing more is acknowledged
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
        self._items: list[_Item] = []
        self._closing = False
        self._stopped = False  # the writing thread has ended: nothing more is written
        self._flush = False  # something urgent is queued: write without waiting

    def submit(self, readings: list[Reading], mid: int | None = None, qos: int = 0,
               flush: bool = False, gate: Gate | None = None) -> None:
        """Store ``readings``; then acknowledge local message ``mid`` (if any). ``flush``:
        write the group now instead of letting it fill (an urgent event). ``gate``: not
        before it settles handled."""
        with self._cond:
            while self._queued >= self._max_queued and not self._closing:
                self._cond.wait(1.0)
            if self._stopped:  # closed while this waited: nobody would ever write it
                self._on_unacked(readings)
                return
            self._items.append((readings, mid, qos, gate, self._connection()))
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
                    self._stopped = True
                    return
                # Give the group a few milliseconds to fill, unless it is already full or
                # holds something urgent.
                if len(self._items) < self._max_items and not (self._closing or self._flush):
                    self._cond.wait(self._max_delay_s)
                items = self._take()
                # What is left of a backlog is a full group already (and may hold the
                # urgent message that set the flag): write it next without waiting.
                self._flush = bool(self._items)
            while items:
                ready, items = self._ready(items)
                if not self._write_until_done(ready, items):
                    return

    def _write_until_done(self, ready: list[_Item], rest: list[_Item]) -> bool:
        """Write ``ready``, again after each failure (a busy or briefly unavailable store
        must not stall the stream for good). False: closing gave up first; those messages,
        ``rest`` and whatever is queued stay for the broker to send again."""
        retry = backoff.store_write()
        while not self._write(ready):
            with self._cond:
                if self._closing:
                    left, self._items = ready + rest + self._items, []
                    self._stopped = True
                    self._hold_back(left, [])
                    return False
                self._cond.wait(retry.next_delay())
        return True

    def _take(self) -> list[_Item]:
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

    def _ready(self, items: list[_Item]) -> tuple[list[_Item], list[_Item]]:
        """Split ``items`` into those that may be written now (up to the first whose gate
        has not settled, waiting on it only if it comes first) and the rest. From a gate
        that settles unhandled on, nothing is stored or acknowledged any more."""
        for i, (_, _, _, gate, _) in enumerate(items):
            if self._held_back:
                return self._hold_back(items[i:], items[:i]), []
            if gate is None:
                continue
            if not gate.wait(0):
                if i > 0:
                    return items[:i], items[i:]
                while not gate.wait(GATE_POLL_S):
                    if self._closing:
                        break
            if not gate.handled:
                self._held_back = True
                log.warning("a message's readings were not taken by the consumers; it and "
                            "every later one stay unacknowledged")
                return self._hold_back(items[i:], items[:i]), []
        return items, []

    def _hold_back(self, dropped: list[_Item], kept: list[_Item]) -> list[_Item]:
        self._on_unacked([r for batch, _, _, _, _ in dropped for r in batch])
        return kept

    def _write(self, items: list[_Item]) -> bool:
        readings = [r for batch, _, _, _, _ in items for r in batch]
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
        current = self._connection()
        for _, mid, qos, _, connection in items:
            if mid is not None and connection == current:
                self._ack(mid, qos)
        return True

    def stop(self) -> None:
        """Begin ``close`` without waiting (``join`` waits): several writers stopping at
        once store and acknowledge what they hold side by side."""
        with self._cond:
            self._closing = True
            self._cond.notify()

    def close(self, timeout_s: float = 10.0) -> None:
        """Store and acknowledge what is queued, then stop."""
        self.stop()
        self.join(timeout_s)
