"""``eldercare demo``: one command, the whole system; it prints a URL and a fresh login, and
the first incidents reach the duty desk's API within the first two minutes, among them one
possible fall answered at home and one that escalates, an overdue visit and a handover
waiting to be accepted. SIGINT and
SIGTERM stop it cleanly within 10 s, with either broker, even when SIGINT was inherited as
ignored (as under CI or a supervisor)."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import httpx2 as httpx
import pytest
import yaml

from harness.process import free_port
from tests.support.commands import Command
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


def _demo(tmp_path: Path, broker: str, port: int) -> Command:
    # speed 2: the scripted two minutes take one
    return Command("demo", "--port", str(port), "--speed", "2", "--duration", "300",
                   "--data", str(tmp_path), "--broker", broker, log=tmp_path / "demo.log")


def _private(registry_path: Path) -> set[str]:
    """What must never be in a log: residents' names and medical notes, contacts' names and
    phone numbers (also without the +)."""
    data = yaml.safe_load(registry_path.read_text())
    out: set[str] = set()
    for resident in data["residents"]:
        out |= {resident["display_name"], resident["medical_notes"]}
        for contact in resident["contacts"]:
            out |= {contact["name"], contact["phone"], contact["phone"].lstrip("+")}
    return out


def _check_log(tmp_path: Path) -> None:
    """One JSON object per line, from every part of the process, and nothing private."""
    lines = (tmp_path / "demo.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # fails on any other line format
    assert all({"t", "level", "process", "logger", "msg"} <= set(r) for r in records), lines
    assert any(r["msg"] == "eldercare demo: stopped cleanly" for r in records), lines
    assert any(r["logger"] == "alerts.core" and " opened: fall of res-" in r["msg"]
               for r in records), lines  # the alert core's lines are in it, by id
    text = "\n".join(lines)
    private = _private(tmp_path / "registry.yaml")
    assert len(private) > 24 * 4
    leaked = sorted(p for p in private if p in text)
    assert leaked == [], leaked


@pytest.mark.parametrize(("broker", "sig"), [("mosquitto", signal.SIGINT),
                                             ("embedded", signal.SIGTERM)])
def test_demo_serves_the_desk_and_the_first_incidents_arrive(
        tmp_path: Path, broker: str, sig: signal.Signals) -> None:
    port = free_port()
    demo = _demo(tmp_path, broker, port)
    try:
        demo.wait_for("sign in:", 60)
        text = demo.output()
        url = re.search(r"duty desk:\s+(\S+)", text)
        login = re.search(r"sign in:\s+(\S+) / (\S+)", text)
        assert url and login and url.group(1) == f"http://127.0.0.1:{port}/"
        with httpx.Client(base_url=url.group(1)) as client:
            assert client.get("/api/alerts").status_code == 401
            signed = client.post("/api/login", json={"username": login.group(1),
                                                     "password": login.group(2)})
            assert signed.status_code == 200

            def conditions() -> set[str]:
                return {a["condition"] for a in client.get("/api/alerts").json()}

            wait_until(lambda: {"fall", "night_wandering", "spo2_low"} <= conditions(), 90,
                       "the first incidents on the desk")
            # the demo's desk takes the scripted fall and sends the nurse on duty
            def dispatched() -> bool:
                falls = [a for a in client.get("/api/alerts").json()
                         if a["condition"] == "fall" and a["owner"] == "demo-operator"]
                return any(client.get(f"/api/alerts/{a['alert_id']}/dispatches").json()
                           for a in falls)

            wait_until(dispatched, 60, "the scripted fall taken and a responder sent")

            # two pendants report a possible fall: one elder answers the home unit (on the
            # timeline, resolved, never on the queue), the other does not (a fall, open)
            def asked() -> dict[str, tuple[str, str]]:
                return {a["subject"]: (a["condition"], a["state"])
                        for a in client.get("/api/alerts").json()
                        if a["subject"] in ("res-00022", "res-00023")}

            wait_until(lambda: asked() == {
                "res-00022": ("possible_fall_answered", "resolved"),
                "res-00023": ("fall", "open")}, 90, "one possible fall answered, one not")
            # scheduled care: an overdue visit on the desk; the care home's handover waits
            wait_until(lambda: ("visit_overdue", "res-00020") in {
                (a["condition"], a["subject"]) for a in client.get("/api/alerts").json()},
                60, "the overdue visit on the desk")
            wait_until(lambda: client.get("/api/duty/site-000").json()["pending"], 60,
                       "the handover written")
            [pending] = client.get("/api/duty/site-000").json()["pending"]
            assert pending["outgoing"] == "demo-operator" and pending["accepted_by"] is None
            handover = client.get("/api/handover/site-000").json()
            assert any(a["condition"] == "fall" and a["owner"] == "demo-operator"
                       for a in handover["open"])
            open_now = client.get("/api/alerts", params={"open_only": "true"}).json()
            assert not any(a["condition"] == "possible_fall_answered" for a in open_now)
            rooms = client.get("/api/residents").json()
            assert len(rooms) == 24 and {r["site_id"] for r in rooms} == \
                {"site-000", "site-001"}
        metrics = re.search(r"metrics:\s+(http://127\.0\.0\.1:\d+/metrics)", text)
        assert metrics, text
        scraped = httpx.get(metrics.group(1)).text
        assert 'eldercare_open_alerts{condition="fall",severity="critical"}' in scraped
        demo.stop(sig)  # under load: readings and notices still flowing
        _check_log(tmp_path)
    finally:
        demo.kill()


@pytest.mark.parametrize(("broker", "sig"), [("mosquitto", signal.SIGTERM),
                                             ("embedded", signal.SIGINT)])
def test_demo_stops_promptly_right_after_it_started(tmp_path: Path, broker: str,
                                                     sig: signal.Signals) -> None:
    demo = _demo(tmp_path, broker, free_port())
    try:
        demo.wait_for("sign in:", 60)
        demo.stop(sig)
    finally:
        demo.kill()
