"""A care home's shift in real Chromium against the whole central process, on a fake clock:
on a phone, the night nurse signs on and looks in on each room of the round; a round left
undone is a warning on the desk. On the desktop, the outgoing nurse hands over with a note
and the fall she still has; the incoming nurse accepts on her phone and the fall is hers."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dashboard.accounts.model import Role
from harness.mosquitto import LocalMosquitto
from registry.time import at_local, local_day
from telemetry.clock import SystemClock
from tests.dashboard.test_browser import PASSWORD, Stack, _phone, _shot, _sign_in
from tests.dashboard.test_browser import page as page  # (the desktop page fixture)
from tests.support.registries import edited_sample, night_rounds

pytestmark = pytest.mark.integration
ZONE = "Asia/Shanghai"


def _tonight() -> int:
    """22:00 on the sample site's clock, tomorrow (a round is due then)."""
    today = local_day(ZONE, SystemClock().now_ms())
    return at_local(ZONE, today + datetime.timedelta(days=1), 22 * 60)


@pytest.fixture
def home(tmp_path: Path, mosquitto: LocalMosquitto) -> Iterator[Stack]:
    path = edited_sample(tmp_path, night_rounds)
    s = Stack(tmp_path, mosquitto, start_ms=_tonight() - 60_000, registry_file=path)
    s.accounts.create_user("nurse-2", PASSWORD, Role.NURSE, s.clock.now_ms())
    s.alerts.run_once()  # (the rounds are judged from now)
    s.clock.advance(60)
    try:
        yield s
    finally:
        s.close()


def test_on_a_phone_the_night_nurse_does_the_round_and_a_round_left_undone_warns(
        home: Stack) -> None:
    stack = home
    with _phone() as page:
        _sign_in(stack, page, "nurse-1")
        page.locator("#open-shift").tap()
        page.locator("button.sign-on").tap()
        expect(page.locator(".on-duty")).to_have_text("nurse-1")
        expect(page.locator("section.round h3")).to_contain_text("22:00")  # the site's clock
        for room in ("room-101", "room-102"):
            row = page.locator(f"li.round-room[data-room={room}]")
            row.locator("button.mark-room").tap()
            expect(row).to_have_class("round-room done")
            expect(row).to_contain_text("nurse-1")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        _shot(page, "round-phone")
        page.locator("#close-shift").tap()
        stack.clock.advance(2.5 * 3600)  # 00:31: the midnight round not done
        stack.alerts.run_once()
        warning = page.locator("li.alarm[data-condition=round_missed]")
        expect(warning).to_contain_text("巡视未按时完成")
        expect(warning).to_contain_text("room-101, room-102 未巡视")
    [mark_a, mark_b] = stack.alerts.db.rounds.of("site-000", 0, stack.clock.now_ms())
    assert {(mark_a.room, mark_a.nurse), (mark_b.room, mark_b.nurse)} == {
        ("room-101", "nurse-1"), ("room-102", "nurse-1")}


def test_the_incoming_nurse_accepts_the_handover_and_the_fall_is_hers(
        home: Stack, page: Page) -> None:
    stack = home
    _sign_in(stack, page, "nurse-1")
    page.locator("#open-shift").click()
    page.locator("button.sign-on").click()
    expect(page.locator(".on-duty")).to_have_text("nurse-1")
    page.locator("#close-shift").click()
    stack.fall("gw-00001")
    fall = page.locator("li.alarm[data-condition=fall]")
    fall.locator("button.ack").click()
    expect(fall.locator(".acked")).to_contain_text("nurse-1")
    page.locator("#open-shift").click()
    expect(page.locator(".handover-list.open")).to_contain_text("Test Resident B")
    page.locator(".handover-notes").fill("room-102 fell at 22:01, nurse with her")
    page.locator("button.write-handover").click()
    expect(page.locator(".pending-handover")).to_contain_text("room-102 fell at 22:01")
    _shot(page, "handover-written")
    browser = page.context.browser
    assert browser is not None
    phone_context = browser.new_context(viewport={"width": 390, "height": 844},
                                        is_mobile=True, has_touch=True)
    try:  # the incoming nurse, on her own phone
        phone = phone_context.new_page()
        _sign_in(stack, phone, "nurse-2")
        phone.locator("#open-shift").tap()
        expect(phone.locator(".pending-handover")).to_contain_text("nurse-1")
        phone.locator("button.accept-handover").tap()
        expect(phone.locator(".on-duty")).to_have_text("nurse-2")
        _shot(phone, "handover-accepted-phone")
    finally:
        phone_context.close()
    page.locator("#close-shift").click()
    page.locator("#open-shift").click()  # (the desk's line refreshes each minute, or now)
    page.locator("#close-shift").click()
    expect(page.locator("#duty-now")).to_contain_text("nurse-2")  # who is on duty, and next
    expect(page.locator("#duty-now")).to_contain_text("00:00")
    expect(fall.locator(".acked")).to_contain_text("nurse-2")  # told live
    assert stack.alerts.db.duty.on_duty("site-000") == ["nurse-2"]
    [alert] = [a for a in stack.alerts.db.alerts.find(open_only=True)
               if a.condition.value == "fall"]
    assert alert.owner == "nurse-2"


def test_at_the_desk_in_english_a_late_mark_ends_the_round_s_warning(
        home: Stack, page: Page) -> None:
    stack = home
    _sign_in(stack, page, "nurse-1")
    page.click("header .lang-toggle")
    page.locator("#open-shift").click()
    expect(page.locator("section.round h3")).to_have_text("Round due 22:00")
    page.locator("li.round-room[data-room=room-101] button.mark-room").click()
    expect(page.locator("li.round-room[data-room=room-101]")).to_have_class("round-room done")
    page.locator("#close-shift").click()
    stack.clock.advance(31 * 60)
    stack.alerts.run_once()
    warning = page.locator("li.alarm[data-condition=round_missed]")
    expect(warning).to_contain_text("a round not done in time")
    expect(warning).to_contain_text("round of 22:00: room-102 not looked in on")
    page.locator("#open-shift").click()
    page.locator("li.round-room[data-room=room-102] button.mark-room").click()
    expect(page.locator("li.round-room[data-room=room-102]")).to_have_class("round-room done")
    page.locator("#close-shift").click()
    stack.clock.advance(61)
    stack.alerts.run_once()
    expect(warning).to_have_count(0, timeout=10_000)
    _shot(page, "round-desk-en")


def test_a_nurse_scans_the_code_on_a_door_and_the_room_is_marked(home: Stack) -> None:
    """The code on room-101's door opens the desk at "#round/site-000/room-101": once
    signed in, the room is marked for the round due now (as scanned); a code of a room not
    on the rounds is refused with the reason."""
    stack = home
    with _phone() as page:
        page.goto(stack.url + "#round/site-000/room-101")
        page.fill("#username", "nurse-1")
        page.fill("#password", PASSWORD)
        page.click("#login-button")
        row = page.locator("li.round-room[data-room=room-101]")
        expect(row).to_have_class("round-room done")
        page.evaluate("location.hash = '#round/site-000/room-999'")
        expect(page.locator(".scan-refused")).to_contain_text("room-999 is not on the rounds")
    [mark] = stack.alerts.db.rounds.of("site-000", 0, stack.clock.now_ms() + 1)
    assert (mark.room, mark.nurse, mark.how) == ("room-101", "nurse-1", "scan")
