"""A desk user given sites sees those sites and nothing beside them, through every route of
the API and the live stream; medical notes are for staff who act, not viewers."""

from __future__ import annotations

import datetime
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

import registry as registry_module
from alerts.model import Condition, Signal
from dashboard.accounts.model import Role
from dashboard.app import create_app
from dashboard.server import DashboardServer
from harness.process import free_port
from tests.dashboard.test_api import PASSWORD, Desk
from tests.dashboard.test_live_session import _frames
from tests.support.readings import T0


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    """Two sites: res-00000 behind gw-00000 at site-000, res-00001 behind gw-00001 at
    site-001; nurse-a and viewer-a see site-000 only, nurse-b site-001 only."""
    data = yaml.safe_load(registry_module.SAMPLE.read_text())
    for item in (*data["gateways"], *data["residents"]):
        if item.get("gateway_id") == "gw-00001" or item.get("resident_id") == "res-00001":
            item["site_id"] = "site-001"
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setattr(registry_module, "SAMPLE", path)
    d = Desk(tmp_path)
    for name, role, site in (("nurse-a", Role.NURSE, "site-000"),
                             ("viewer-a", Role.VIEWER, "site-000"),
                             ("nurse-b", Role.NURSE, "site-001")):
        d.accounts.create_user(name, PASSWORD, role, T0, (site,))
    d.core.handle([Signal(Condition.FALL, "res-00000", True, T0, "site-000", "gw-00000",
                          "fall reported", "pendant"),
                   Signal(Condition.FALL, "res-00001", True, T0, "site-001", "gw-00001",
                          "fall reported", "pendant")])
    yield d
    d.client.close()
    d.store.close()
    d.accounts.close()
    d.db.close()


def _id_of(desk: Desk, resident: str) -> int:
    return next(a.alert_id for a in desk.db.alerts.find() if a.subject == resident)


def test_a_user_of_one_site_gets_nothing_of_another_through_the_api(desk: Desk) -> None:
    theirs = _id_of(desk, "res-00001")
    headers = desk.login("nurse-a")
    get = desk.client.get
    assert [a["subject"] for a in get("/api/alerts").json()] == ["res-00000"]
    assert get("/api/alerts?site_id=site-001").json() == []
    assert [s["site_id"] for s in get("/api/sites").json()] == ["site-000"]
    assert [r["resident_id"] for r in get("/api/residents").json()] == ["res-00000"]
    mine = get("/api/residents?limit=1&offset=0")  # the total counts only what is theirs
    assert mine.headers["X-Total-Count"] == "1"
    assert get("/api/residents?site_id=site-001").json() == []
    for path in (f"/api/alerts/{theirs}", f"/api/alerts/{theirs}/timeline",
                 f"/api/alerts/{theirs}/notices", "/api/residents/res-00001",
                 "/api/residents/res-00001/readings?kind=heart_rate&start_ms=0&end_ms=1",
                 f"/api/alerts/{theirs}/responders", f"/api/alerts/{theirs}/dispatches",
                 "/api/residents/res-00001/plan", "/api/residents/res-00001/key-safe",
                 "/api/reports/response?site_id=site-001",
                 "/api/reports/response.csv?site_id=site-001",
                 "/api/reports/labels?site_id=site-001"):
        assert get(path).status_code == 404, path
    for action, body in (("acknowledge", {"note": "x"}),
                         ("resolve", {"note": "x", "outcome": "test"}),
                         ("take", {}), ("give-back", {}), ("assign", {"to": "admin"}),
                         ("dispatch", {"responder": "c0"})):
        refused = desk.client.post(f"/api/alerts/{theirs}/{action}", json=body,
                                   headers=headers)
        assert refused.status_code == 404, action
    # a responder sent to the other site's alarm: nurse-a cannot record its arrival
    theirs_sent = desk.core.response.dispatch(theirs, "c0", "nurse-b", text=False)
    moved = desk.client.post(f"/api/dispatches/{theirs_sent.dispatch_id}",
                             json={"step": "arrived"}, headers=headers)
    assert moved.status_code == 404
    assert desk.db.dispatches.of(theirs)[0].state.value == "sent"
    assert desk.client.post("/api/residents/res-00001/requests", json={"type": "request_meal"},
                            headers=headers).status_code == 404
    assert list(get("/api/request-types").json()) == ["site-000"]
    # the report over every site this user sees counts its own fall, not the other's
    at = datetime.datetime.fromtimestamp(T0 / 1000, tz=ZoneInfo("Asia/Shanghai"))
    month = f"{at.year:04d}-{at.month:02d}"
    assert get(f"/api/reports/response?month={month}").json()["total"]["alarms"] == 1
    silence = desk.client.post("/api/silences", headers=headers, json={
        "subject": "gw-00001", "minutes": 30, "reason": "x", "condition": "water_leak"})
    assert silence.status_code == 404
    assert list(get("/api/policies").json()) == ["site-000"]
    assert desk.db.alerts.get(theirs).state.value == "open"  # type: ignore[union-attr]
    # their own site's alarm they can act on; the other site's user sees it acknowledged
    mine = _id_of(desk, "res-00000")
    assert desk.client.post(f"/api/alerts/{mine}/acknowledge", json={"note": "going"},
                            headers=headers).status_code == 200
    desk.login("nurse-b")
    assert [a["subject"] for a in get("/api/alerts").json()] == ["res-00001"]
    assert get(f"/api/alerts/{mine}").status_code == 404


def test_medical_notes_and_phone_numbers_are_for_staff_who_act(desk: Desk) -> None:
    desk.login("viewer-a")
    seen = desk.client.get("/api/residents/res-00000").json()
    assert seen["medical_notes"] == ""
    assert all(c["phone"].startswith("…") for c in seen["contacts"])
    desk.login("nurse-a")
    assert desk.client.get("/api/residents/res-00000").json()["medical_notes"] != ""


def test_the_live_stream_carries_only_the_users_sites(desk: Desk) -> None:
    port = free_port()
    server = DashboardServer(create_app(desk.ctx), "127.0.0.1", port)
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/api/login", json.dumps({"username": "nurse-a",
                                                       "password": PASSWORD}),
                     {"Content-Type": "application/json"})
        answer = conn.getresponse()
        cookie = answer.getheader("set-cookie", "").split(";")[0]
        answer.read()
        conn.request("GET", "/api/events", headers={"Cookie": cookie})
        frames = _frames(conn.getresponse())
        assert next(frames).startswith("retry:")
        assert next(frames) == "event: hello\ndata: {}"
        for resident, gateway, site in (("res-00001", "gw-00001", "site-001"),
                                        ("res-00000", "gw-00000", "site-000")):
            desk.core.handle([Signal(Condition.SOS, resident, True, T0, site, gateway,
                                     "sos", "sos-button")])
        pushed = json.loads(next(f for f in frames
                                 if f.startswith("data:")).removeprefix("data: "))
        assert pushed["alert"]["site_id"] == "site-000"  # site-001's SOS never came
        conn.close()
    finally:
        server.close()
