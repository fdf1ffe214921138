"""The response through the desk's API: roles (a viewer reads, cannot take, dispatch or
see a key-safe code), every action audited, the live push of who has an alarm, sign-out
giving alarms back, resolve needing an outcome, the report in JSON and CSV."""

from __future__ import annotations

import csv
import datetime
import io
from zoneinfo import ZoneInfo

from alerts.model import AlertChange, Condition, Signal
from tests.dashboard.test_api import Desk
from tests.support.readings import T0


def _month() -> str:
    at = datetime.datetime.fromtimestamp(T0 / 1000, tz=ZoneInfo("Asia/Shanghai"))
    return f"{at.year:04d}-{at.month:02d}"


def test_a_viewer_reads_but_cannot_take_dispatch_or_see_a_key_code(desk: Desk) -> None:
    alert_id = desk.fall("res-00000")
    viewer = desk.login("viewer")
    for action, body in (("take", {}), ("dispatch", {"responder": "s0"}),
                         ("assign", {"to": "nurse"}), ("give-back", {}),
                         ("resolve", {"outcome": "test"})):
        refused = desk.client.post(f"/api/alerts/{alert_id}/{action}", json=body,
                                   headers=viewer)
        assert refused.status_code == 403, action
    assert [r["ref"] for r in desk.client.get(f"/api/alerts/{alert_id}/responders").json()] \
        == ["c0", "s0", "r0"]  # the rescue service last
    plan = desk.client.get("/api/residents/res-00000/plan").json()
    assert "key_safe" not in plan and plan["key_safe_set"] is True
    assert plan["access_notes"] == "demo only; ring twice"
    assert plan["key_holders"] == [{"name": "Test Family A", "phone": "…0000"}]
    assert desk.client.get("/api/residents/res-00000/key-safe").status_code == 403
    desk.login("nurse")
    assert desk.client.get("/api/residents/res-00000/key-safe").json()["key_safe"] == "0000"
    admin = desk.login("admin")
    log = desk.client.get("/api/audit", headers=admin).json()
    assert [(e["username"], e["target"]) for e in log if e["action"] == "view_key_safe"] == \
        [("nurse", "res-00000")]  # the viewer's refused attempt showed nothing


def test_take_dispatch_and_resolve_through_the_api_are_audited_and_pushed(desk: Desk) -> None:
    pushed: list[AlertChange] = []
    desk.core.listeners.append(pushed.append)
    alert_id = desk.fall()
    nurse = desk.login("nurse")
    desk.clock.advance(42)
    taken = desk.client.post(f"/api/alerts/{alert_id}/take", json={}, headers=nurse)
    assert taken.status_code == 200
    assert (taken.json()["owner"], taken.json()["answered_ms"] - taken.json()["opened_ms"]) == \
        ("nurse", 42_000)
    assert pushed[-1].alert.owner == "nurse"  # every desk sees who has it, live
    again = desk.client.post(f"/api/alerts/{alert_id}/take", json={}, headers=nurse)
    assert again.status_code == 409 and "yours already" in again.json()["detail"]
    bad = desk.client.post(f"/api/alerts/{alert_id}/dispatch", json={"responder": "x1"},
                           headers=nurse)
    assert bad.status_code == 422
    before = desk.client.get(f"/api/alerts/{alert_id}/responders").json()
    assert [r["ref"] for r in before if r["proposed"]] == ["c0"]  # the plan's first
    sent = desk.client.post(f"/api/alerts/{alert_id}/dispatch", json={"responder": "s0"},
                            headers=nurse)
    after = {r["ref"]: r for r in desk.client.get(f"/api/alerts/{alert_id}/responders").json()}
    assert after["s0"]["sent"] and not after["c0"]["sent"] and after["c0"]["proposed"]
    assert sent.status_code == 201 and sent.json()["phone"] == "…0010"
    dispatch_id = sent.json()["dispatch_id"]
    arrived = desk.client.post(f"/api/dispatches/{dispatch_id}", json={"step": "arrived"},
                               headers=nurse)
    assert arrived.status_code == 200 and arrived.json()["state"] == "arrived"
    finished = desk.client.post(f"/api/dispatches/{dispatch_id}",
                                json={"step": "cannot_come"}, headers=nurse)
    assert finished.status_code == 409 and "arrived already" in finished.json()["detail"]
    no_outcome = desk.client.post(f"/api/alerts/{alert_id}/resolve", json={"note": "x"},
                                  headers=nurse)
    assert no_outcome.status_code == 422
    not_listed = desk.client.post(f"/api/alerts/{alert_id}/resolve",
                                  json={"outcome": "felt better"}, headers=nurse)
    assert not_listed.status_code == 422
    other = desk.client.post(f"/api/alerts/{alert_id}/resolve", json={"outcome": "other"},
                             headers=nurse)
    assert other.status_code == 409 and "needs a note" in other.json()["detail"]
    done = desk.client.post(f"/api/alerts/{alert_id}/resolve",
                            json={"outcome": "no_injury_helped_up", "note": "helped up"},
                            headers=nurse)
    assert done.status_code == 200 and done.json()["outcome"] == "no_injury_helped_up"
    admin = desk.login("admin")
    actions = [e["action"] for e in desk.client.get("/api/audit", headers=admin).json()
               if e["username"] == "nurse"]
    assert {"take", "dispatch", "dispatch_arrived", "resolve"} <= set(actions)
    report = desk.client.get(f"/api/reports/response?month={_month()}").json()
    assert report["total"]["alarms"] == 1 and report["total"]["answered_60s"] == 1
    assert report["total"]["answer_ms_p50"] == 42_000
    assert report["dispatches"]["arrived"] == 1
    assert {"condition": "fall", "outcome": "no_injury_helped_up", "alarms": 1} in \
        report["outcomes"]
    (label,) = desk.client.get(f"/api/reports/labels?month={_month()}").json()
    assert (label["alert_id"], label["label"], label["outcome"]) == \
        (alert_id, "confirmed", "no_injury_helped_up")
    assert label["readings_from_ms"] < label["opened_ms"] < label["readings_to_ms"]
    rows = list(csv.DictReader(io.StringIO(
        desk.client.get(f"/api/reports/response.csv?month={_month()}").text)))
    assert [(r["operator"], r["answered"], r["answer_ms_p50"]) for r in rows] == \
        [("(all)", "1", "42000"), ("nurse", "1", "42000")]


