"""The duty-desk page in a real headless Chromium against the whole central process (real
Mosquitto, ingest, alert core, embedded store, real Kannel with its fake SMSC).

Screenshots go to ``artifacts/`` (or ``$ELDERCARE_ARTIFACTS``)."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest
import yaml
from playwright.sync_api import APIResponse, Locator, Page, Route, expect, sync_playwright

import registry
from alerts.model import AlertState
from alerts.settings import AlertSettings, KannelSettings
from central import config
from central.process import CentralProcess
from dashboard.accounts.model import Role
from dashboard.server import DashboardServer
from dashboard.settings import DashboardSettings
from harness.kannel import LocalKannel, reply_url
from harness.mosquitto import LocalMosquitto
from harness.process import free_port
from registry.commands import CommandRow
from runtime.broker import BrokerConnection
from runtime.mqtt import MQTTv311, new_client
from telemetry import codec, topics
from telemetry import commands as wire
from telemetry.clock import FakeClock, SystemClock
from telemetry.kinds import FallStatus, Kind, unit_of
from telemetry.reading import Reading
from telemetry.topics import Channel
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ELDERCARE_ARTIFACTS", ROOT / "artifacts"))
PASSWORD = "test-only-nurse-password"
CALLBACK_TOKEN = "test-only-callback-token"
CHROMIUM = "/usr/bin/chromium"


class Stack:
    def __init__(self, tmp: Path, broker: LocalMosquitto, *, start_ms: int | None = None,
                 policy: Path | None = None, registry_file: Path = registry.SAMPLE) -> None:
        """``start_ms``: the fake clock's start (now); ``policy``: the escalation policy
        (else a fall's family SMS after 60 s and nothing more)."""
        # escalation and the detectors' timers move only when told
        self.clock = FakeClock(SystemClock().now_ms() if start_ms is None else start_ms)
        callback_port = free_port()
        self.kannel = LocalKannel(reply_url(callback_port, CALLBACK_TOKEN))
        self.kannel.start()
        if policy is None:
            policy = tmp / "policy.yaml"
            policy.write_text(yaml.safe_dump({"default": {"steps": {"fall": [
                {"after_s": 60, "channel": "sms", "to": "family"}]}}}))
        (tmp / "kannel.password").write_text(self.kannel.password)
        (tmp / "callback.token").write_text(CALLBACK_TOKEN)
        self.port = free_port()
        cfg = config.CentralConfig(
            data_dir=str(tmp / "data"), registry=str(registry_file),
            broker=BrokerConnection(port=broker.port),
            alerts=AlertSettings(policy=str(policy), callback_port=callback_port,
                                 reply_token_file=str(tmp / "callback.token"),
                                 kannel=KannelSettings(self.kannel.sendsms_url,
                                                       self.kannel.username,
                                                       str(tmp / "kannel.password"))),
            dashboard=DashboardSettings(port=self.port))
        self.central = CentralProcess(cfg, self.clock)
        assert self.central.accounts is not None and self.central.alerts is not None
        self.accounts = self.central.accounts
        self.alerts = self.central.alerts
        self.accounts.create_user("nurse-1", PASSWORD, Role.NURSE, self.clock.now_ms())
        self.central.start()
        assert self.central.ingest.ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.publisher = new_client(protocol=MQTTv311)
        self.publisher.connect("127.0.0.1", broker.port)
        self.publisher.loop_start()
        self.seq = 0

    def fall(self, gateway: str) -> None:
        now = SystemClock().now_ms()
        self.seq += 1
        reading = Reading("site-000", gateway, "pendant", Kind.FALL, float(FallStatus.FALL),
                          unit_of(Kind.FALL), now, now, 1000 + self.seq)
        self.publisher.publish(topics.central(gateway, Channel.URGENT),
                               codec.encode(gateway, "site-000", now, [reading]),
                               qos=1).wait_for_publish(5)

    def restart_dashboard(self) -> None:
        assert self.central.dashboard is not None
        app = self.central.dashboard._server.config.app
        self.central.dashboard.close()
        self.central.dashboard = DashboardServer(app, "127.0.0.1", self.port)
        self.central.dashboard.start()

    def close(self) -> None:
        self.publisher.loop_stop()
        self.publisher.disconnect()
        self.central.close()
        self.kannel.close()


@pytest.fixture
def stack(tmp_path: Path, mosquitto: LocalMosquitto) -> Iterator[Stack]:
    s = Stack(tmp_path, mosquitto)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def page() -> Iterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        yield context.new_page()
        context.close()
        browser.close()


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def test_a_fall_reaches_the_page_live_and_acknowledging_stops_the_sms(
        stack: Stack, page: Page) -> None:
    page.goto(stack.url)
    expect(page.locator("#login h1")).to_have_text("颐养监护 值班台")
    page.fill("#username", "nurse-1")
    page.fill("#password", "not the password")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    expect(page.locator("#desk")).to_be_visible()
    expect(page.locator("#connection")).to_have_text("实时")
    expect(page.locator(".room")).to_have_count(2)

    # A fall through the real broker appears within 2 s, without a reload.
    started = time.monotonic()
    stack.fall("gw-00001")
    alarm = page.locator("li.alarm[data-condition=fall]")
    expect(alarm).to_be_visible(timeout=2000)
    appeared_s = time.monotonic() - started
    assert appeared_s < 2.0
    expect(alarm).to_contain_text("Test Resident B")
    expect(alarm.locator(".timer")).to_contain_text("未确认")
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator(".room[data-resident-id=res-00001]")).to_have_class(
        "room state-alarm")
    _shot(page, "1-fall-zh")

    # Acknowledged from the page, with a note: the family SMS step never fires.
    alarm.locator("input.note").fill("护士已到房间")
    alarm.locator("button.ack").click()
    expect(alarm.locator(".acked")).to_contain_text("nurse-1")
    alert = stack.alerts.db.alerts.find()[0]
    assert alert.state is AlertState.ACKNOWLEDGED and alert.note == "护士已到房间"
    stack.clock.advance(120)
    stack.alerts.run_once()
    assert stack.alerts.db.notices.of() == []

    # Control: a fall nobody acknowledges does text the family through Kannel.
    stack.fall("gw-00000")
    expect(page.locator("li.alarm[data-condition=fall].st-open")).to_be_visible(timeout=2000)
    stack.clock.advance(61)
    stack.alerts.run_once()
    wait_until(lambda: len(stack.kannel.messages()) == 1, 15, "the control SMS")
    assert stack.kannel.messages()[0].to == "+86000000000000"  # only the unacknowledged one

    # English, and back.
    page.click("header .lang-toggle")
    expect(page.locator("header h1")).to_have_text("Eldercare duty desk")
    expect(page.locator("#connection")).to_have_text("Live")
    expect(page.locator("li.alarm.st-open .timer")).to_contain_text("Not acknowledged")
    page.click(".room[data-resident-id=res-00001]")
    expect(page.locator("#resident h2")).to_contain_text("Test Resident B")
    _shot(page, "2-english-resident")
    page.click("#close-resident")
    page.click("header .lang-toggle")
    expect(page.locator("header h1")).to_have_text("颐养监护 值班台")


