"""An alert node whose partition leases stop being renewed lets its partitions go once the
leases have expired, whatever stopped the renewal (the lease store is real PostgreSQL; the
intake and the detector bank are stand-ins that record what they are told)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from alerts.settings import ClusterSettings
from alerts.state import StateError
from central.cluster import ClusterNode
from telemetry.clock import FakeClock


class _Intake:
    def __init__(self) -> None:
        self.open: set[int] = set()

    def open_partition(self, part: int) -> None:
        self.open.add(part)

    def close_partition(self, part: int) -> None:
        self.open.discard(part)

    def subscribed(self, part: int) -> bool:
        return True

    def partitions(self) -> list[int]:
        return sorted(self.open)


class _Bank:
    def __init__(self) -> None:
        self.held: set[int] = set()
        self.dispatcher = SimpleNamespace(recover=lambda keep: None)

    def take(self, part: int) -> None:
        self.held.add(part)

    def give_up(self, part: int) -> None:
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
        clock.advance(3)
        node.tick()  # not renewed, but the leases still hold
        assert intake.partitions() == [0, 1] and bank.held == {0, 1}
        clock.advance(1)
        node.tick()  # expired: another node may own them now
        assert intake.partitions() == [] and bank.held == set()
        assert node.leases.held == frozenset()
    finally:
        node.db.close()
