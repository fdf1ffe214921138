"""The resident page on a node that does not hold the resident's partition still shows
which devices are down (from the shared store), not an empty device panel."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

import registry
from alerts.service import AlertService
from alerts.settings import AlertSettings, ClusterSettings
from alerts.store.queries import StoreQueries
from dashboard.accounts.model import Role
from dashboard.accounts.store import Accounts
from dashboard.app import create_app
from dashboard.context import DashboardContext
from telemetry.clock import SystemClock
from telemetry.kinds import Kind
from telemetry.topics import partition_of
from tests.support.readings import reading

POLICY = Path(__file__).resolve().parents[2] / "alerts" / "policy.sample.yaml"
PASSWORD = "test-only-password"


def test_a_silent_device_shows_on_the_desk_of_a_node_that_does_not_watch_it(
        tmp_path: Path, fresh_database: str) -> None:
    a, b = (AlertService(AlertSettings(policy=str(POLICY), sms="console", callback_port=0),
                         registry.load(registry.SAMPLE), SystemClock(), tmp_path / name,
                         cluster=ClusterSettings(node_id=name, state=fresh_database,
                                                 partitions=2))
            for name in ("node-a", "node-b"))
    accounts = Accounts(fresh_database)
    try:
        part = partition_of("gw-00000", 2)
        a.take(part)  # node A watches res-00000's gateway; node B serves the page
        a.consume([reading(Kind.AVAILABILITY, 0.0, SystemClock().now_ms(),
                           device_id="sos-button")])
        accounts.create_user("nurse", PASSWORD, Role.NURSE, SystemClock().now_ms())
        desk_b = DashboardContext(accounts, b.core.registry, b.core, StoreQueries(b.db),
                                  b.core.policies,
                                  SystemClock(), health=b.bank.health)
        with TestClient(create_app(desk_b)) as client:
            assert client.post("/api/login", json={"username": "nurse",
                                                   "password": PASSWORD}).status_code == 200
            devices = {d["device_id"]: d for d in
                       client.get("/api/residents/res-00000").json()["devices"]}
        assert devices["sos-button"]["silent"] is True
        assert devices["pendant"]["silent"] is False
        assert not devices["pendant"]["gateway_offline"]
    finally:
        accounts.close()
        for service in (a, b):
            service.callbacks.close()
            service.db.close()