def test_the_page_recovers_by_itself_after_a_server_restart(
        stack: Stack, page: Page) -> None:
    page.goto(stack.url)
    page.fill("#username", "nurse-1")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    expect(page.locator("#connection")).to_have_text("实时")
    stack.restart_dashboard()
    stack.fall("gw-00001")  # while the page may still be reconnecting
    expect(page.locator("li.alarm[data-condition=fall]")).to_be_visible(timeout=10_000)
    expect(page.locator("#connection")).to_have_text("实时")
    _shot(page, "3-after-restart")


@contextlib.contextmanager
def _phone() -> Iterator[Page]:
    """A page in real Chromium as on a phone (390x844, touch)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 390, "height": 844},
                                      is_mobile=True, has_touch=True)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _sign_in(stack: Stack, page: Page, username: str) -> None:
    page.goto(stack.url)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    expect(page.locator("#connection")).to_have_text("实时")


def _signed_in_with_a_fall(stack: Stack, page: Page) -> Locator:
    """Signed in as the nurse, live; a fall of Test Resident B on the list."""
    page.goto(stack.url)
    page.fill("#username", "nurse-1")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    expect(page.locator("#connection")).to_have_text("实时")
    stack.fall("gw-00001")
    alarm = page.locator("li.alarm[data-condition=fall]")
    expect(alarm).to_be_visible(timeout=2000)
    return alarm


def test_a_fall_is_taken_a_responder_sent_arrives_and_it_is_closed_with_an_outcome(
        stack: Stack, page: Page) -> None:
    """The whole loop from the desk, on the escalation's fake clock: take, send the staff
    member on duty, their "1" and "2" through Kannel, resolve with an outcome; then a
    responder who does not arrive, one who cannot come, and an alarm taken and left, each
    opening the alarm again with the family's SMS following."""
    staff = "+86000000000010"
    alarm = _signed_in_with_a_fall(stack, page)
    expect(alarm.locator(".detail")).to_have_text("报告跌倒")  # the desk's language
    alarm.locator("button.ack").click()  # 接警: I have it
    expect(alarm.locator(".acked")).to_contain_text("处理人：nurse-1")  # noqa: RUF001
    alarm.locator("button.send").click()
    alarm.locator("button.responder[data-ref=s0]").click()
    expect(alarm.locator(".dispatch")).to_contain_text("已派出")
    stack.alerts.run_once()
    wait_until(lambda: any(m.to == staff for m in stack.kannel.messages()), 15,
               "the responder's SMS at the SMSC")
    stack.kannel.reply(staff, "1")
    expect(alarm.locator(".dispatch")).to_contain_text("在路上", timeout=10_000)
    stack.kannel.reply(staff, "2")
    expect(alarm.locator(".dispatch")).to_contain_text("已到达", timeout=10_000)
    _shot(page, "4-responder-arrived")
    expect(alarm.locator("button.resolve")).to_be_disabled()  # an outcome first
    alarm.locator("select.outcome").select_option("no_injury_helped_up")
    # a live update redraws the list while the nurse is closing it: the choice stays
    alarm.evaluate("li => li.dataset.mark = 'before'")
    stack.kannel.reply(staff, "she is fine, helped her up")
    expect(page.locator("li.alarm[data-condition=fall]:not([data-mark])")).to_have_count(1)
    expect(alarm.locator("select.outcome")).to_have_value("no_injury_helped_up")
    alarm.locator("button.resolve").click()
    expect(page.locator("li.alarm[data-condition=fall]")).to_have_count(0)
    (closed,) = stack.alerts.db.alerts.find()
    assert closed.outcome == "no_injury_helped_up" and closed.answered_by == "nurse-1"

    # Not on site within the care home's 5 minutes: open again, the family texted.
    stack.fall("gw-00000")
    alarm = page.locator("li.alarm[data-condition=fall]")
    expect(alarm).to_be_visible(timeout=2000)
    alarm.locator("button.ack").click()
    expect(alarm.locator(".acked")).to_be_visible()
    alarm.locator("button.send").click()
    alarm.locator("button.responder[data-ref=s0]").click()
    expect(alarm.locator(".dispatch")).to_contain_text("已派出")
    stack.clock.advance(301)
    stack.alerts.run_once()
    expect(page.locator("li.alarm[data-condition=fall].st-open")).to_be_visible(timeout=5000)
    wait_until(lambda: any(m.to == "+86000000000000" for m in stack.kannel.messages()), 15,
               "the family's SMS after the non-arrival")

    # Taken again, then cannot come (recorded by hand): open again at once.
    alarm.locator("button.ack").click()
    alarm.locator("button.send").click()
    alarm.locator("button.responder[data-ref=c0]").click()
    expect(alarm.locator(".dispatch.d-sent")).to_be_visible()
    alarm.locator(".dispatch.d-sent button.cannot_come").click()
    expect(page.locator("li.alarm[data-condition=fall].st-open")).to_be_visible(timeout=5000)

    # Taken and left: after the fall's 15 minutes it is open again.
    alarm.locator("button.ack").click()
    expect(page.locator("li.alarm[data-condition=fall].st-acknowledged")).to_be_visible()
    stack.clock.advance(901)
    stack.alerts.run_once()
    expect(page.locator("li.alarm[data-condition=fall].st-open")).to_be_visible(timeout=5000)
    whats = [e.what for e in stack.alerts.db.timeline.of(
        stack.alerts.db.alerts.find(open_only=True)[0].alert_id)]
    assert {"not_arrived", "cannot_come", "ack_timeout"} <= set(whats)

    # The month's report on the desk: the figures of this walk, and the plots drawn by
    # Chart.js (Debian's libjs-chart.js, served with the page).
    at = datetime.datetime.fromtimestamp(closed.opened_ms / 1000, tz=ZoneInfo("Asia/Shanghai"))
    page.click("#open-report")
    page.locator("#report-month").fill(f"{at.year:04d}-{at.month:02d}")
    page.locator("#report-month").dispatch_event("change")
    figures = page.locator("#report-table")
    expect(figures.locator("tr[data-key=alarms] td")).to_have_text("2")
    expect(figures.locator("tr[data-key=dispatched] td")).to_have_text("3")
    expect(figures.locator("tr[data-key=non_arrivals] td")).to_have_text("1")
    expect(figures.locator("tr[data-key=ack_timeouts] td")).to_have_text("1")
    expect(page.locator("#operator-table th")).to_have_text(["nurse-1"])
    assert page.evaluate("Boolean(window.Chart && Chart.getChart('answer-chart') "
                         "&& Chart.getChart('day-chart'))")
    _shot(page, "5-report")
    page.click("#close-report")
    page.click("#open-help")  # the desk's help says how to use it, in the desk's language
    expect(page.locator("#help li")).to_have_count(6)
    expect(page.locator("#help li").first).to_contain_text("接警")
    page.click("#close-help")
    page.click("header .lang-toggle")
    page.click("#open-help")
    expect(page.locator("#help li").nth(2)).to_contain_text("1 on my way, 2 arrived")
    page.click("#close-help")
    page.click(".room[data-resident-id=res-00000]")  # the response plan; the code on request
    plan = page.locator("#resident .plan")
    expect(plan).to_contain_text("demo only; ring twice")
    expect(plan.locator(".key-safe")).not_to_contain_text("0000")
    plan.locator(".key-safe button").click()
    expect(plan.locator(".key-safe")).to_have_text("0000")

    # A meal ordered by phone, entered from the resident's panel: on the list, with the
    # request's own outcomes, and nobody paged for it.
    form = page.locator("#resident form.request")
    form.locator("select.request-type").select_option("request_meal")
    form.locator("input.request-note").fill("lunch, soft food")
    form.locator("button[type=submit]").click()
    meal = page.locator("li.alarm[data-condition=request_meal]")
    expect(meal).to_be_visible(timeout=5000)
    expect(meal.locator("select.outcome option")).to_have_text(
        ["Outcome", "done", "partly done", "declined by the resident", "cancelled"])
    stack.clock.advance(3600)
    stack.alerts.run_once()
    (request,) = [a for a in stack.alerts.db.alerts.find(open_only=True)
                  if a.condition.value == "request_meal"]
    assert stack.alerts.db.notices.of(request.alert_id) == []  # an hour on: nobody paged


