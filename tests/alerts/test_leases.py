"""Partition leases between alert nodes, on the shared PostgreSQL store and a fake clock:
one owner per partition at any time, a fair share each, and a dead node's partitions taken
by the survivors once its leases expire."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerts.cluster.leases import Change, PartitionLeases
from alerts.store import AlertStore
from telemetry.clock import FakeClock
from tests.support.readings import T0

PARTS, TTL_MS = 12, 6000


class Cluster:
    """The shared store, and nodes each with a connection of its own (as processes)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.stores = [AlertStore(dsn)]

    def nodes(self, clock: FakeClock, *names: str) -> list[PartitionLeases]:
        self.stores += [AlertStore(self.dsn) for _ in names]
        return [PartitionLeases(db, name, PARTS, clock, TTL_MS)
                for db, name in zip(self.stores[-len(names):], names, strict=True)]


@pytest.fixture
def cluster(fresh_database: str) -> Iterator[Cluster]:
    c = Cluster(fresh_database)
    yield c
    for db in c.stores:
        db.close()


def _owners(store: AlertStore, now_ms: int) -> dict[int, str]:
    return {p: owner for p, (owner, expires) in store.leases.all().items() if expires > now_ms}


def step(node: PartitionLeases) -> Change:
    """One round as an alert node runs it: the leases, then what it let go released once
    its sessions are closed."""
    change = node.round()
    node.release(change.lost)
    return change


def _rounds(nodes: list[PartitionLeases], clock: FakeClock, n: int = 3) -> None:
    for _ in range(n):
        for node in nodes:
            step(node)
        clock.advance(1)


def test_three_nodes_share_the_partitions_and_never_both_hold_one(cluster: Cluster) -> None:
    clock = FakeClock(T0)
    a, b, c = cluster.nodes(clock, "node-a", "node-b", "node-c")
    step(a)  # alone at first: it takes everything
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
    step(a), step(b)
    assert not (orphaned & (a.held | b.held))
    clock.advance(4)  # expired: the next rounds move them
    gained = step(a).gained | step(b).gained
    gained |= step(a).gained | step(b).gained
    assert gained == orphaned
    assert a.held | b.held == frozenset(range(PARTS)) and not a.held & b.held
    assert sorted((len(a.held), len(b.held))) == [6, 6]


def test_a_node_that_stops_hands_its_partitions_over_at_once(cluster: Cluster) -> None:
    clock = FakeClock(T0)
    a, b = cluster.nodes(clock, "node-a", "node-b")
    _rounds([a, b], clock)
    leaving = b.held
    b.release_all()  # SIGTERM: no wait for the ttl
    assert leaving <= step(a).gained


def test_a_stale_node_cannot_renew_a_lease_someone_else_took(cluster: Cluster) -> None:
    clock = FakeClock(T0)
    a, b = cluster.nodes(clock, "node-a", "node-b")
    step(a)
    clock.advance(TTL_MS / 1000 + 1)  # node-a paused past its leases
    step(b)
    assert b.held == frozenset(range(PARTS))
    change = step(a)  # it wakes: what it held is gone, and it says so
    assert change.lost and not (a.held & b.held)


def test_a_joining_node_gets_a_partition_only_after_its_holder_let_it_go(
        cluster: Cluster) -> None:
    clock = FakeClock(T0)
    a, b = cluster.nodes(clock, "node-a", "node-b")
    step(a)
    assert a.held == frozenset(range(PARTS))
    b.round()  # b is alive now, but every partition is a's
    assert b.held == frozenset()
    surplus = a.round().lost  # a sees b: half is beyond its share ...
    assert len(surplus) == PARTS // 2
    assert b.round().gained == frozenset()  # ... but while a still takes their messages
    a.release(surplus)  # a has closed their sessions
    assert b.round().gained == surplus


def test_a_partition_whose_sessions_are_not_subscribed_yet_is_kept_until_they_are(
        cluster: Cluster) -> None:
    clock = FakeClock(T0)
    a, b = cluster.nodes(clock, "node-a", "node-b")
    step(a)
    b.round()
    last = PARTS - 1  # beyond a's share when b joins
    not_yet = {last}  # its sessions have not had their SUBACK yet
    change = a.round(keep=lambda part: part in not_yet)
    assert last in a.held and last not in change.lost and change.lost
    a.release(change.lost)
    assert last not in b.round().gained
    not_yet.clear()  # subscribed: now it goes like the others beyond a's share
    change = a.round(keep=lambda part: part in not_yet)
    assert change.lost == {last}


def test_a_node_whose_alert_core_lags_is_seen_so_by_the_others_while_it_lives(
        cluster: Cluster) -> None:
    """The desk's banner on any node shows the cluster's state, not only its own."""
    clock = FakeClock(T0)
    a, b = cluster.nodes(clock, "node-a", "node-b")
    a.round(degraded=True)
    b.round()
    assert b.degraded_nodes() == ["node-a"]
    clock.advance(1)
    a.round()  # caught up again
    assert b.degraded_nodes() == []
    a.round(degraded=True)
    clock.advance(TTL_MS / 1000 + 1)  # and then dead: no longer counted
    b.round()
    assert b.degraded_nodes() == []


def test_the_store_clock_is_one_time_line_for_every_node(cluster: Cluster) -> None:
    from alerts.cluster.leases import StoreClock
    from telemetry.clock import SystemClock

    store = StoreClock(cluster.stores[0])
    assert abs(store.now_ms() - SystemClock().now_ms()) < 5_000  # same machine here
    first = store.now_ms()
    assert store.now_ms() >= first
