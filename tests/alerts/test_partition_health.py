"""Device health moves with a partition: a gateway one node saw go offline is cleared by
the node that takes the partition over when it comes back, and a node that gets the
partition back later does not go on hiding the silence of that gateway's devices (a dead
SOS button). Two alert services on one real PostgreSQL store, partitions handed by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import registry
from alerts.model import AlertState, Condition
from alerts.service import AlertService
from alerts.settings import AlertSettings, ClusterSettings
from telemetry.clock import SystemClock
from telemetry.kinds import Kind
from telemetry.topics import partition_of
from tests.support.readings import reading

POLICY = Path(__file__).resolve().parents[2] / "alerts" / "policy.sample.yaml"
PARTITIONS = 2
GATEWAY = "gw-00000"
PART = partition_of(GATEWAY, PARTITIONS)


@pytest.fixture
def nodes(tmp_path: Path, fresh_database: str) -> Iterator[tuple[AlertService, AlertService]]:
    made = [AlertService(AlertSettings(policy=str(POLICY), sms="console", callback_port=0),
                         registry.load(registry.SAMPLE), SystemClock(), tmp_path / name,
                         cluster=ClusterSettings(node_id=name, state=fresh_database,
                                                 partitions=PARTITIONS))
            for name in ("node-a", "node-b")]
    try:
        yield made[0], made[1]
    finally:
        for service in made:
            service.callbacks.close()
            service.db.close()


def _open(service: AlertService, condition: Condition) -> list[str]:
    return [a.subject for a in service.db.alerts.find(open_only=True)
            if a.condition is condition and a.state is not AlertState.RESOLVED]


def test_gateway_availability_moves_with_its_partition(
        nodes: tuple[AlertService, AlertService]) -> None:
    a, b = nodes
    a.take(PART)
    a.gateway_status(GATEWAY, "site-000", False)  # its last will, on node A
    assert _open(a, Condition.GATEWAY_OFFLINE) == [GATEWAY]
    a.give_up(PART)  # the partition moves to node B
    b.take(PART)
    now = SystemClock().now_ms()
    # a device behind the offline gateway is silent: held back, as on node A
    b.consume([reading(Kind.AVAILABILITY, 0.0, now, device_id="sos-button")])
    assert _open(b, Condition.DEVICE_SILENT) == []
    b.gateway_status(GATEWAY, "site-000", True)  # it comes back: node B clears it
    assert _open(b, Condition.GATEWAY_OFFLINE) == []
    b.give_up(PART)  # and the partition returns to node A
    a.take(PART)
    # the SOS button dies now, with its gateway online: node A must not hide it
    a.consume([reading(Kind.AVAILABILITY, 0.0, now + 1000, device_id="sos-button")])
    assert _open(a, Condition.DEVICE_SILENT) == [f"{GATEWAY}/sos-button"]
    a.give_up(PART)
    b.take(PART)  # the silent button's alert is cleared by whoever hears it again
    b.consume([reading(Kind.AVAILABILITY, 1.0, now + 2000, device_id="sos-button")])
    assert _open(b, Condition.DEVICE_SILENT) == []


def test_a_gateway_offline_before_a_restart_is_cleared_when_it_comes_back(
        tmp_path: Path) -> None:
    def start() -> AlertService:
        return AlertService(AlertSettings(policy=str(POLICY), sms="console",
                                          callback_port=0),
                            registry.load(registry.SAMPLE), SystemClock(), tmp_path)

    before = start()
    before.gateway_status(GATEWAY, "site-000", False)
    before.callbacks.close()
    before.db.close()
    after = start()  # the process restarted; its detectors start afresh
    try:
        assert _open(after, Condition.GATEWAY_OFFLINE) == [GATEWAY]
        after.gateway_status(GATEWAY, "site-000", True)
        assert _open(after, Condition.GATEWAY_OFFLINE) == []
    finally:
        after.callbacks.close()
        after.db.close()