def test_on_a_phone_a_nurse_takes_and_sends_without_scrolling_sideways(stack: Stack) -> None:
    """A nurse on a phone (390x844): the alarm, take, send someone and resolve fit the
    width; nothing scrolls sideways."""
    with _phone() as page:
        alarm = _signed_in_with_a_fall(stack, page)
        alarm.locator("button.ack").tap()
        expect(alarm.locator(".acked")).to_be_visible()
        alarm.locator("button.send").tap()
        expect(alarm.locator("button.responder[data-ref=s0]")).to_be_visible()
        for selector in ("button.send", "select.outcome", "button.resolve",
                         "button.responder[data-ref=s0]"):
            box = alarm.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, \
                selector
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        _shot(page, "6-phone-take")


def _report(stack: Stack, gateway: str, device: str, kind: Kind, value: float,
            channel: Channel = Channel.READINGS, site: str = "site-000") -> None:
    """A gateway's message with one reading of ``device``."""
    now = SystemClock().now_ms()
    stack.seq += 1
    reading = Reading(site, gateway, device, kind, value, unit_of(kind), now, now,
                      1000 + stack.seq)
    stack.publisher.publish(topics.central(gateway, channel),
                            codec.encode(gateway, site, now, [reading]),
                            qos=1).wait_for_publish(5)


