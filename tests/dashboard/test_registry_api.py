"""Enrolling homes through the desk's API, on the registry in its database: a device a
gateway reports is listed, paired in one call and accepted from then on; a resident is
admitted, moved to another room and discharged (their alarms stay, their devices are
released); bad input is a 422 or 409 with its reason; every change is an admin's, within
the sites the admin sees, and audited; another site's admin sees and changes none of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from fastapi.testclient import TestClient

import registry as registry_module
from alerts.core import AlertCore
from alerts.model import Condition, Signal
from alerts.policy import Policies, PolicyFile
from alerts.store import AlertStore
from alerts.store.queries import StoreQueries
from dashboard.accounts.model import Role
from dashboard.accounts.store import Accounts
from dashboard.app import create_app
from dashboard.context import DashboardContext
from ingest.accept import Acceptor
from ingest.dedup import Dedup
from registry.commands import EXPIRED, QUEUED, CommandStore
from registry.db import RegistryFollower, RegistryStore, Sightings, open_registry
from telemetry import codec, topics
from telemetry import commands as wire
from telemetry.clock import FakeClock
from telemetry.kinds import Kind, unit_of
from telemetry.reading import Reading
from telemetry.topics import Channel
from tests.alerts.conftest import POLICY
from tests.support.readings import T0

PASSWORD = "correct horse battery"
PLAN = {"site_id": "site-000", "room": "room-103", "display_name": "Test Resident N",
        "floor": "1", "contacts": [{"name": "Test Family N", "phone": "+86000000000077",
                                    "role": "keyholder"}],
        "access_notes": "demo only"}


class Desk:
    def __init__(self, tmp: Path) -> None:
        self.clock = FakeClock(T0)
        self.registry_db = RegistryStore(tmp / "registry.db")
        self.registry = open_registry(self.registry_db, registry_module.SAMPLE)
        self.sightings = Sightings()
        self.follower = RegistryFollower(self.registry_db, self.registry,
                                         sightings=self.sightings)
        self.acceptor = Acceptor(self.registry, Dedup(), self.sightings.note)
        self.db = AlertStore(tmp / "alerts.db")
        self.core = AlertCore(self.db, self.registry,
                              Policies(msgspec.convert(POLICY, PolicyFile)), self.clock)
        self.accounts = Accounts(tmp / "accounts.db")
        for name, role, sites in (("admin", Role.ADMIN, ()), ("nurse", Role.NURSE, ()),
                                  ("admin-b", Role.ADMIN, ("site-001",))):
            self.accounts.create_user(name, PASSWORD, role, T0, sites)
        self.commands = CommandStore(tmp / "registry.db")
        self.ctx = DashboardContext(self.accounts, self.registry, self.core,
                                    StoreQueries(self.db), self.core.policies, self.clock,
                                    registry_db=self.registry_db, commands=self.commands)
        self.client = TestClient(create_app(self.ctx))

    def login(self, name: str) -> dict[str, str]:
        self.client.cookies.clear()
        response = self.client.post("/api/login", json={"username": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"X-CSRF-Token": response.json()["csrf"]}

    def report(self, gateway_id: str, device_id: str, kind: Kind, value: float,
               seq: int) -> list[Reading]:
        """A gateway's message with one reading of ``device_id``: what is accepted."""
        r = Reading("site-000", gateway_id, device_id, kind, value, unit_of(kind), T0, T0, seq)
        return self.acceptor.readings(topics.central(gateway_id, Channel.READINGS),
                                      codec.encode(gateway_id, "site-000", T0, [r]),
                                      T0).readings

    def close(self) -> None:
        self.client.close()
        self.accounts.close()
        self.db.close()
        self.registry_db.close()
        self.commands.close()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk(tmp_path)
    try:
        yield d
    finally:
        d.close()


