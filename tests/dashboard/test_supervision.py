"""Many institutions under one supervisor, through the API: a tree of city → district →
street → community; a user who belongs to a node sees every site below it and nothing
beside it (alarms, residents, the supervision figures, the live push's scope), a site
added below a node later is seen without signing in again, and a node with nothing below
it sees nothing, never everything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.model import Condition, Signal
from dashboard.accounts.model import Role
from registry import Device, Gateway, Org, Resident, Site
from registry.model import put
from telemetry.kinds import Kind
from tests.dashboard.test_registry_api import PASSWORD, Desk
from tests.support.readings import T0

TREE = [Org("city-1", "Test City", "city"),
        Org("district-1", "Test District 1", "district", "city-1"),
        Org("district-2", "Test District 2", "district", "city-1"),
        Org("street-1", "Test Street 1", "street", "district-1"),
        Org("community-1", "Test Community 1", "community", "street-1"),
        Org("community-2", "Test Community 2", "community", "street-1"),
        Org("community-9", "Test Community 9 (empty)", "community", "district-2")]


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk(tmp_path)
    reg = d.registry
    d.registry_db.write([
        *(put(o) for o in TREE),
        put(Site("site-000", reg.sites["site-000"].name, kind="institution", org="community-1",
                 responders=reg.sites["site-000"].responders)),
        put(Site("site-001", reg.sites["site-001"].name, org="community-2")),
        put(Site("site-002", "Test Home Site 2", org="district-2")),
        put(Gateway("gw-00020", "site-002")),
        put(Resident("res-00020", "site-002", "flat-20", "Test Resident T")),
        put(Device("front-door", "gw-00020", "res-00020", "hall", [Kind.DOOR]))], reg)
    for name, role, org in (("supervisor-1", Role.VIEWER, "district-1"),
                            ("nurse-a", Role.NURSE, "community-1"),
                            ("nurse-2", Role.NURSE, "district-2"),
                            ("nobody", Role.NURSE, "community-9")):
        d.accounts.create_user(name, PASSWORD, role, T0, org=org)
    for resident, site, gateway in (("res-00001", "site-000", "gw-00001"),
                                    ("res-00020", "site-002", "gw-00020")):
        d.core.handle([Signal(Condition.FALL, resident, True, T0, site, gateway,
                              "fall reported", "pendant")])
    try:
        yield d
    finally:
        d.close()


def _sites_seen(desk: Desk, user: str) -> dict[str, list[str]]:
    desk.login(user)
    return {"sites": sorted(s["site_id"] for s in desk.client.get("/api/sites").json()),
            "alarms": sorted(a["site_id"] for a in desk.client.get("/api/alerts").json()),
            "residents": sorted(r["resident_id"]
                                for r in desk.client.get("/api/residents").json()),
            "supervision": [s["site_id"] for s in
                            desk.client.get("/api/supervision").json()["sites"]]}


def test_each_user_sees_the_sites_below_their_node_and_nothing_beside_it(desk: Desk) -> None:
    assert _sites_seen(desk, "supervisor-1") == {
        "sites": ["site-000", "site-001"], "alarms": ["site-000"],
        "residents": ["res-00000", "res-00001"], "supervision": ["site-000", "site-001"]}
    assert _sites_seen(desk, "nurse-a") == {
        "sites": ["site-000"], "alarms": ["site-000"],
        "residents": ["res-00000", "res-00001"], "supervision": ["site-000"]}
    assert _sites_seen(desk, "nurse-2") == {
        "sites": ["site-002"], "alarms": ["site-002"], "residents": ["res-00020"],
        "supervision": ["site-002"]}
    assert _sites_seen(desk, "nobody") == {  # nothing below it: nothing, never everything
        "sites": [], "alarms": [], "residents": [], "supervision": []}
    desk.login("nurse-a")
    hidden = desk.db.alerts.find(open_only=True)
    far = next(a.alert_id for a in hidden if a.site_id == "site-002")
    assert desk.client.get(f"/api/alerts/{far}/timeline").status_code == 404
    assert desk.client.get("/api/residents/res-00020").status_code == 404


def test_the_supervisor_s_figures_and_a_site_added_below_them_later(desk: Desk) -> None:
    desk.login("supervisor-1")
    rows = {s["site_id"]: s for s in desk.client.get("/api/supervision").json()["sites"]}
    care = rows["site-000"]
    assert (care["org_name"], care["residents"], care["open_alarms"], care["alarms_7d"]) == \
        ("Test Community 1", 2, 1, 1)
    assert care["oldest_open_ms"] == T0 and care["reduced_coverage"] == 0
    assert rows["site-001"]["open_alarms"] == 0
    # the alarm not answered yet counts against the share; a site without alarms has none
    assert care["answered_60s_share_30d"] == 0.0
    assert rows["site-001"]["answered_60s_share_30d"] is None
    nurse = desk.login("nurse-a")
    alarm = next(a for a in desk.db.alerts.find(open_only=True) if a.site_id == "site-000")
    assert desk.client.post(f"/api/alerts/{alarm.alert_id}/take", json={"note": ""},
                            headers=nurse).status_code == 200
    desk.login("supervisor-1")
    rows = {s["site_id"]: s for s in desk.client.get("/api/supervision").json()["sites"]}
    assert rows["site-000"]["answered_60s_share_30d"] == 1.0  # taken at once
    desk.registry_db.write([put(Site("site-003", "Test Home Site 3", org="street-1"))],
                           desk.registry)
    later = [s["site_id"] for s in desk.client.get("/api/supervision").json()["sites"]]
    assert later == ["site-000", "site-001", "site-003"]  # seen without signing in again
    desk.login("nurse-2")
    home = desk.client.get("/api/supervision").json()["sites"][0]
    assert (home["site_id"], home["reduced_coverage"], home["open_alarms"]) == \
        ("site-002", 1, 1)  # a doors-only home


def test_an_admin_of_one_node_reads_only_the_audit_of_users_below_it(desk: Desk) -> None:
    desk.accounts.create_user("admin-c1", PASSWORD, Role.ADMIN, T0, org="community-1")
    nurse = desk.login("nurse-a")  # community-1
    alarm = next(a for a in desk.db.alerts.find(open_only=True) if a.site_id == "site-000")
    assert desk.client.post(f"/api/alerts/{alarm.alert_id}/take", json={"note": ""},
                            headers=nurse).status_code == 200
    far = desk.login("nurse-2")  # district-2
    other = next(a for a in desk.db.alerts.find(open_only=True) if a.site_id == "site-002")
    assert desk.client.post(f"/api/alerts/{other.alert_id}/take", json={"note": ""},
                            headers=far).status_code == 200
    desk.login("admin-c1")
    users = {e["username"] for e in desk.client.get("/api/audit").json()}
    assert "nurse-a" in users and "nurse-2" not in users and "admin" not in users
    desk.login("admin")  # an admin of every site reads it all
    assert {"nurse-a", "nurse-2"} <= {e["username"] for e in desk.client.get("/api/audit").json()}