def test_an_admin_pairs_a_reported_device_and_admits_moves_and_discharges_a_resident(
        stack: Stack, page: Page) -> None:
    """Enrolment from the desk: a gateway reports a sensor nobody paired; the admin sees
    it with its battery and pairs it to a resident in two clicks; its fall then reaches
    the desk. An elder at home admitted from the form appears in the grid flagged
    "reduced coverage" (no door contact, no motion yet), is moved to another room and
    discharged. In Chinese, then the panel in English."""
    admin = "admin-1"
    stack.accounts.create_user(admin, PASSWORD, Role.ADMIN, stack.clock.now_ms())
    _report(stack, "gw-00000", "radar-new", Kind.BATTERY, 97)
    wait_until(lambda: bool(stack.central.registry_db.unpaired(stack.central.registry)), 10,
               "the unknown sensor recorded for pairing")
    page.goto(stack.url)
    page.fill("#username", admin)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    expect(page.locator("#connection")).to_have_text("实时")
    page.click("#open-enrol")
    item = page.locator("li.unpaired[data-device='gw-00000/radar-new']")
    expect(item).to_contain_text("电量 97%")
    _shot(page, "7-new-device")
    item.locator("select.assign").select_option("res-00000")  # click one
    item.locator("button.pair").click()  # click two
    expect(page.locator("li.unpaired")).to_have_count(0)
    _report(stack, "gw-00000", "radar-new", Kind.FALL, float(FallStatus.FALL),
            Channel.URGENT)
    fall = page.locator("li.alarm[data-condition=fall]")
    expect(fall).to_be_visible(timeout=5000)
    expect(fall).to_contain_text("Test Resident A")

    # a new community's homes, with a gateway in an elder's flat
    page.fill("#site-id", "site-077")
    page.fill("#site-name", "Test Home Site 77")
    page.locator("#site-kind").select_option("home")
    page.click("#add-site button[type=submit]")
    expect(page.locator("#site-error")).to_contain_text("site-077")
    page.fill("#site-id", "site-077")  # twice: refused, and the page says why
    page.fill("#site-name", "Test Home Site 77")
    page.click("#add-site button[type=submit]")
    expect(page.locator("#site-error")).to_contain_text("exists already")
    page.locator("#gateway-site").select_option("site-077")
    page.fill("#gateway-id", "gw-07700")
    page.click("#add-gateway button[type=submit]")
    expect(page.locator("#gateway-error")).to_contain_text("gw-07700")
    assert stack.central.registry.gateways["gw-07700"].site_id == "site-077"

    page.fill("#admit-id", "res-00042")
    page.locator("#admit-site").select_option("site-077")  # an elder at home
    page.fill("#admit-name", "Test Resident N")
    page.fill("#admit-room", "room-108")
    page.fill("#admit-bed", "A")
    page.fill("#admit-floor", "1")
    page.fill("#admit-contact", "Test Family N")
    page.fill("#admit-phone", "+86000000000042")
    page.click("#admit button[type=submit]")
    room = page.locator(".room[data-resident-id=res-00042]")
    expect(room).to_contain_text("room-108")
    expect(room.locator(".reduced")).to_have_text("覆盖不足")  # no door, no motion yet
    assert stack.central.registry.residents["res-00042"].bed == "A"
    # the new gateway reports a pendant nobody paired; paired, its fall reaches the desk
    _report(stack, "gw-07700", "pendant-77", Kind.BATTERY, 88, site="site-077")
    wait_until(lambda: any(s.device_id == "pendant-77" for s in
                           stack.central.registry_db.unpaired(stack.central.registry)), 10,
               "the new gateway's pendant recorded for pairing")
    page.click("#close-enrol")
    page.click("#open-enrol")
    item = page.locator("li.unpaired[data-device='gw-07700/pendant-77']")
    item.locator("select.assign").select_option("res-00042")
    item.locator("button.pair").click()
    expect(page.locator("li.unpaired")).to_have_count(0)
    _report(stack, "gw-07700", "pendant-77", Kind.FALL, float(FallStatus.FALL),
            Channel.URGENT, site="site-077")
    expect(page.locator("li.alarm[data-condition=fall]", has_text="Test Resident N")
           ).to_be_visible(timeout=5000)
    page.click("#close-enrol")
    room.click()
    expect(page.locator("#resident .coverage .warn").first).to_contain_text("入户门磁")
    page.locator("#resident .move-room").fill("room-109")
    page.locator("#resident button.move").click()
    expect(room).to_contain_text("room-109")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#resident button.discharge").click()
    expect(room).to_have_count(0)
    assert "res-00042" not in stack.central.registry.residents
    page.click("#open-enrol")  # listed as discharged: erasable only after the period
    gone = page.locator("li.discharged[data-resident-id=res-00042]")
    expect(gone).to_contain_text("可删除自")
    expect(gone.locator("button.erase")).to_be_disabled()
    page.click("#close-enrol")
    assert ("registry_admit", "resident res-00042") in [
        (e.action, e.target) for e in stack.accounts.audit_log()]
    page.click("header .lang-toggle")
    expect(page.locator("#open-enrol")).to_have_text("Enrolment")
    log = [(e.action, e.target) for e in stack.accounts.audit_log()]
    assert ("registry_pair", "device gw-00000/radar-new") in log
    assert ("registry_discharge", "resident res-00042") in log
    assert ("registry_site", "site site-077") in log
    assert ("registry_gateway", "gateway gw-07700") in log


