"""Data-protection requests: everything kept of one resident exported, and a discharged
resident's data erased after the retention period; by an admin of their site only, and
audited."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.store.visits import Found, Method
from dashboard.accounts.model import Role
from telemetry.kinds import Kind
from tests.dashboard.test_api import PASSWORD, Desk
from tests.support.readings import T0, reading


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk(tmp_path)
    d.accounts.create_user("admin-b", PASSWORD, Role.ADMIN, T0, ("site-001",))
    yield d
    d.client.close()
    d.store.close()
    d.accounts.close()
    d.db.close()


def test_an_admin_exports_everything_kept_of_one_resident_and_it_is_audited(
        desk: Desk) -> None:
    desk.store.write([reading(Kind.HEART_RATE, 70 + i, T0 - i * 60_000) for i in range(30)])
    alert_id = desk.fall("res-00000")
    headers = desk.login("admin")
    assert desk.client.post(f"/api/alerts/{alert_id}/take", json={"note": "on it"},
                            headers=headers).status_code == 200
    desk.db.visits.add("res-00000", "site-000", T0, "visitor-1", Method.PHONE, Found.WELL,
                       "fine, cooking")
    got = desk.client.get("/api/registry/residents/res-00000/export")
    assert got.status_code == 200, got.text
    assert "attachment" in got.headers["content-disposition"]
    data = got.json()
    resident = data["resident"]
    assert (resident["display_name"], resident["medical_notes"]) == ("Test Resident A",
                                                                   "demo only")
    assert resident["contacts"][0]["phone"] == "+86000000000000"
    assert resident["key_safe"] == "(set)" and '"0000"' not in got.text  # never the code
    assert {d["device_id"] for d in data["devices"]} >= {"front-door", "bed-vitals"}
    (alarm,) = data["alerts"]
    assert alarm["alert_id"] == alert_id and alarm["condition"] == "fall"
    assert any(e["what"] == "taken" for e in alarm["timeline"]), alarm["timeline"]
    assert [(v["method"], v["note"]) for v in data["visits"]] == [("phone", "fine, cooking")]
    hourly = data["readings_hourly"]["heart_rate"]
    assert sum(b["samples"] for b in hourly) == 30
    log = [(e.username, e.action, e.target) for e in desk.accounts.audit_log()]
    assert ("admin", "registry_export", "resident res-00000") in log


def test_only_an_admin_of_the_resident_s_site_may_export(desk: Desk) -> None:
    for user, answer in (("nurse", 403), ("viewer", 403), ("admin-b", 404)):
        desk.login(user)
        assert desk.client.get("/api/registry/residents/res-00000/export").status_code \
            == answer, user
    assert not [e for e in desk.accounts.audit_log() if e.action == "registry_export"]


def _resolved_fall(desk: Desk, resident: str, headers: dict[str, str]) -> int:
    alert_id = desk.fall(resident)
    assert desk.client.post(f"/api/alerts/{alert_id}/take", json={"note": "Test Family A "
                            "called back"}, headers=headers).status_code == 200
    assert desk.client.post(f"/api/alerts/{alert_id}/resolve", headers=headers, json={
        "note": "helped up by Test Family A", "outcome": "test"}).status_code == 200
    return alert_id


def test_a_discharged_resident_is_erased_after_the_retention_period_counts_staying(
        desk: Desk) -> None:
    desk.store.write([reading(Kind.HEART_RATE, 70, T0 - 60_000),
                      reading(Kind.HEART_RATE, 71, T0 - 60_000, resident_id="res-00001",
                              device_id="wristband", gateway_id="gw-00001")])
    headers = desk.login("admin")
    alert_id = _resolved_fall(desk, "res-00000", headers)
    desk.db.visits.add("res-00000", "site-000", T0, "visitor-1", Method.HOME, Found.CONCERNS,
                       "knee painful")
    here = datetime.datetime.fromtimestamp(T0 / 1000, ZoneInfo("Asia/Shanghai"))
    report = f"/api/reports/response?month={here.year:04d}-{here.month:02d}"
    month = desk.client.get(report).json()
    assert month["total"]["alarms"] == 1
    assert desk.client.post("/api/registry/residents/res-00000/discharge",
                            headers=headers).status_code == 200
    erase = "/api/registry/discharged/res-00000/erase"
    early = desk.client.post(erase, headers=headers)
    assert early.status_code == 409 and "90 days" in early.json()["detail"]
    desk.clock.advance(91 * 86_400)
    headers = desk.login("admin")  # signed in again, three months on
    done = desk.client.post(erase, headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["alarms_anonymised"] == 1
    # the alarm is still counted, but says nothing of who it was or what was written
    alarm = desk.client.get(f"/api/alerts/{alert_id}").json()
    assert (alarm["subject"], alarm["note"], alarm["detail"]) == ("erased", "", "")
    assert all(e["detail"] == "" for e in
               desk.client.get(f"/api/alerts/{alert_id}/timeline").json())
    assert "Test Family A" not in desk.client.get(f"/api/alerts/{alert_id}").text
    assert desk.client.get(report).json()["total"] == month["total"]
    span = (Kind.HEART_RATE, T0 - 3_600_000, T0 + 1, 3_600_000)
    assert desk.store.buckets("res-00000", *span) == []
    assert desk.store.buckets("res-00001", *span) != []  # no one else's
    # the visit stays as a count, without whom, by whom or what was written
    [visit] = desk.db.visits.between(0, T0 + 1)
    assert (visit.resident_id, visit.visitor, visit.note, visit.found) == (
        "erased", "", "", "concerns")
    (row,) = [d for d in desk.client.get("/api/registry/discharged").json()
              if d["resident_id"] == "res-00000"]
    assert row["erased_ms"] == desk.clock.now_ms()
    assert desk.client.post(erase, headers=headers).status_code == 409  # once
    log = [(e.username, e.action, e.target) for e in desk.accounts.audit_log()]
    assert ("admin", "registry_erase", "resident res-00000") in log


def test_an_erase_is_refused_to_others_and_while_an_alarm_is_open(desk: Desk) -> None:
    headers = desk.login("admin")
    desk.fall("res-00001")  # left open
    assert desk.client.post("/api/registry/residents/res-00001/discharge",
                            headers=headers).status_code == 200
    desk.clock.advance(91 * 86_400)
    erase = "/api/registry/discharged/res-00001/erase"
    for user, answer in (("nurse", 403), ("admin-b", 404)):
        assert desk.client.post(erase, headers=desk.login(user)).status_code == answer, user
    refused = desk.client.post(erase, headers=desk.login("admin"))
    assert refused.status_code == 409 and "unresolved" in refused.json()["detail"]
    assert not [e for e in desk.accounts.audit_log() if e.action == "registry_erase"]
