"""What the uplink sends next, and what an acknowledgement frees: the outbox read in
sequence order, the urgent lane first, urgent readings alone and at once, routine readings
in batched envelopes once a batch is full or its window closed; at most ``max_inflight``
envelopes unacknowledged; a reading leaves the outbox only when its envelope's PUBACK
arrives. Runs on the uplink's thread; it knows nothing of the connection but a
``Publish``."""

from __future__ import annotations

import collections
import threading
from typing import Protocol

from edge_agent.outbox import Outbox
from telemetry import codec, topics
from telemetry.clock import Clock
from telemetry.reading import Reading
from telemetry.topics import Channel

IDLE_S = 1.0  # the longest wait with nothing to do (keepalive checks, a stop request)


class Publish(Protocol):
    def __call__(self, topic: str, payload: bytes, retain: bool) -> int:
        """Publish at QoS 1; the message id its PUBACK will name."""
        ...


class Sender:
    def __init__(self, gateway_id: str, site_id: str, outbox: Outbox, clock: Clock, *,
                 batch_max: int, batch_window_s: float, max_inflight: int) -> None:
        self.gateway_id = gateway_id
        self.site_id = site_id
        self._outbox = outbox
        self._clock = clock
        self._batch_max = batch_max
        self._window_s = batch_window_s
        self.max_inflight = max_inflight
        self.wake = threading.Event()  # readings were committed: look at the outbox
        self._inflight: dict[int, list[int]] = {}
        self._urgent_cursor = 0
        self._routine_cursor = 0
        self._routine_waiting_since: float | None = None
        self._extra: collections.deque[tuple[str, bytes, bool]] = collections.deque(maxlen=16)
        self.sent_readings = 0
        self.acked_readings = 0

    def urgent_now(self) -> bool:
        """The loop's wait must end now: an urgent reading or a side message waits, or
        routine readings with no batch window open yet (an open window ends the wait when
        it closes: about one wake-up per window under a steady stream)."""
        return (self._outbox.last_urgent_seq > self._urgent_cursor or bool(self._extra)
                or self._routine_waiting_since is None)

    def wait_s(self) -> float:
        """How long the loop may sleep: not at all with work waiting, until a routine
        batch's window closes, else ``IDLE_S``."""
        if self.wake.is_set() or self._extra:
            return 0.0
        if self._routine_waiting_since is not None:
            left = self._routine_waiting_since + self._window_s - self._clock.monotonic_s()
            return min(IDLE_S, max(0.0, left))
        return IDLE_S

    def side(self, channel: Channel, payload: bytes, retain: bool = False) -> None:
        """Queue a small non-reading message (a heartbeat)."""
        self._extra.append((topics.central(self.gateway_id, channel), payload, retain))

    def acked(self, mid: int) -> bool:
        """A PUBACK: the readings of that envelope leave the outbox. True if any did."""
        seqs = self._inflight.pop(mid, None)
        if not seqs:
            return False
        self._outbox.ack(seqs)
        self.acked_readings += len(seqs)
        return True

    def send(self, publish: Publish) -> None:
        """Everything that may go now."""
        while self._extra:
            topic, payload, retain = self._extra.popleft()
            publish(topic, payload, retain)
        if not self.wake.is_set() and self._routine_waiting_since is None:
            return
        self.wake.clear()
        room = self.max_inflight - len(self._inflight)
        outbox = self._outbox
        # The outbox's last sequence numbers say, without a query, whether anything waits.
        if room > 0 and outbox.last_urgent_seq > self._urgent_cursor:
            for reading in outbox.next_in_lane(urgent=True, after_seq=self._urgent_cursor,
                                               limit=room):
                self._envelope(publish, Channel.URGENT, [reading])
                self._urgent_cursor = reading.seq
                room -= 1
        now = self._clock.monotonic_s()
        while room > 0:
            last = outbox.last_seq
            waiting = last - self._routine_cursor  # an upper bound: urgent ones count too
            if waiting <= 0:
                self._routine_waiting_since = None
                return
            if self._routine_waiting_since is None:
                self._routine_waiting_since = now
            if waiting < self._batch_max and now - self._routine_waiting_since < self._window_s:
                return  # wait for a full batch, or for the window to close
            batch = outbox.next_in_lane(urgent=False, after_seq=self._routine_cursor,
                                        limit=self._batch_max)
            self._routine_waiting_since = None
            if not batch:
                self._routine_cursor = last  # only urgent or acknowledged ones were there
                return
            self._envelope(publish, Channel.READINGS, batch)
            self._routine_cursor = batch[-1].seq
            room -= 1

    def _envelope(self, publish: Publish, channel: Channel, readings: list[Reading]) -> None:
        payload = codec.encode(self.gateway_id, self.site_id, self._clock.now_ms(), readings)
        mid = publish(topics.central(self.gateway_id, channel), payload, False)
        self._inflight[mid] = [r.seq for r in readings]
        self.sent_readings += len(readings)