def test_a_district_supervisor_sees_its_institutions_on_a_phone_and_nothing_beside(
        stack: Stack) -> None:
    """A district's supervisor (a viewer belonging to the district's node) on a phone:
    the supervision table lists the district's two sites with the open fall, and not the
    site of the other district; nothing scrolls sideways on the page."""
    from registry import Org, Site
    from registry.model import put

    reg = stack.central.registry
    stack.central.registry_db.write([
        put(Org("district-1", "Test District 1", "district")),
        put(Org("district-2", "Test District 2", "district")),
        put(msgspec.structs.replace(reg.sites["site-000"], org="district-1")),
        put(msgspec.structs.replace(reg.sites["site-001"], org="district-1")),
        put(Site("site-002", "Test Home Site 2", org="district-2"))], reg)
    stack.accounts.create_user("supervisor-1", PASSWORD, Role.VIEWER, stack.clock.now_ms(),
                               org="district-1")
    stack.fall("gw-00001")
    wait_until(lambda: bool(stack.alerts.db.alerts.find(open_only=True)), 10,
               "the fall recorded")
    with _phone() as page:
        _sign_in(stack, page, "supervisor-1")
        page.locator("#open-supervision").tap()
        rows = page.locator("#supervision-table tbody tr")
        expect(rows).to_have_count(2)
        expect(page.locator("#supervision-table tr[data-site=site-000] td").nth(3)) \
            .to_have_text("1")  # the open fall
        expect(page.locator("#supervision-table thead th").first).to_have_text("机构")
        box = rows.first.bounding_box()  # one card per site, within the width
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert page.locator("#supervision-table tr[data-site=site-002]").count() == 0
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        _shot(page, "8-supervision-phone")


