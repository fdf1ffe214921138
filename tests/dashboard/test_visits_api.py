"""The visit register through the API: visits due by risk tier and the organisation's
intervals; an overdue visit raised once on the desk and ended by the visit; "not found at
home" an alarm; a visit for a discharged, a care-home or another organisation's resident
refused with its reason; every visit audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import registry as registry_module
from alerts import policy
from alerts.model import AlertState, Condition, Outcome, Severity, Signal
from alerts.visits import GRACE_DAYS, VisitSweep
from dashboard.accounts.model import Role
from telemetry.clock import DAY_MS
from tests.dashboard.test_api import PASSWORD, Desk
from tests.support.readings import T0
from tests.support.registries import edited_sample, moved_home

ALL = ("res-00000", "res-00001", "res-00002")


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    """site-000 (a care home, org-b) keeps res-00000; site-001 (homes in community org-a,
    weekly for high risk, 40 days for the rest) has res-00001 (high risk) and res-00002;
    nurse-a sees site-001 only, nurse-b site-000 only."""
    def two_communities(data: dict[str, Any]) -> None:
        moved_home(data)
        data["orgs"] = [{"org_id": "org-a", "name": "Community A",
                         "visit_days": {"high": 7, "standard": 40, "low": 90}},
                        {"org_id": "org-b", "name": "Community B"}]
        data["sites"][0]["org"] = "org-b"
        data["sites"][1]["org"] = "org-a"
        data["residents"][1]["risk_tier"] = "high"
        data["residents"][1]["visitor"] = "Test Community Worker"
        data["residents"].append({"resident_id": "res-00002", "site_id": "site-001",
                                  "room": "flat-3", "display_name": "Test Resident C"})
    monkeypatch.setattr(registry_module, "SAMPLE", edited_sample(tmp_path, two_communities))
    d = Desk(tmp_path)
    d.accounts.create_user("nurse-a", PASSWORD, Role.NURSE, T0, ("site-001",))
    d.accounts.create_user("nurse-b", PASSWORD, Role.NURSE, T0, ("site-000",))
    yield d
    d.client.close()
    d.store.close()
    d.accounts.close()
    d.db.close()


def _sweep(desk: Desk, sweep: VisitSweep) -> list[tuple[Condition, str, bool]]:
    signals = sweep.sweep(desk.registry, desk.db, ALL, desk.clock.now_ms())
    desk.core.handle(signals)
    return [(s.condition, s.subject, s.active) for s in signals]


def test_visits_fall_due_by_tier_and_the_organisation_s_interval(desk: Desk) -> None:
    desk.login("nurse-a")
    due = desk.client.get("/api/visits/due").json()
    # the care home's resident has rounds, not visits; the plan runs from its first day
    assert [(d["resident_id"], (d["due_ms"] - T0) // DAY_MS, d["overdue"]) for d in due] == [
        ("res-00001", 7, False), ("res-00002", 40, False)]
    assert due[0]["visitor"] == "Test Community Worker" and due[0]["community"] == "org-a"
    desk.client.post("/api/logout")
    desk.login("nurse-b")
    assert desk.client.get("/api/visits/due").json() == []  # nothing beside its own
    assert desk.client.get("/api/calls/today").json() == []


def test_an_overdue_visit_is_raised_once_and_the_visit_ends_it(desk: Desk) -> None:
    sweep = VisitSweep()
    assert _sweep(desk, sweep) == []
    desk.clock.advance(7 * 86_400 - 60)
    assert _sweep(desk, sweep) == []
    desk.clock.advance(61)  # due: its visitor reminded (the policy's visitor step)
    assert _sweep(desk, sweep) == [(Condition.VISIT_DUE, "res-00001", True)]
    assert [(s.channel.value, s.to.value) for s in policy.load(policy.SAMPLE).for_site(
        "site-001").steps_for(Condition.VISIT_DUE)] == [("sms", "visitor")]
    desk.clock.advance(GRACE_DAYS * 86_400 - 60)
    assert _sweep(desk, sweep) == []  # overdue, within the grace period
    desk.clock.advance(61)
    assert _sweep(desk, sweep) == [(Condition.VISIT_OVERDUE, "res-00001", True)]
    for _ in range(3):  # every minute after: nothing more
        desk.clock.advance(60)
        assert _sweep(desk, sweep) == []
    [warning] = desk.db.alerts.find(open_only=True, conditions=(Condition.VISIT_OVERDUE,))
    assert (warning.condition, warning.severity) == (Condition.VISIT_OVERDUE,
                                                     Severity.WARNING)
    assert policy.load(policy.SAMPLE).for_site("site-001").steps_for(
        Condition.VISIT_OVERDUE) == []  # the desk's job, nobody texted
    headers = desk.login("nurse-a")
    answer = desk.client.post("/api/residents/res-00001/visits", headers=headers,
                              json={"method": "home", "found": "well", "note": "tea"})
    assert answer.status_code == 201, answer.text
    assert desk.db.alerts.get(warning.alert_id).state is AlertState.RESOLVED  # at once
    assert desk.db.alerts.find(open_only=True) == []  # the reminder too
    desk.clock.advance(60)
    assert _sweep(desk, sweep) == []
    # a restarted node reads what is open and does not raise it again
    desk.clock.advance(7 * 86_400 + GRACE_DAYS * 86_400)
    assert _sweep(desk, sweep) == [(Condition.VISIT_DUE, "res-00001", True),
                                   (Condition.VISIT_OVERDUE, "res-00001", True)]
    desk.clock.advance(60)
    assert _sweep(desk, VisitSweep()) == []
    desk.login("nurse-a")  # (the session of ten days ago has lapsed)
    due = {d["resident_id"]: d for d in desk.client.get("/api/visits/due").json()}
    assert due["res-00001"]["warned"] and due["res-00001"]["overdue"]
    assert ("nurse-a", "visit", "res-00001") in [
        (e.username, e.action, e.target) for e in desk.accounts.audit_log()]


def test_not_found_at_home_is_an_alarm_with_the_normal_escalation(desk: Desk) -> None:
    headers = desk.login("nurse-a")
    answer = desk.client.post("/api/residents/res-00002/visits", headers=headers,
                              json={"method": "home", "found": "not_found",
                                    "note": "no answer at the door"})
    assert answer.status_code == 201
    [alarm] = desk.db.alerts.find(open_only=True)
    assert (alarm.condition, alarm.subject, alarm.severity) == (
        Condition.VISIT_NOT_FOUND, "res-00002", Severity.ALARM)
    assert alarm.detail == "not found at home by nurse-a"
    steps = policy.load(policy.SAMPLE).for_site("site-001").steps_for(
        Condition.VISIT_NOT_FOUND)
    assert [(s.channel.value, s.to.value) for s in steps] == [("sms", "family")]
    # and a not-found visit is no visit: it is still due
    due = {d["resident_id"]: d for d in desk.client.get("/api/visits/due").json()}
    assert due["res-00002"]["last_ms"] is None


def test_a_visit_that_cannot_be_is_refused_with_its_reason(desk: Desk) -> None:
    headers = desk.login("admin")
    visit = {"method": "phone", "found": "well"}
    home = desk.client.post("/api/residents/res-00000/visits", headers=headers, json=visit)
    assert home.status_code == 409 and "care home" in home.json()["detail"]
    assert desk.client.post("/api/registry/residents/res-00002/discharge",
                            headers=headers).status_code == 200
    gone = desk.client.post("/api/residents/res-00002/visits", headers=headers, json=visit)
    assert gone.status_code == 409 and "discharged" in gone.json()["detail"]
    bad = desk.client.post("/api/residents/res-00001/visits", headers=headers,
                           json={"method": "pigeon", "found": "well"})
    assert bad.status_code == 422
    desk.client.post("/api/logout")
    # another organisation's nurse: as if there were no such resident
    headers = desk.login("nurse-b")
    other = desk.client.post("/api/residents/res-00001/visits", headers=headers, json=visit)
    assert other.status_code == 404
    assert desk.client.get("/api/residents/res-00001/visits").status_code == 404
    desk.client.post("/api/logout")
    headers = desk.login("viewer")
    assert desk.client.post("/api/residents/res-00001/visits", headers=headers,
                            json=visit).status_code == 403
    assert desk.db.visits.of("res-00001") == []


def test_the_month_s_visit_rate_per_community_on_the_report(desk: Desk) -> None:
    desk.clock.advance(86_400)
    headers = desk.login("nurse-a")
    assert desk.client.post("/api/residents/res-00001/visits", headers=headers,
                            json={"method": "video", "found": "well"}).status_code == 201
    assert desk.client.post("/api/residents/res-00002/visits", headers=headers,
                            json={"method": "home", "found": "not_found"}).status_code == 201
    report = desk.client.get("/api/reports/response").json()
    assert report["visits"] == {
        "community": "", "residents": 2, "visited": 1, "share": 0.5, "overdue": 0,
        "communities": [{"community": "org-a", "residents": 2, "visited": 1, "share": 0.5}]}
    desk.client.post("/api/logout")
    desk.login("nurse-b")  # the care home's: none of org-a's visits or residents
    report = desk.client.get("/api/reports/response").json()
    assert report["visits"]["residents"] == 0 and report["visits"]["communities"] == []


def test_a_major_change_brings_the_visit_to_within_a_day(desk: Desk) -> None:
    """An injury closed on the desk, or a hospital discharge entered: a visit within 24 h,
    on the desk at once if not made by then; the visit that follows ends it."""
    sweep = VisitSweep()
    _sweep(desk, sweep)
    desk.clock.advance(86_400)
    desk.core.handle([Signal(Condition.FALL, "res-00002", True, desk.clock.now_ms(),
                             "site-001", "", "fall reported", "pendant")])
    fall = desk.db.alerts.unresolved(Condition.FALL, "res-00002")
    assert fall is not None
    desk.core.resolve(fall.alert_id, "nurse-a", "to hospital", outcome=Outcome.INJURED_HOSPITAL)
    desk.login("nurse-a")
    due = {d["resident_id"]: d for d in desk.client.get("/api/visits/due").json()}
    assert due["res-00002"]["due_ms"] == desk.clock.now_ms() + DAY_MS  # not in 39 days
    assert due["res-00002"]["why"] == "injured (injured_hospital)"
    desk.clock.advance(86_400 + 60)
    assert _sweep(desk, sweep) == [(Condition.VISIT_DUE, "res-00002", True),
                                   (Condition.VISIT_OVERDUE, "res-00002", True)]  # no grace
    headers = desk.login("nurse-a")
    assert desk.client.post("/api/residents/res-00002/visits", headers=headers,
                            json={"method": "home", "found": "well"}).status_code == 201
    # back from hospital, entered on the desk: again within a day
    answer = desk.client.post("/api/residents/res-00002/visits/request", headers=headers,
                              json={"reason": "hospital_discharge", "note": "hip"})
    assert answer.status_code == 201
    assert answer.json()["due_ms"] == desk.clock.now_ms() + DAY_MS
    care_home = desk.client.post("/api/residents/res-00000/visits/request", headers=headers,
                                 json={"reason": "hospital_discharge"})
    assert care_home.status_code == 404  # (not a resident nurse-a sees)


def test_wellness_calls_of_the_day_list_those_visited_by_phone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def three_at_home(data: dict[str, Any]) -> None:
        data["residents"] += [
            {"resident_id": f"res-0001{i}", "site_id": "site-001", "room": f"flat-{i}",
             "display_name": f"Test Resident {i}", "visit_methods": methods,
             "risk_tier": "high"}
            for i, methods in enumerate((["phone"], ["home"], ["phone", "home"]))]
    monkeypatch.setattr(registry_module, "SAMPLE", edited_sample(tmp_path, three_at_home))
    desk = Desk(tmp_path)
    try:
        VisitSweep().sweep(desk.registry, desk.db, ["res-00010", "res-00011", "res-00012"],
                           T0 - 6 * DAY_MS)  # their plans began six days ago: due tomorrow
        desk.db.visits.plan_from("res-00012", T0 - 10 * DAY_MS)  # due three days ago
        desk.login("nurse")
        calls = desk.client.get("/api/calls/today").json()
        assert [c["resident_id"] for c in calls] == ["res-00012"]
        desk.clock.advance(86_400)
        desk.login("nurse")  # (a new day's session)
        calls = desk.client.get("/api/calls/today").json()
        assert [c["resident_id"] for c in calls] == ["res-00012", "res-00010"]
    finally:
        desk.client.close()
        desk.store.close()
        desk.accounts.close()
        desk.db.close()
