"""An alert node whose partition leases stop being renewed lets its partitions go once the
leases have expired, whatever stopped the renewal (the lease store is real PostgreSQL; the
intake and the detector bank are stand-ins that record what they are told): a round
before expiry (a quarter of the lease) must be left, also while a round hangs on a
database that stopped answering."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import psycopg
import pytest

from alerts.settings import ClusterSettings
from alerts.store import StateError
from central.cluster import ClusterNode
from harness.blackhole import Blackhole
from harness.postgres import LocalPostgres
from telemetry.clock import FakeClock, SystemClock
from tests.support.wait import wait_until


class _Intake:
    def __init__(self) -> None:
        self.open: set[int] = set()
        self.handoff = SimpleNamespace(degraded=lambda: False)

    def check_partitions(self, expected: int) -> None:
        pass

    def open_partition(self, part: int) -> None:
        self.open.add(part)

    def close_partition(self, part: int) -> None:
        self.open.discard(part)

    def close_partitions(self, parts: list[int]) -> None:
        for part in parts:
            self.close_partition(part)

    def subscribed(self, part: int) -> bool:
        return True

    def partitions(self) -> list[int]:
        return sorted(self.open)


class _Bank:
    def __init__(self) -> None:
        self.held: set[int] = set()
        self.dispatcher = SimpleNamespace(recover=lambda keep, restarted=False: 0)
        self.looks = 0  # told to look at the store again (a node came or went)

    def look_again(self) -> None:
        self.looks += 1

    def take(self, part: int) -> None:
        self.held.add(part)

    def give_up(self, part: int, save: bool = True) -> None:
        self.held.discard(part)


@pytest.mark.parametrize("failure", [StateError("the store is out of reach"),
                                     RuntimeError("a bug in the round")],
                         ids=["store", "bug"])
def test_a_node_that_cannot_renew_lets_its_partitions_go_once_its_leases_expire(
        fresh_database: str, failure: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    intake, bank = _Intake(), _Bank()
    node = ClusterNode(ClusterSettings(node_id="node-a", state=fresh_database, partitions=2,
                                       lease_ttl_s=4), bank, intake, clock)  # type: ignore[arg-type]
    try:
        node.round()
        assert intake.partitions() == [0, 1] and bank.held == {0, 1}

        def fail(**_: object) -> None:
            raise failure

        monkeypatch.setattr(node.leases, "round", fail)
        clock.advance(2)
        node.tick()  # not renewed, but the leases hold for two seconds more
        assert intake.partitions() == [0, 1] and bank.held == {0, 1}
        assert node.degraded()
        clock.advance(1)
        node.tick()  # a round before expiry can no longer be counted on: let go now
        assert intake.partitions() == [] and bank.held == set()
        assert node.leases.held == frozenset() and node.fences == 1
    finally:
        node.db.close()


def test_a_node_whose_database_stops_answering_lets_go_before_its_leases_expire(
        postgres: LocalPostgres, fresh_database: str) -> None:
    """A proxy in front of PostgreSQL takes the lease thread's statements and answers
    none: the round hangs, yet the node lets its partitions go before the leases it last
    renewed expire, and takes them again once the database answers."""
    gone_at_ms: list[int] = []

    class Timed(_Intake):
        def close_partition(self, part: int) -> None:
            gone_at_ms.append(SystemClock().now_ms())
            super().close_partition(part)

    intake, bank = Timed(), _Bank()
    with Blackhole(postgres.port) as proxy:
        dsn = fresh_database.replace(f":{postgres.port}/", f":{proxy.port}/")
        node = ClusterNode(ClusterSettings(node_id="node-a", state=dsn, partitions=2,
                                           lease_ttl_s=2), bank, intake,  # type: ignore[arg-type]
                           SystemClock())
        node.start()
        try:
            wait_until(lambda: intake.partitions() == [0, 1], 10, "both partitions open")
            with psycopg.connect(fresh_database) as direct:
                direct.execute("SELECT 1")  # connected before the stall
                proxy.stall()
                wait_until(lambda: intake.partitions() == [], 10, "the partitions let go")
                expires = direct.execute("SELECT min(expires_ms) FROM partition_leases "
                                         "WHERE owner = 'node-a'").fetchone()
            assert expires is not None and expires[0] is not None
            assert max(gone_at_ms) < expires[0]  # before a survivor may take them
            assert node.degraded() and node.status()["cluster_degraded"] is True
            proxy.resume()
            wait_until(lambda: intake.partitions() == [0, 1], 15, "taken again")
            wait_until(lambda: not node.degraded(), 10, "no longer degraded")
        finally:
            node.close()


def test_a_slow_takeover_does_not_stop_the_leases_being_renewed(fresh_database: str) -> None:
    """Opening a partition can take seconds under load (a broker handing a session's
    backlog over). Meanwhile the node keeps renewing what it holds, so it does not fence
    itself (and hand the partitions to a survivor) just after taking them over."""
    release = threading.Event()

    class Slow(_Intake):
        def open_partition(self, part: int) -> None:
            if part == 1:
                release.wait(20)  # the test lets it finish
            super().open_partition(part)

    intake, bank = Slow(), _Bank()
    node = ClusterNode(ClusterSettings(node_id="node-a", state=fresh_database, partitions=2,
                                       lease_ttl_s=2), bank, intake,  # type: ignore[arg-type]
                       SystemClock())
    intake.open.add(0)  # partition 0 opened before; the first handover is partition 1's
    bank.held.add(0)
    node.start()
    try:
        wait_until(lambda: 1 in bank.held, 10, "partition 1 being taken")
        rounds = node.rounds
        wait_until(lambda: node.rounds >= rounds + 4, 10,
                   "lease rounds going on (two leases' time) while partition 1 opens")
        assert node.fences == 0 and intake.partitions() == [0]
        assert node.lease_age_ms() < node.fence_after_ms and not node.degraded()
        release.set()
        wait_until(lambda: intake.partitions() == [0, 1], 10, "partition 1 open")
        assert node.fences == 0
    finally:
        release.set()
        node.close()
