"""Recent (gateway, seq) pairs, so a replayed reading reaches the alert core once.

The store's primary key keeps storage exactly-once; this bounded memory keeps the stream
handed to consumers exactly-once too, and is warmed from the store after a restart.
"""

from __future__ import annotations

import collections

from telemetry.reading import Reading


class Dedup:
    def __init__(self, capacity: int = 1_000_000) -> None:
        self.capacity = capacity
        self._seen: set[tuple[str, int]] = set()
        self._order: collections.deque[tuple[str, int]] = collections.deque()

    def new_only(self, readings: list[Reading]) -> list[Reading]:
        """The readings offered for the first time, in order."""
        fresh = self._fresh([(r.gateway_id, r.seq) for r in readings])
        if len(fresh) == len(readings):
            return readings
        return [readings[i] for i in fresh]

    def forget(self, readings: list[Reading]) -> None:
        """Take ``readings`` as never offered: their messages were left unacknowledged, so
        the broker sends them again (to us, if the partition comes back here)."""
        for r in readings:
            self._seen.discard((r.gateway_id, r.seq))

    def warm(self, keys: list[tuple[str, int]]) -> None:
        self._fresh(keys)

    def _fresh(self, keys: list[tuple[str, int]]) -> list[int]:
        """Remember ``keys``; return the positions of those not seen before (the one place
        the window is kept)."""
        seen, order, out = self._seen, self._order, []
        for i, key in enumerate(keys):
            if key in seen:
                continue
            seen.add(key)
            order.append(key)
            out.append(i)
        while len(order) > self.capacity:
            seen.discard(order.popleft())
        return out
