"""A care home's rounds, duty and handover through the API, on a fake clock: a round with a
room not looked in on is one warning, ended by the late mark; the round record exports with
what was missed; a handover lists the shift and, accepted by the next nurse, hands over the
alarms the outgoing one still has, on their timelines; alarms waiting with nobody on duty
warn whoever supervises the site. Refusals carry their reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import registry as registry_module
from alerts.duty import DutySweep
from alerts.model import AlertState, Condition, Outcome, Signal
from alerts.rounds import RoundSweep
from dashboard.accounts.model import Role
from tests.dashboard.test_api import PASSWORD, Desk
from tests.support.readings import T0
from tests.support.registries import edited_sample, night_rounds

RESIDENTS = ("res-00000", "res-00001")
H = 3600


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    """The sample care home (site-000, Shanghai) with three shifts and night rounds every
    2 h; both residents high risk. The clock at 08:00 local, a shift's start."""
    monkeypatch.setattr(registry_module, "SAMPLE", edited_sample(tmp_path, night_rounds))
    d = Desk(tmp_path)
    d.accounts.create_user("nurse-2", PASSWORD, Role.NURSE, T0, ("site-000",))
    d.accounts.create_user("nurse-far", PASSWORD, Role.NURSE, T0, ("site-001",))
    yield d
    d.client.close()
    d.store.close()
    d.accounts.close()
    d.db.close()


def _sweep(desk: Desk, sweep: RoundSweep | DutySweep) -> list[tuple[Condition, str, bool]]:
    signals = sweep.sweep(desk.registry, desk.db, RESIDENTS, desk.clock.now_ms())
    desk.core.handle(signals)
    return [(s.condition, s.detail, s.active) for s in signals]


def _to(desk: Desk, hours: float) -> None:
    """The clock on to ``hours`` after 08:00 local on the first day."""
    desk.clock.advance((T0 + hours * H * 1000 - desk.clock.now_ms()) / 1000)


def test_a_round_with_a_room_not_looked_in_on_is_one_warning_ended_by_the_mark(
        desk: Desk) -> None:
    sweep = RoundSweep()
    assert _sweep(desk, sweep) == []  # (the plan is judged from now)
    _to(desk, 14)  # 22:00: the first round
    headers = desk.login("nurse")
    now = desk.client.get("/api/rounds/site-000").json()["current"]
    assert [r["room"] for r in now["rooms"]] == ["room-101", "room-102"]
    for room, how in (("room-101", "tap"), ("room-102", "scan")):
        answer = desk.client.post(f"/api/rounds/site-000/rooms/{room}", headers=headers,
                                  json={"how": how})
        assert answer.status_code == 201 and answer.json()["marked"]
    _to(desk, 14.6)
    assert _sweep(desk, sweep) == []
    _to(desk, 16)  # 00:00: room-102 is not looked in on
    headers = desk.login("nurse")
    desk.client.post("/api/rounds/site-000/rooms/room-101", headers=headers, json={})
    _to(desk, 16.45)
    assert _sweep(desk, sweep) == []
    _to(desk, 16.5)
    assert _sweep(desk, sweep) == [
        (Condition.ROUND_MISSED, "round of 00:00: room-102 not looked in on", True)]
    for minutes in range(1, 4):
        desk.clock.advance(60)
        assert _sweep(desk, sweep) == [], minutes
    [warning] = desk.db.alerts.find(open_only=True)
    assert (warning.condition, warning.subject) == (Condition.ROUND_MISSED, "site-000")
    desk.client.post("/api/rounds/site-000/rooms/room-102", headers=headers, json={})
    desk.clock.advance(60)
    assert _sweep(desk, sweep) == [(Condition.ROUND_MISSED, "round done", False)]
    _to(desk, 20.6)  # the 02:00 and 04:00 rounds not done at all: one warning, updated
    assert [c for c, _, active in _sweep(desk, sweep) if active] == [Condition.ROUND_MISSED]
    report = desk.client.get("/api/reports/response?month=2026-01").json()
    # 22:00 done; 00:00 late (room-102); 02:00 and 04:00 not done (the 06:00 end: none)
    assert report["rounds"] == {"due": 4, "on_time": 1, "share": 0.25}
    csv = desk.client.get("/api/rounds/site-000/export?month=2026-01").text.splitlines()
    assert csv[0] == "slot_ms,room,done_ms,nurse,how"
    assert [line.split(",")[-1] for line in csv[1:]] == [
        "tap", "scan", "tap", "tap", "missed", "missed", "missed", "missed"]