def test_a_reported_device_is_paired_in_one_call_and_accepted_from_then_on(
        desk: Desk) -> None:
    assert desk.report("gw-00000", "door-new", Kind.BATTERY, 97, 1) == []  # refused
    assert desk.report("gw-00000", "door-new", Kind.DOOR, 1, 2) == []
    desk.follower.follow_once()  # the intake's sightings written
    headers = desk.login("admin")
    (seen,) = desk.client.get("/api/registry/unpaired").json()
    assert (seen["gateway_id"], seen["device_id"], seen["battery"], seen["site_id"]) == \
        ("gw-00000", "door-new", 97, "site-000")
    assert set(seen["kinds"]) == {"battery", "door"}
    paired = desk.client.post("/api/registry/devices", headers=headers, json={
        "gateway_id": "gw-00000", "device_id": "door-new", "resident_id": "res-00000"})
    assert paired.status_code == 201, paired.text
    assert desk.client.get("/api/registry/unpaired").json() == []
    accepted = desk.report("gw-00000", "door-new", Kind.DOOR, 0, 3)
    assert [r.resident_id for r in accepted] == ["res-00000"]
    again = desk.client.post("/api/registry/devices", headers=headers, json={
        "gateway_id": "gw-00000", "device_id": "door-new", "resident_id": "res-00001"})
    assert again.status_code == 409 and "already" in again.json()["detail"]
    log = desk.client.get("/api/audit", headers=headers).json()
    assert any(e["action"] == "registry_pair" and e["target"] == "device gw-00000/door-new"
               for e in log)


def test_a_resident_is_admitted_moved_and_discharged_their_alarms_staying(
        desk: Desk) -> None:
    headers = desk.login("admin")
    admitted = desk.client.post("/api/registry/residents", headers=headers,
                                json={**PLAN, "resident_id": "res-00077"})
    assert admitted.status_code == 201, admitted.text
    paired = desk.client.post("/api/registry/devices", headers=headers, json={
        "gateway_id": "gw-00001", "device_id": "pendant-77", "resident_id": "res-00077"})
    assert paired.status_code == 201
    names = {r["resident_id"]: r["room"] for r in desk.client.get("/api/residents").json()}
    assert names["res-00077"] == "room-103"
    desk.core.handle([Signal(Condition.FALL, "res-00077", True, T0, "site-000", "gw-00001",
                             "fall reported", "pendant-77")])
    moved = desk.client.put("/api/registry/residents/res-00077", headers=headers,
                            json={**PLAN, "room": "room-104"})
    assert moved.status_code == 200
    assert desk.registry.residents["res-00077"].room == "room-104"
    out = desk.client.post("/api/registry/residents/res-00077/discharge", headers=headers)
    assert out.json() == {"resident_id": "res-00077", "devices_released": 1}
    assert "res-00077" not in desk.registry.residents
    assert desk.registry.device("gw-00001", "pendant-77").resident_id is None  # type: ignore[union-attr]
    alarms = desk.client.get("/api/alerts").json()  # the alarm stays on the desk
    assert [a["subject"] for a in alarms if a["condition"] == "fall"] == ["res-00077"]
    actions = [e["action"] for e in desk.client.get("/api/audit", headers=headers).json()]
    assert {"registry_admit", "registry_change", "registry_discharge"} <= set(actions)


def test_bad_input_is_refused_with_its_reason(desk: Desk) -> None:
    headers = desk.login("admin")
    bad_phone = {**PLAN, "resident_id": "res-00078",
                 "contacts": [{"name": "Test Family X", "phone": "call me"}]}
    assert desk.client.post("/api/registry/residents", headers=headers,
                            json=bad_phone).status_code == 422
    assert desk.client.post("/api/registry/residents", headers=headers,
                            json={**PLAN, "resident_id": "res-00000"}).status_code == 409
    other_site = desk.client.post("/api/registry/devices", headers=headers, json={
        "gateway_id": "gw-00000", "device_id": "pir-9", "resident_id": "res-00404"})
    assert other_site.status_code == 404
    assert desk.client.post("/api/registry/gateways", headers=headers, json={
        "gateway_id": "gw-00009", "site_id": "site-404"}).status_code == 404
    assert desk.client.post("/api/registry/residents", headers=headers,
                            json={**PLAN, "resident_id": "bad id!"}).status_code == 422
    assert "res-00078" not in desk.registry.residents


