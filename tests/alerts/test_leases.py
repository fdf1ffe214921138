"""Partition leases between alert nodes, on the shared PostgreSQL store and a fake clock:
one owner per partition at any time, a fair share each, and a dead node's partitions taken
by the survivors once its leases expire."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerts.leases import PartitionLeases
from alerts.state import StateDb
from telemetry.clock import FakeClock
from tests.support.readings import T0

PARTS, TTL_MS = 12, 6000


class Cluster:
    """The shared store, and nodes each with a connection of its own (as processes)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.stores = [StateDb(dsn)]

    def nodes(self, clock: FakeClock, *names: str) -> list[PartitionLeases]:
        self.stores += [StateDb(self.dsn) for _ in names]
        return [PartitionLeases(db, name, PARTS, clock, TTL_MS)
                for db, name in zip(self.stores[-len(names):], names, strict=True)]


@pytest.fixture
def cluster(fresh_database: str) -> Iterator[Cluster]:
    c = Cluster(fresh_database)
    yield c
    for db in c.stores:
        db.close()


def _owners(store: StateDb, now_ms: int) -> dict[int, str]:
    return {p: owner for p, (owner, expires) in store.leases().items() if expires > now_ms}


def _rounds(nodes: list[PartitionLeases], clock: FakeClock, n: int = 3) -> None:
    for _ in range(n):
        for node in nodes:
            node.round()
        clock.advance(1)


def test_three_nodes_share_the_partitions_and_never_both_hold_one(cluster: Cluster) -> None:
    clock = FakeClock(T0)
    a, b, c = cluster.nodes(clock, "node-a", "node-b", "node-c")
    a.round()  # alone at first: it takes everything
    assert a.held == frozenset(range(PARTS))
    _rounds([a, b, c], clock)
    assert sorted(len(n.held) for n in (a, b, c)) == [4, 4, 4]
    assert a.held | b.held | c.held == frozenset(range(PARTS))
    assert not (a.held & b.held or a.held & c.held or b.held & c.held)
    assert _owners(cluster.stores[0], clock.now_ms()) == {
        p: n.node_id for n in (a, b, c) for p in n.held}


def test_a_dead_nodes_partitions_move_to_the_survivors_after_the_ttl(cluster: Cluster) -> None:
    clock = FakeClock(T0)
    a, b, c = cluster.nodes(clock, "node-a", "node-b", "node-c")
    _rounds([a, b, c], clock)
    orphaned = c.held
    # node-c dies (kill -9): it stops renewing. Before its leases expire nobody takes them.
    clock.advance(TTL_MS / 1000 - 4)
    a.round(), b.round()
    assert not (orphaned & (a.held | b.held))
    clock.advance(4)  # expired: the next rounds move them
    gained = a.round().gained | b.round().gained
    gained |= a.round().gained | b.round().gained
    assert gained == orphaned
    assert a.held | b.held == frozenset(range(PARTS)) and not a.held & b.held
    assert sorted((len(a.held), len(b.held))) == [6, 6]


def test_a_node_that_stops_hands_its_partitions_over_at_once(cluster: Cluster) -> None:
    clock = FakeClock(T0)
    a, b = cluster.nodes(clock, "node-a", "node-b")
    _rounds([a, b], clock)
    leaving = b.held
    b.release_all()  # SIGTERM: no wait for the ttl
    assert leaving <= a.round().gained


def test_a_stale_node_cannot_renew_a_lease_someone_else_took(cluster: Cluster) -> None:
    clock = FakeClock(T0)
    a, b = cluster.nodes(clock, "node-a", "node-b")
    a.round()
    clock.advance(TTL_MS / 1000 + 1)  # node-a paused past its leases
    b.round()
    assert b.held == frozenset(range(PARTS))
    change = a.round()  # it wakes: what it held is gone, and it says so
    assert change.lost and not (a.held & b.held)