def test_rounds_refuse_what_is_not_on_them(desk: Desk) -> None:
    _to(desk, 14)
    headers = desk.login("nurse")
    answer = desk.client.post("/api/rounds/site-000/rooms/room-999", headers=headers, json={})
    assert answer.status_code == 409 and "not on the rounds" in answer.json()["detail"]
    _to(desk, 23)  # 07:00: no round is due
    headers = desk.login("nurse")
    answer = desk.client.post("/api/rounds/site-000/rooms/room-101", headers=headers, json={})
    assert answer.status_code == 409 and "no round is due" in answer.json()["detail"]
    headers = desk.login("nurse-far")  # another site's nurse: no such site for them
    for path in ("/api/rounds/site-000", "/api/rounds/site-000/export", "/api/duty/site-000",
                 "/api/handover/site-000"):
        assert desk.client.get(path).status_code == 404, path
    for path in ("/api/duty/site-000/on", "/api/handover/site-000",
                 "/api/handover/site-000/1/accept"):
        assert desk.client.post(path, headers=headers, json={}).status_code == 404, path
    report = desk.client.get("/api/reports/response").json()  # none of site-000's figures
    assert report["rounds"]["due"] == 0 and report["handovers"]["written"] == 0
    assert desk.client.post("/api/rounds/site-000/rooms/room-101", headers=headers,
                            json={}).status_code == 404
    headers = desk.login("viewer")
    assert desk.client.post("/api/rounds/site-000/rooms/room-101", headers=headers,
                            json={}).status_code == 403


def test_an_accepted_handover_hands_the_outgoing_nurse_s_alarms_on(desk: Desk) -> None:
    headers = desk.login("nurse")
    assert desk.client.post("/api/duty/site-000/on", headers=headers).json() == {
        "on_duty": ["nurse"]}
    _to(desk, 3)
    desk.core.handle([Signal(Condition.FALL, "res-00001", True, desk.clock.now_ms(),
                             "site-000", "gw-00001", "fall reported", "pendant"),
                      Signal(Condition.SOS, "res-00000", True, desk.clock.now_ms(),
                             "site-000", "gw-00000", "sos", "sos-button")])
    fall, sos = (desk.db.alerts.unresolved(c, r).alert_id  # type: ignore[union-attr]
                 for c, r in ((Condition.FALL, "res-00001"), (Condition.SOS, "res-00000")))
    assert desk.client.post(f"/api/alerts/{fall}/take", headers=headers,
                            json={"note": "on my way"}).status_code == 200
    desk.core.resolve(sos, "nurse", "pressed by mistake, fine", outcome=Outcome.FALSE_ALARM)
    _to(desk, 7.9)  # 15:54, the shift ends at 16:00
    headers = desk.login("nurse")
    view = desk.client.get("/api/handover/site-000").json()
    assert view["shift_start_ms"] == T0 and view["next_shift_ms"] == T0 + 8 * H * 1000
    assert [(a["condition"], a["outcome"]) for a in view["alarms"]] == [
        ("sos", Outcome.FALSE_ALARM.value)]
    assert [(a["condition"], a["owner"]) for a in view["open"]] == [("fall", "nurse")]
    assert [(r["resident_id"], r["notes"]) for r in view["residents_with_notes"]] == [
        ("res-00000", ["pressed by mistake, fine"]), ("res-00001", ["on my way"])]
    written = desk.client.post("/api/handover/site-000", headers=headers,
                               json={"notes": "room-102 to be watched tonight"})
    assert written.status_code == 201
    handover_id = written.json()["handover_id"]
    own = desk.client.post(f"/api/handover/site-000/{handover_id}/accept", headers=headers,
                           json={})
    assert own.status_code == 409 and "next nurse" in own.json()["detail"]
    headers = desk.login("nurse-2")
    assert desk.client.get("/api/duty/site-000").json()["pending"][0]["notes"] == \
        "room-102 to be watched tonight"
    accepted = desk.client.post(f"/api/handover/site-000/{handover_id}/accept",
                                headers=headers, json={})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["alarms_moved"] == [fall] and accepted.json()["on_duty"] == [
        "nurse-2"]
    alert = desk.db.alerts.get(fall)
    assert alert is not None and alert.owner == "nurse-2" and \
        alert.state is AlertState.ACKNOWLEDGED
    assert desk.client.post(f"/api/handover/site-000/{handover_id}/accept", headers=headers,
                            json={}).status_code == 409
    report = desk.client.get("/api/reports/response?month=2026-01").json()
    assert report["handovers"] == {"written": 1, "accepted": 1, "share": 1.0}
    assert ("nurse-2", "handover_accept", "site-000") in [
        (e.username, e.action, e.target) for e in desk.accounts.audit_log()]


def test_alarms_waiting_with_nobody_on_duty_are_a_warning_until_someone_signs_on(
        desk: Desk) -> None:
    sweep = DutySweep()
    assert _sweep(desk, sweep) == []  # nobody on duty, but nothing waits
    desk.core.handle([Signal(Condition.FALL, "res-00001", True, T0, "site-000", "gw-00001",
                             "fall reported", "pendant")])
    desk.clock.advance(60)
    assert _sweep(desk, sweep) == [
        (Condition.NOBODY_ON_DUTY, "1 alarms waiting, nobody on duty", True)]
    desk.clock.advance(60)
    assert _sweep(desk, sweep) == []
    headers = desk.login("nurse-2")
    desk.client.post("/api/duty/site-000/on", headers=headers)
    desk.clock.advance(60)
    assert _sweep(desk, sweep) == [(Condition.NOBODY_ON_DUTY, "someone on duty", False)]