def test_another_site_s_admin_and_a_nurse_see_and_change_none_of_it(desk: Desk) -> None:
    desk.report("gw-00000", "door-new", Kind.DOOR, 1, 1)
    desk.follower.follow_once()
    headers = desk.login("admin-b")  # site-001 only
    assert desk.client.get("/api/registry/unpaired").json() == []
    for method, path, body in (
            ("post", "/api/registry/devices", {"gateway_id": "gw-00000",
                                               "device_id": "door-new"}),
            ("put", "/api/registry/devices/gw-00000/front-door", {"room": "x"}),
            ("delete", "/api/registry/devices/gw-00000/front-door", None),
            ("post", "/api/registry/residents", {**PLAN, "resident_id": "res-00079"}),
            ("put", "/api/registry/residents/res-00000", PLAN),
            ("post", "/api/registry/residents/res-00000/discharge", None),
            ("post", "/api/registry/gateways", {"gateway_id": "gw-00009",
                                                "site_id": "site-000"})):
        response = desk.client.request(method, path, headers=headers, json=body)
        assert response.status_code == 404, (path, response.text)
    assert desk.client.post("/api/registry/sites", headers=headers, json={
        "site_id": "site-002", "name": "Test Site"}).status_code == 403
    nurse = desk.login("nurse")
    assert desk.client.post("/api/registry/residents/res-00000/discharge",
                            headers=nurse).status_code == 403
    assert "res-00000" in desk.registry.residents
    assert desk.registry.device("gw-00000", "front-door") is not None


def test_a_move_keeps_the_key_safe_code_which_the_record_never_shows(desk: Desk) -> None:
    headers = desk.login("admin")
    record = desk.client.get("/api/registry/residents/res-00000/record").json()
    assert "key_safe" not in record and record["room"] == "room-101"
    moved = desk.client.put("/api/registry/residents/res-00000", headers=headers,
                            json={**record, "room": "room-105"})
    assert moved.status_code == 200, moved.text
    after = desk.registry.residents["res-00000"]
    assert (after.room, after.key_safe, after.access_notes) == \
        ("room-105", "0000", "demo only; ring twice")
    log = desk.client.get("/api/audit", headers=headers).json()
    assert any(e["action"] == "registry_change" and e["detail"] == "room room-101 -> room-105"
               for e in log)


def test_a_doors_only_home_is_flagged_until_living_room_motion_is_paired(desk: Desk) -> None:
    """The coverage check through the API: a home with only a door contact is listed as
    reduced coverage, missing living-room motion; a motion sensor the gateway reported,
    paired in the living room with the kinds it sent, completes the inactivity kit (the
    home stays listed for what it still cannot detect: falls)."""
    headers = desk.login("admin")
    home = {**PLAN, "site_id": "site-001", "room": "flat-8", "resident_id": "res-00080"}
    assert desk.client.post("/api/registry/gateways", headers=headers, json={
        "gateway_id": "gw-00080", "site_id": "site-001"}).status_code == 201
    assert desk.client.post("/api/registry/residents", headers=headers,
                            json=home).status_code == 201
    assert desk.client.post("/api/registry/devices", headers=headers, json={
        "gateway_id": "gw-00080", "device_id": "front-door", "resident_id": "res-00080",
        "room": "hall", "kinds": ["door"]}).status_code == 201
    (flagged,) = desk.client.get("/api/coverage").json()
    assert (flagged["resident_id"], flagged["reduced"], flagged["missing"]) == \
        ("res-00080", True, ["living_motion"])
    grid = {r["resident_id"]: r["reduced_coverage"]
            for r in desk.client.get("/api/residents").json()}
    assert grid == {"res-00000": False, "res-00001": False, "res-00080": True}
    desk.report("gw-00080", "pir-new", Kind.MOTION, 1, 1)  # reported, not yet paired
    desk.report("gw-00080", "pir-new", Kind.LINK_QUALITY, 80, 2)
    desk.follower.follow_once()
    paired = desk.client.post("/api/registry/devices", headers=headers, json={
        "gateway_id": "gw-00080", "device_id": "pir-new", "resident_id": "res-00080",
        "room": "living"})
    assert paired.json()["kinds"] == ["motion"]  # what it sent (its radio's aside)
    (still,) = desk.client.get("/api/coverage").json()  # listed: no fall sensor yet
    assert (still["reduced"], still["missing"], still["fall"]) == (False, [], False)
    resident = desk.client.get("/api/residents/res-00080").json()
    assert resident["coverage"]["inactivity"] and not resident["coverage"]["reduced"]


