"""Which partitions of gateways this alert node owns, by leases in the shared store.

Every node calls ``round()`` a few times per lease: it says it is alive, renews the
leases it holds up to its fair share, and takes free or expired ones up to that share.
Those beyond its share (a node joined) are reported lost; the caller closes their broker
sessions and only then ``release``s them, so that the partition's next owner never opens
its sessions while the last one still has them. A node
that dies stops renewing: once its leases expire (``ttl_ms``), the survivors take them.
A lease is taken in one conditional statement, so no partition ever has two owners in
the store; the broker's same-client-id takeover fences the message stream as well.

Lease times and heartbeats are on the shared store's clock (``StoreClock``), so a node
whose own clock is off or jumps neither steals a live node's lease nor keeps a dead one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import msgspec

from alerts.store import AlertStore
from telemetry.clock import SECOND_MS, Clock

log = logging.getLogger(__name__)

DEFAULT_TTL_MS = 6 * SECOND_MS


def _nothing(part: int) -> bool:
    return False


class StoreClock:
    """The shared store's clock (a ``Clock``): what leases and heartbeats are timed by."""

    def __init__(self, db: AlertStore) -> None:
        self.db = db

    def now_ms(self) -> int:
        return self.db.nodes.store_now_ms()

    def monotonic_s(self) -> float:
        return time.monotonic()


class Change(msgspec.Struct, frozen=True):
    """What a round changed: partitions gained and lost (the caller opens and closes
    their sessions), and every partition now held."""

    gained: frozenset[int]
    lost: frozenset[int]
    held: frozenset[int]


class PartitionLeases:
    def __init__(self, db: AlertStore, node_id: str, partitions: int, clock: Clock,
                 ttl_ms: int = DEFAULT_TTL_MS) -> None:
        if partitions < 1:
            raise ValueError("partitions must be 1 or more")
        self.db = db
        self.node_id = node_id
        self.partitions = partitions
        self.clock = clock
        self.ttl_ms = ttl_ms
        self.held: frozenset[int] = frozenset()

    def live_nodes(self) -> list[str]:
        return self.db.nodes.live(self.clock.now_ms() - self.ttl_ms)

    def degraded_nodes(self) -> list[str]:
        """Live nodes whose alert core lags (as they said with their last heartbeat)."""
        return self.db.nodes.degraded(self.clock.now_ms() - self.ttl_ms)

    def round(self, keep: Callable[[int], bool] = _nothing, degraded: bool = False) -> Change:
        """Say we are alive and renew, let go and take leases. ``keep(part)``: a partition
        beyond our share that we may not let go yet (its broker sessions have never been
        subscribed: closing them now would leave nobody subscribed to queue its
        messages); it is renewed this round."""
        now = self.clock.now_ms()
        until = now + self.ttl_ms
        self.db.nodes.beat(self.node_id, now, degraded)
        live = self.db.nodes.live(now - self.ttl_ms)
        share = math.ceil(self.partitions / max(1, len(live)))
        leases = self.db.leases.all()
        mine = sorted(p for p, (owner, _) in leases.items() if owner == self.node_id)
        held: set[int] = set()
        for part in mine:
            # beyond our share (a node joined): not renewed; the caller lets it go
            # (``release``) once it has stopped taking the partition's messages
            if (len(held) < share or keep(part)) \
                    and self.db.leases.take(part, self.node_id, now, until):
                held.add(part)
        for part in range(self.partitions):
            if len(held) >= share:
                break
            owner, expires = leases.get(part, ("", 0))
            if part not in held and (owner == "" or expires <= now) \
                    and self.db.leases.take(part, self.node_id, now, until):
                held.add(part)
        change = Change(frozenset(held - self.held), frozenset(self.held - held),
                        frozenset(held))
        if change.gained or change.lost:
            log.info("node %s: partitions gained %s, lost %s, held %s", self.node_id,
                     sorted(change.gained), sorted(change.lost), sorted(held))
        self.held = change.held
        return change

    def release(self, parts: frozenset[int]) -> None:
        """Hand ``parts`` over now (their sessions are closed), not when they expire."""
        for part in parts:
            self.db.leases.release(part, self.node_id)

    def release_all(self) -> None:
        """When stopping: hand every partition over at once, not after the ttl."""
        for part in self.held:
            self.db.leases.release(part, self.node_id)
        self.db.nodes.leave(self.node_id)
        self.held = frozenset()
