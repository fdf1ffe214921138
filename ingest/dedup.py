"""Recent (gateway, seq) pairs, so a replayed reading reaches the alert core once.

The store's primary key keeps storage exactly-once; this bounded memory keeps the stream
handed to consumers exactly-once too, and is warmed from the store after a restart.
"""

from __future__ import annotations

import collections

from telemetry.reading import Reading


class Dedup:
    def __init__(self, capacity: int = 1_000_000) -> None:
        self._capacity = capacity
        self._seen: set[tuple[str, int]] = set()
        self._order: collections.deque[tuple[str, int]] = collections.deque()

    def first_time(self, gateway_id: str, seq: int) -> bool:
        """True the first time (gateway, seq) is offered (within the remembered window)."""
        key = (gateway_id, seq)
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self._capacity:
            self._seen.discard(self._order.popleft())
        return True

    def new_only(self, readings: list[Reading]) -> list[Reading]:
        """The readings offered for the first time, in order (``first_time`` for a batch,
        with the lookups bound once)."""
        seen, order, out = self._seen, self._order, []
        for r in readings:
            key = (r.gateway_id, r.seq)
            if key in seen:
                continue
            seen.add(key)
            order.append(key)
            out.append(r)
        while len(order) > self._capacity:
            seen.discard(order.popleft())
        return out

    def warm(self, keys: list[tuple[str, int]]) -> None:
        for gateway_id, seq in keys:
            self.first_time(gateway_id, seq)