def test_an_installer_pairs_a_sensor_on_a_phone(stack: Stack) -> None:
    """An installer (a site manager) in the elder's flat, on a phone (390x844): the new
    sensor is listed, paired in two taps, and nothing scrolls sideways."""
    stack.accounts.create_user("installer-1", PASSWORD, Role.MANAGER, stack.clock.now_ms(),
                               ("site-000",))
    _report(stack, "gw-00001", "door-new", Kind.DOOR, 1)
    wait_until(lambda: bool(stack.central.registry_db.unpaired(stack.central.registry)), 10,
               "the unknown sensor recorded for pairing")
    with _phone() as page:
        _sign_in(stack, page, "installer-1")
        page.locator("#open-enrol").tap()
        item = page.locator("li.unpaired[data-device='gw-00001/door-new']")
        item.locator("select.assign").select_option("res-00001")
        for selector in ("select.assign", "button.pair"):
            box = item.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        _shot(page, "9-pair-phone")
        item.locator("button.pair").tap()
        expect(page.locator("li.unpaired")).to_have_count(0)
        paired = stack.central.registry.device("gw-00001", "door-new")
        assert paired is not None and paired.resident_id == "res-00001"
        assert paired.kinds == [Kind.DOOR]
        # the gateway is sent its new device list; it refuses it, and the desk shows why
        commands = stack.central.commands
        assert commands is not None
        def lists() -> list[CommandRow]:
            return [c for c in commands.of(("gw-00001",)) if c.name == "devices"]
        wait_until(lambda: [c.state for c in lists()] == ["sent"], 10,
                   "the device list sent to the gateway")
        (sent,) = lists()
        refused = wire.Result(sent.command_id, "gw-00001", False, stack.clock.now_ms(),
                              "cannot keep it: disk full")
        stack.publisher.publish(topics.central("gw-00001", Channel.RESULT),
                                wire.encode(refused), qos=1).wait_for_publish(5)
        wait_until(lambda: lists()[0].state == "failed", 10, "the refusal recorded")
        page.locator("#close-enrol").tap()
        page.locator("#open-enrol").tap()
        problem = page.locator("li.command-problem[data-gateway=gw-00001]")
        expect(problem).to_contain_text("设备清单 · 被网关拒绝: cannot keep it: disk full")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390


