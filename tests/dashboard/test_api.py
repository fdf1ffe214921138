"""The dashboard's REST API with a real alert core and embedded store behind it: sign-in,
roles, CSRF, throttling, audit, alerts, residents and readings."""

from __future__ import annotations

from pathlib import Path

import msgspec
from fastapi.testclient import TestClient

import registry as registry_module
from alerts.core import AlertCore
from alerts.detectors.health import HealthMonitor
from alerts.model import Condition, Signal
from alerts.policy import Policies, PolicyFile
from alerts.store import AlertStore
from alerts.store.queries import StoreQueries
from dashboard.accounts.model import Role
from dashboard.accounts.store import Accounts
from dashboard.app import alert_listener, create_app
from dashboard.context import DashboardContext
from ingest.store.sqlite import SqliteStore
from registry.commands import CommandStore
from registry.db import RegistryStore, open_registry
from telemetry.clock import FakeClock
from telemetry.kinds import Kind
from telemetry.parts import ZIGBEE_COORDINATOR
from tests.alerts.conftest import POLICY
from tests.support.readings import T0, reading

PASSWORD = "correct horse battery"


class Desk:
    def __init__(self, tmp: Path) -> None:
        self.clock = FakeClock(T0)
        self.registry_db = RegistryStore(tmp / "registry.db")
        self.registry = open_registry(self.registry_db, registry_module.SAMPLE)
        self.db = AlertStore(tmp / "alerts.db")
        self.core = AlertCore(self.db, self.registry,
                              Policies(msgspec.convert(POLICY, PolicyFile)), self.clock)
        self.accounts = Accounts(tmp / "accounts.db")
        self.store = SqliteStore(tmp / "store.db")
        for name, role in (("admin", Role.ADMIN), ("nurse", Role.NURSE),
                           ("viewer", Role.VIEWER)):
            self.accounts.create_user(name, PASSWORD, role, T0)
        self.commands = CommandStore(tmp / "registry.db")  # as a desk has it
        self.ctx = DashboardContext(self.accounts, self.registry, self.core,
                                    StoreQueries(self.db),
                                    self.core.policies, self.clock, store=self.store,
                                    registry_db=self.registry_db, commands=self.commands)
        self.core.listeners.append(alert_listener(self.ctx))
        self.client = TestClient(create_app(self.ctx))

    def login(self, name: str) -> dict[str, str]:
        response = self.client.post("/api/login", json={"username": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"X-CSRF-Token": response.json()["csrf"]}

    def fall(self, resident: str = "res-00001") -> int:
        self.core.handle([Signal(Condition.FALL, resident, True, T0, "site-000", "gw-00001",
                                 "fall reported", "pendant")])
        return self.db.alerts.find()[0].alert_id


def test_no_resident_data_without_sign_in(desk: Desk) -> None:
    for path in ("/api/alerts", "/api/residents", "/api/residents/res-00000", "/api/sites",
                 "/api/events", "/api/residents/res-00000/readings?kind=heart_rate"
                 "&start_ms=0&end_ms=1"):
        assert desk.client.get(path).status_code == 401, path
    assert desk.client.get("/").status_code == 200  # the page itself (sign-in form)
    assert "/api/alerts" in desk.client.get("/openapi.json").json()["paths"]


def test_wrong_password_is_refused_and_repeated_failures_are_throttled(desk: Desk) -> None:
    for _ in range(5):
        response = desk.client.post("/api/login", json={"username": "nurse", "password": "x"})
        assert response.status_code == 401
    response = desk.client.post("/api/login", json={"username": "nurse", "password": PASSWORD})
    assert response.status_code == 429  # even the right password waits now


def test_the_session_cookie_is_httponly_and_strict(desk: Desk) -> None:
    response = desk.client.post("/api/login", json={"username": "nurse", "password": PASSWORD})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_a_nurse_acknowledges_with_a_note_and_it_is_audited(desk: Desk) -> None:
    alert_id = desk.fall()
    headers = desk.login("nurse")
    alerts = desk.client.get("/api/alerts?open_only=true").json()
    assert [(a["condition"], a["resident_name"], a["room"]) for a in alerts] == \
        [("fall", "Test Resident B", "room-102")]
    # without the CSRF header a cross-site form cannot act
    refused = desk.client.post(f"/api/alerts/{alert_id}/acknowledge", json={"note": "x"})
    assert refused.status_code == 403
    done = desk.client.post(f"/api/alerts/{alert_id}/acknowledge", json={"note": "on my way"},
                            headers=headers)
    assert done.status_code == 200 and done.json()["acked_by"] == "nurse"
    again = desk.client.post(f"/api/alerts/{alert_id}/acknowledge", json={"note": ""},
                             headers=headers)
    assert again.status_code == 409
    timeline = desk.client.get(f"/api/alerts/{alert_id}/timeline").json()
    assert [e["what"] for e in timeline][-1] == "taken"  # acknowledging is taking it
    admin = desk.login("admin")
    log = desk.client.get("/api/audit", headers=admin).json()
    assert any(e["action"] == "acknowledge" and e["username"] == "nurse"
               and e["detail"] == "on my way" for e in log)


def test_a_viewer_reads_but_cannot_act(desk: Desk) -> None:
    alert_id = desk.fall()
    headers = desk.login("viewer")
    assert desk.client.get("/api/alerts").status_code == 200
    response = desk.client.post(f"/api/alerts/{alert_id}/acknowledge", json={"note": ""},
                                headers=headers)
    assert response.status_code == 403
    assert desk.client.get("/api/audit", headers=headers).status_code == 403
    contacts = desk.client.get("/api/residents/res-00001").json()["contacts"]
    assert contacts[0]["phone"] == "…0001"  # a viewer does not see whole numbers


def test_room_states_at_a_glance(desk: Desk) -> None:
    desk.fall("res-00001")
    desk.core.handle([Signal(Condition.LOW_BATTERY, "gw-00000/front-door", True, T0,
                             "site-000", "gw-00000", "battery 9 %", "front-door")])
    desk.login("viewer")
    states = {r["resident_id"]: r["state"] for r in desk.client.get("/api/residents").json()}
    assert states == {"res-00000": "device_problem", "res-00001": "alarm"}
    desk.core.handle([Signal(Condition.GATEWAY_OFFLINE, "gw-00000", True, T0, "site-000",
                             "gw-00000", "last will")])
    states = {r["resident_id"]: r["state"] for r in desk.client.get("/api/residents").json()}
    assert states["res-00000"] == "offline"


def test_a_gateway_radio_down_puts_every_resident_it_serves_offline(desk: Desk) -> None:
    radio = reading(Kind.AVAILABILITY, 0, T0, device_id=ZIGBEE_COORDINATOR, resident_id=None)
    desk.core.handle(HealthMonitor().observe(radio))
    desk.login("viewer")
    states = {r["resident_id"]: r["state"] for r in desk.client.get("/api/residents").json()}
    assert states == {"res-00000": "offline", "res-00001": "normal"}
    alerts = desk.client.get("/api/alerts", params={"open_only": "true"}).json()
    assert [(a["condition"], a["severity"], a["gateway_id"]) for a in alerts] == [
        ("radio_offline", "warning", "gw-00000")]


def test_readings_come_back_as_buckets_for_charts(desk: Desk) -> None:
    desk.store.write([reading(Kind.HEART_RATE, 60 + i % 10, T0 + i * 5_000)
                      for i in range(720)])  # one hour
    desk.login("viewer")
    data = desk.client.get("/api/residents/res-00000/readings", params={
        "kind": "heart_rate", "start_ms": T0, "end_ms": T0 + 3_600_000, "bucket_s": 600}).json()
    assert data["unit"] == "bpm" and len(data["buckets"]) == 6
    assert all(b["count"] == 120 and b["min"] == 60 and b["max"] == 69
               for b in data["buckets"])
    latest = desk.client.get("/api/residents/res-00000").json()["vitals"]["heart_rate"]
    assert latest["time_ms"] == T0 + 719 * 5_000


def test_a_silence_is_checked_and_audited(desk: Desk) -> None:
    headers = desk.login("nurse")
    bad = desk.client.post("/api/silences", json={"subject": "nobody", "minutes": 30,
                                                  "reason": "x"}, headers=headers)
    assert bad.status_code == 404 and bad.json() == {
        "detail": "no resident, gateway or site 'nobody'"}
    ok = desk.client.post("/api/silences", json={"subject": "res-00001", "minutes": 30,
                                                 "reason": "staff in the room"},
                          headers=headers)
    assert ok.status_code == 201
    listed = desk.client.get("/api/silences").json()
    assert [(x["subject"], x["reason"], x["until_ms"], x["condition"]) for x in listed] == [
        ("res-00001", "staff in the room", T0 + 30 * 60_000, None)]
    desk.fall("res-00001")
    assert desk.client.get("/api/alerts").json()[0]["silenced"] is True


def test_a_fall_or_sos_is_never_silenced_on_a_whole_site_or_gateway(desk: Desk) -> None:
    nurse = desk.login("nurse")
    site_wide = {"subject": "site-000", "minutes": 7 * 24 * 60, "reason": "drill"}
    refused = desk.client.post("/api/silences", json=site_wide, headers=nurse)
    assert refused.status_code == 403  # a nurse does not silence a whole site
    for subject in ("site-000", "gw-00001"):
        for condition in ("fall", "sos"):
            headers = desk.login("admin")
            named = desk.client.post("/api/silences", headers=headers, json={
                **site_wide, "subject": subject, "condition": condition})
            assert named.status_code == 409, (subject, condition)
    admin = desk.login("admin")
    everything = desk.client.post("/api/silences", json=site_wide, headers=admin)
    assert everything.status_code == 201
    assert everything.json()["never_silenced"] == ["fall", "sos"]
    desk.fall("res-00001")  # a fall under a site-wide silence of "all": escalates as usual
    (fall,) = desk.client.get("/api/alerts").json()
    assert fall["silenced"] is False
    desk.core.handle([Signal(Condition.WATER_LEAK, "res-00001", True, T0, "site-000",
                             "gw-00001", "leak", "bathroom-leak")])
    leak = next(a for a in desk.client.get("/api/alerts").json()
                if a["condition"] == "water_leak")
    assert leak["silenced"] is True  # the drill silences the rest
    # on the resident alone, a fall may be silenced (in hospital for a week)
    own = desk.client.post("/api/silences", headers=desk.login("nurse"), json={
        "subject": "res-00000", "condition": "fall", "minutes": 60, "reason": "in hospital"})
    assert own.status_code == 201
    desk.core.handle([Signal(Condition.FALL, "res-00000", True, T0, "site-000", "gw-00000",
                             "fall reported", "pendant")])
    theirs = next(a for a in desk.client.get("/api/alerts").json()
                  if a["subject"] == "res-00000")
    assert theirs["silenced"] is True
    desk.login("admin")
    actions = [e["action"] for e in desk.client.get("/api/audit").json()]
    assert actions.count("silence") == 2


def test_an_admin_changes_a_policy_it_is_saved_audited_and_used(desk: Desk,
                                                                 tmp_path: Path) -> None:
    from alerts import policy as policy_module

    desk.ctx.policy_path = tmp_path / "policy.yaml"
    nurse = desk.login("nurse")
    change = {"steps": {"fall": [{"after_s": 10, "channel": "sms", "to": "family"}]}}
    assert desk.client.put("/api/policies/site-000", json=change,
                           headers=nurse).status_code == 403
    admin = desk.login("admin")
    bad = {"steps": {"no-such": [{"after_s": 10, "channel": "sms", "to": "family"}]}}
    assert desk.client.put("/api/policies/site-000", json=bad, headers=admin).status_code == 422
    webhook = {"steps": {"fall": [{"after_s": 10, "channel": "webhook", "to": "family"}]}}
    refused = desk.client.put("/api/policies/site-000", json=webhook, headers=admin)
    assert refused.status_code == 409 and "family contacts are reached by" in \
        refused.json()["detail"]
    done = desk.client.put("/api/policies/site-000", json=change, headers=admin)
    assert done.status_code == 200 and done.json()["steps"]["fall"][0]["after_s"] == 10
    saved = policy_module.load(desk.ctx.policy_path)
    assert saved.for_site("site-000").steps_for(Condition.FALL)[0].after_s == 10
    assert any(e["action"] == "policy_change" and e["target"] == "site-000"
               for e in desk.client.get("/api/audit", headers=admin).json())
    desk.fall()  # the new policy is the one the core uses now
    desk.clock.advance(10)
    assert desk.core.tick() == 1


def _resolved_history(desk: Desk, n: int) -> None:
    """``n`` resolved critical alerts from the past, as a busy centre has after months."""
    rows = [("sos", f"res-{i % 2:05d}", "site-000", f"gw-0000{i % 2}", "sos", 4, "resolved",
             0, T0 - 10_000_000 + i, T0 - 9_000_000 + i, 1, 0, 0, "old", "nurse",
             T0 - 9_000_000 + i) for i in range(n)]
    with desk.db.transaction() as db:
        db.backend.db.executemany(  # type: ignore[attr-defined]  # SQLite's, in bulk
            "INSERT INTO alerts (condition, subject, site_id, gateway_id, device_id, "
            "severity, state, active, opened_ms, updated_ms, repeats, flaps, silenced, "
            "detail, resolved_by, resolved_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?)", rows)


def test_a_new_fall_is_on_the_desk_after_20000_resolved_alerts(desk: Desk) -> None:
    _resolved_history(desk, 20_000)
    desk.clock.advance(60)
    alert_id = desk.fall("res-00001")
    desk.login("nurse")
    # exactly what the page asks for (static/app.js), and the API's default
    for query in ("/api/alerts?open_only=true&limit=1000", "/api/alerts?open_only=true",
                  "/api/alerts"):
        listed = desk.client.get(query).json()
        assert listed[0]["alert_id"] == alert_id and listed[0]["condition"] == "fall", query
    assert [a["alert_id"] for a in
            desk.client.get("/api/alerts?open_only=true").json()] == [alert_id]
    rooms = {r["resident_id"]: r["state"] for r in desk.client.get("/api/residents").json()}
    assert rooms["res-00001"] == "alarm"
    recent = desk.client.get("/api/residents/res-00001").json()["alerts"]
    assert recent[0]["alert_id"] == alert_id and len(recent) == 50


def test_the_desk_reads_whether_the_alert_core_is_degraded(desk: Desk) -> None:
    assert desk.client.get("/api/status").status_code == 401
    desk.login("viewer")
    assert desk.client.get("/api/status").json() == {"alert_core_degraded": False}
    desk.ctx.status = lambda: {"alert_core_degraded": True, "consumer_errors": 3}
    assert desk.client.get("/api/status").json()["alert_core_degraded"] is True


def test_a_guesser_elsewhere_cannot_lock_a_nurse_out_of_the_desk(desk: Desk) -> None:
    attacker = TestClient(create_app(desk.ctx), client=("198.51.100.7", 40000))
    try:
        for _ in range(5):
            r = attacker.post("/api/login", json={"username": "nurse", "password": "guess"})
            assert r.status_code == 401
        r = attacker.post("/api/login", json={"username": "nurse", "password": "guess"})
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        # the nurse at the desk PC signs in as usual
        assert desk.client.post("/api/login", json={"username": "nurse",
                                                    "password": PASSWORD}).status_code == 200
        # the guesser waits 1 s, then 2 s, then 4 s ... between tries
        waits = []
        for _ in range(4):
            desk.clock.advance(float(r.headers["Retry-After"]))
            assert attacker.post("/api/login", json={"username": "nurse",
                                                     "password": "guess"}).status_code == 401
            r = attacker.post("/api/login", json={"username": "nurse", "password": "guess"})
            assert r.status_code == 429
            waits.append(int(r.headers["Retry-After"]))
        assert waits == [2, 4, 8, 16]
    finally:
        attacker.close()


def test_the_throttle_forgets_the_oldest_keys_so_made_up_names_cannot_grow_it() -> None:
    from dashboard.accounts.throttle import LoginThrottle

    throttle = LoginThrottle(max_keys=1000)
    for i in range(100_000):
        throttle.failed(["addr:198.51.100.7", f"user:made-up-{i}@198.51.100.7"], T0 + i)
    assert len(throttle.store) <= 1000  # type: ignore[arg-type]
    assert throttle.retry_after_s(["addr:198.51.100.7"], T0 + 100_000) > 0  # still slowed