def test_signing_out_gives_the_alarms_back_to_the_queue(desk: Desk) -> None:
    alert_id = desk.fall()
    nurse = desk.login("nurse")
    assert desk.client.post(f"/api/alerts/{alert_id}/take", json={},
                            headers=nurse).status_code == 200
    assert desk.client.post("/api/logout", headers=nurse).status_code == 204
    alert = desk.db.alerts.get(alert_id)
    assert alert is not None and alert.owner is None and alert.state.value == "open"
    admin = desk.login("admin")
    assert desk.client.get(f"/api/alerts/{alert_id}").json()["owner"] is None
    handed = desk.client.post(f"/api/alerts/{alert_id}/assign", json={"to": "nurse"},
                              headers=admin)
    assert handed.status_code == 200 and handed.json()["owner"] == "nurse"
    nobody = desk.client.post(f"/api/alerts/{alert_id}/assign", json={"to": "viewer"},
                              headers=admin)
    assert nobody.status_code == 409
    timeline = [e["what"] for e in desk.client.get(f"/api/alerts/{alert_id}/timeline").json()]
    assert timeline[-3:] == ["taken", "returned", "reassigned"]


def test_a_request_is_entered_by_a_nurse_and_never_by_a_viewer(desk: Desk) -> None:
    viewer = desk.login("viewer")
    body = {"type": "request_meal", "note": "lunch", "wanted_ms": T0 + 3_600_000}
    assert desk.client.post("/api/residents/res-00000/requests", json=body,
                            headers=viewer).status_code == 403
    types = desk.client.get("/api/request-types").json()["site-000"]
    assert {"type": "request_meal", "zh": "送餐服务", "en": "meal"} in types
    nurse = desk.login("nurse")
    made = desk.client.post("/api/residents/res-00000/requests", json=body, headers=nurse)
    assert made.status_code == 201
    assert (made.json()["condition"], made.json()["state"], made.json()["severity"]) == \
        ("request_meal", "open", "info")
    again = desk.client.post("/api/residents/res-00000/requests", json=body, headers=nurse)
    assert again.status_code == 409 and "open_already" in again.json()["detail"]
    not_a_request = desk.client.post("/api/residents/res-00000/requests",
                                     json={"type": "fall"}, headers=nurse)
    assert not_a_request.status_code == 409
    assert desk.client.post("/api/residents/nobody/requests", json=body,
                            headers=nurse).status_code == 404
    admin = desk.login("admin")
    assert any(e["action"] == "request" and e["target"] == "res-00000"
               for e in desk.client.get("/api/audit", headers=admin).json())


def test_the_report_shows_the_gateways_whose_test_alarm_arrived_every_day(desk: Desk) -> None:
    """The link proof: a gateway with a test alarm missed in the month is one whose test
    did not arrive every day; the share counts the gateways of the sites the user sees."""
    desk.login("nurse")
    empty = desk.client.get(f"/api/reports/response?month={_month()}").json()
    assert empty["link_tests"] == {"gateways": 2, "every_day": 2, "share": 1.0}
    desk.core.handle([Signal(Condition.LINK_TEST_MISSED, "gw-00001", True, T0, "site-000",
                             "gw-00001", "the daily test alarm due at 03:17 UTC did not "
                             "arrive")])
    report = desk.client.get(f"/api/reports/response?month={_month()}").json()
    assert report["link_tests"] == {"gateways": 2, "every_day": 1, "share": 0.5}
    assert report["total"]["alarms"] == 0  # a link fault is the desk's warning, no alarm


def test_an_sos_the_resident_cancelled_is_not_counted_as_unanswered(desk: Desk) -> None:
    desk.login("nurse")
    desk.core.handle([Signal(Condition.SOS, "res-00001", True, T0, "site-000", "gw-00001",
                             "sos", "sos-button")])
    desk.clock.advance(20)
    desk.core.handle([Signal(Condition.SOS, "res-00001", False, T0 + 20_000, "site-000",
                             "gw-00001", "cancelled by the resident", "sos-button",
                             cancelled=True)])
    report = desk.client.get(f"/api/reports/response?month={_month()}").json()
    assert report["total"]["alarms"] == 0
    assert {"condition": "sos", "outcome": "cancelled_by_resident", "alarms": 1} in \
        report["outcomes"]
    listed = {o["outcome"] for o in desk.client.get("/api/outcomes").json()}
    assert "cancelled_by_resident" not in listed and "resident_fine_false_alarm" in listed