def test_a_site_manager_enrols_in_their_site_and_a_bed_is_one_resident_s(desk: Desk) -> None:
    desk.accounts.create_user("manager-0", PASSWORD, Role.MANAGER, T0, ("site-000",))
    headers = desk.login("manager-0")
    first = {**PLAN, "resident_id": "res-00090", "room": "room-110", "bed": "A"}
    assert desk.client.post("/api/registry/residents", headers=headers,
                            json=first).status_code == 201
    taken = desk.client.post("/api/registry/residents", headers=headers,
                             json={**first, "resident_id": "res-00091"})
    assert taken.status_code == 409 and "bed A of room-110 is taken" in taken.json()["detail"]
    assert desk.client.post("/api/registry/residents", headers=headers, json={
        **first, "resident_id": "res-00091", "bed": "B"}).status_code == 201
    assert desk.client.post("/api/registry/sites", headers=headers, json={
        "site_id": "site-009", "name": "Test Site"}).status_code == 403  # admins only
    assert desk.client.post("/api/registry/residents", headers=headers, json={
        **first, "resident_id": "res-00092", "site_id": "site-001"}).status_code == 404
    assert desk.client.get("/api/me").json()["role"] == "manager"


def test_a_resident_with_devices_is_not_moved_to_another_site(desk: Desk) -> None:
    headers = desk.login("admin")
    record = desk.client.get("/api/registry/residents/res-00001/record").json()
    moved = desk.client.put("/api/registry/residents/res-00001", headers=headers,
                            json={**record, "site_id": "site-001"})
    assert moved.status_code == 409 and "still has devices" in moved.json()["detail"]
    assert desk.registry.residents["res-00001"].site_id == "site-000"


def test_the_resident_list_is_paged_in_room_order_with_its_total(desk: Desk) -> None:
    desk.login("admin")
    whole = desk.client.get("/api/residents")
    everyone = [r["resident_id"] for r in whole.json()]
    assert int(whole.headers["X-Total-Count"]) == len(everyone) == len(desk.registry.residents)
    assert [(r["site_id"], r["floor"], r["room"]) for r in whole.json()] == sorted(
        (r["site_id"], r["floor"], r["room"]) for r in whole.json())
    pages = []
    for offset in range(0, len(everyone), 7):
        page = desk.client.get(f"/api/residents?limit=7&offset={offset}")
        assert page.headers["X-Total-Count"] == str(len(everyone))
        pages += [r["resident_id"] for r in page.json()]
    assert pages == everyone  # each once, in the same order
    # a move shows at once in the database's order, not only in memory
    headers = desk.login("admin")
    last_room = max(r["room"] for r in whole.json())
    moved = desk.client.put(f"/api/registry/residents/{everyone[0]}", headers=headers,
                            json={**PLAN, "room": last_room + "-z"})
    assert moved.status_code == 200, moved.text
    after = [r["resident_id"] for r in desk.client.get("/api/residents").json()]
    assert after[-1] == everyone[0]
    assert desk.client.get("/api/residents?limit=0").status_code == 422
    assert desk.client.get("/api/residents?limit=1001").status_code == 422


def test_a_paired_device_sends_its_gateway_the_new_list_and_the_desk_sees_commands(
        desk: Desk) -> None:
    headers = desk.login("admin")
    assert desk.client.post("/api/registry/devices", headers=headers, json={
        "gateway_id": "gw-00001", "device_id": "pendant-9", "resident_id": "res-00001"}
    ).status_code == 201
    (sent,) = desk.client.get("/api/registry/gateways/gw-00001/commands").json()
    assert (sent["name"], sent["state"]) == ("devices", QUEUED)
    (command,) = [c for _, c in desk.commands.claim_queued()]
    assert "pendant-9" in {d.device_id for d in wire.devices_of(command)}
    ping = desk.client.post("/api/registry/gateways/gw-00001/commands", headers=headers,
                            json={"name": "ping"})
    assert ping.status_code == 201
    desk.clock.advance(25 * 3600)  # nobody answered within a day
    desk.commands.expire(desk.clock.now_ms())
    desk.login("admin")  # a day on: signed in again
    not_done = desk.client.get("/api/registry/commands/not-done").json()
    assert {(c["name"], c["state"], c["site_id"]) for c in not_done} == {
        ("devices", EXPIRED, "site-000"), ("ping", EXPIRED, "site-000")}
    assert ("admin", "gateway_command", "gateway gw-00001") in [
        (e.username, e.action, e.target) for e in desk.accounts.audit_log()]
    # a nurse may look but not send; an admin of another site sees nothing of it
    nurse = desk.login("nurse")
    assert desk.client.post("/api/registry/gateways/gw-00001/commands", headers=nurse,
                            json={"name": "ping"}).status_code == 403
    desk.login("admin-b")
    assert desk.client.get("/api/registry/gateways/gw-00001/commands").status_code == 404
    assert desk.client.get("/api/registry/commands/not-done").json() == []