def test_a_manager_changes_a_family_phone_and_adds_a_key_holder(stack: Stack,
                                                                 page: Page) -> None:
    """A family's phone number changed: the site manager opens the resident, changes it in
    the response plan's contacts and adds a key-holder; the registry has both at once, and
    the change is audited."""
    stack.accounts.create_user("manager-1", PASSWORD, Role.MANAGER, stack.clock.now_ms())
    _sign_in(stack, page, "manager-1")
    page.locator(".room[data-resident-id=res-00000]").click()
    form = page.locator("#resident form.plan-edit")
    first = form.locator(".contact-edit").first
    expect(first.locator(".contact_phone")).to_have_value("+86000000000000")
    first.locator(".contact_phone").fill("+86000000000099")
    form.locator("button.add-contact").click()
    added = form.locator(".contact-edit").last
    added.locator(".contact_name").fill("Test Neighbour K")
    added.locator(".contact_phone").fill("+86000000000098")
    added.locator(".contact_role").select_option("keyholder")
    form.locator(".access_notes").fill("ring twice; key with the neighbour")
    form.locator("button.save-plan").click()
    expect(form.locator(".error")).to_have_text("已保存")
    resident = stack.central.registry.residents["res-00000"]
    assert resident.contacts[0].phone == "+86000000000099"
    assert ("Test Neighbour K", "+86000000000098", "keyholder") in [
        (c.name, c.phone, c.role) for c in resident.contacts]
    assert resident.access_notes == "ring twice; key with the neighbour"
    assert resident.key_safe == "0000"  # left empty on the form: kept
    assert ("manager-1", "registry_change", "resident res-00000") in [
        (e.username, e.action, e.target) for e in stack.accounts.audit_log()]


def test_a_late_answer_to_a_take_does_not_hide_the_alarm_opening_again(stack: Stack,
                                                                         page: Page) -> None:
    """The nurse takes the fall; the answer to that click is slow to come back (a loaded
    machine), and meanwhile the alarm opens again (left 15 minutes) and the page is told
    live. The late answer says "taken": the page keeps the newer "open"."""
    alarm = _signed_in_with_a_fall(stack, page)
    held: list[tuple[Route, APIResponse]] = []
    page.route("**/api/alerts/*/take", lambda route: held.append((route, route.fetch())))
    alarm.locator("button.ack").click()
    wait_until(lambda: page.evaluate("1") == 1 and bool(held), 10,
               "the take done at the server, its answer held back")
    stack.clock.advance(901)  # taken and left: its follow-up is due
    stack.alerts.run_once()
    expect(page.locator("li.alarm[data-condition=fall].st-open")).to_be_visible(timeout=5000)
    route, answer = held[0]
    with page.expect_request("**/api/residents*"):  # the page has handled the answer
        route.fulfill(response=answer)
    expect(page.locator("li.alarm[data-condition=fall].st-open")).to_be_visible()
    assert json.loads(answer.text())["state"] == "acknowledged"  # it was the older news
