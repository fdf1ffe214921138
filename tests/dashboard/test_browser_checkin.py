"""The daily check-in in real Chromium against the whole central process: a manager sets it
on the resident's plan (an impossible window refused with its reason), the morning passes
without one on a fake clock, the desk sees the check, the family is texted through the
real Kannel when nobody takes it, and the late sign of life ends it; on a phone, a nurse
who takes the check stops the family's SMS."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from alerts import policy
from alerts.detectors.checkin import CheckInRule
from alerts.model import Condition
from dashboard.accounts.model import Role
from harness.mosquitto import LocalMosquitto
from registry import CheckIn
from registry.time import at_local, local_day
from telemetry import codec, topics
from telemetry.clock import SystemClock
from telemetry.kinds import Kind, unit_of
from telemetry.reading import Reading
from telemetry.topics import Channel
from tests.dashboard.test_browser import PASSWORD, Stack, _phone, _shot, _sign_in
from tests.dashboard.test_browser import page as page  # (the desktop page fixture)
from tests.support.registries import edited_sample
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration
ZONE = "Asia/Shanghai"  # the sample site's


def _next_morning() -> int:
    """06:00 tomorrow on the sample site's clock."""
    today = local_day(ZONE, SystemClock().now_ms())
    return at_local(ZONE, today + datetime.timedelta(days=1), 6 * 60)


def _at(stack: Stack, hhmm: str) -> None:
    """The fake clock on to ``hhmm`` of its local day, then one round of the alert core."""
    now = stack.clock.now_ms()
    target = at_local(ZONE, local_day(ZONE, now), int(hhmm[:2]) * 60 + int(hhmm[3:]))
    stack.clock.advance((target - now) / 1000)
    stack.alerts.run_once()


def _motion(stack: Stack) -> None:
    """Test Resident A's bedroom sensor sees them, now on the fake clock."""
    now = stack.clock.now_ms()
    stack.seq += 1
    r = Reading("site-000", "gw-00000", "bedroom-pir", Kind.MOTION, 1.0, unit_of(Kind.MOTION),
                now, now, 5000 + stack.seq)
    stack.publisher.publish(topics.central("gw-00000", Channel.READINGS),
                            codec.encode("gw-00000", "site-000", now, [r]),
                            qos=1).wait_for_publish(5)


def _watched(stack: Stack) -> bool:
    return any(isinstance(d, CheckInRule) for d in stack.alerts.bank.detectors_of("res-00000"))


@pytest.fixture
def morning(tmp_path: Path, mosquitto: LocalMosquitto) -> Iterator[Stack]:
    s = Stack(tmp_path, mosquitto, start_ms=_next_morning(), policy=policy.SAMPLE)
    try:
        yield s
    finally:
        s.close()


def test_a_manager_sets_a_check_in_and_a_missed_one_reaches_desk_and_family(
        morning: Stack, page: Page) -> None:
    stack = morning
    stack.accounts.create_user("manager-1", PASSWORD, Role.MANAGER, stack.clock.now_ms())
    _sign_in(stack, page, "manager-1")
    page.locator(".room[data-resident-id=res-00000]").click()
    form = page.locator("#resident form.plan-edit")
    form.locator(".checkin_means").select_option("activity")
    form.locator(".checkin_since").fill("11:00")
    form.locator(".checkin_by").fill("10:00")
    form.locator("button.save-plan").click()
    expect(form.locator(".error")).to_contain_text("11:00-10:00 is empty")
    assert stack.central.registry.residents["res-00000"].checkin is None
    form.locator(".checkin_since").fill("06:30")
    form.locator("button.save-plan").click()
    expect(form.locator(".error")).to_have_text("已保存")
    assert stack.central.registry.residents["res-00000"].checkin == CheckIn(
        by="10:00", since="06:30", means=["activity"])
    wait_until(lambda: _watched(stack), 10, "the check-in watched")
    page.locator("#close-resident").click()

    _at(stack, "09:59")
    assert stack.alerts.db.alerts.find(conditions=(Condition.CHECKIN_MISSED,)) == []
    _at(stack, "10:00")
    check = page.locator("li.alarm[data-condition=checkin_missed]")
    expect(check).to_be_visible(timeout=5000)
    expect(check).to_contain_text("Test Resident A")
    expect(check).to_contain_text("今天尚未报平安")
    _shot(page, "checkin-missed-desk")
    stack.clock.advance(299)
    stack.alerts.run_once()
    assert stack.kannel.messages() == []  # the desk has five minutes to phone first
    stack.clock.advance(2)
    stack.alerts.run_once()
    wait_until(lambda: len(stack.kannel.messages()) == 1, 15, "the family's SMS")
    sms = stack.kannel.messages()[0]
    assert sms.to == "+86000000000000" and "今天尚未报平安" in sms.text

    _motion(stack)  # up at last: the check ends by itself
    expect(check).to_have_count(0, timeout=10_000)
    [alert] = [a for a in stack.alerts.db.alerts.find()
               if a.condition is Condition.CHECKIN_MISSED]
    assert alert.subject == "res-00000" and alert.resolved_ms is not None


def test_on_a_phone_a_nurse_takes_a_missed_check_in_and_the_family_is_not_texted(
        tmp_path: Path, mosquitto: LocalMosquitto) -> None:
    def by_the_button(doc: dict[str, Any]) -> None:
        doc["residents"][0]["checkin"] = {"since": "06:30", "by": "09:00",
                                          "means": ["answer"]}
    registry_file = edited_sample(tmp_path, by_the_button)
    stack = Stack(tmp_path, mosquitto, start_ms=_next_morning(), policy=policy.SAMPLE,
                  registry_file=registry_file)
    try:
        with _phone() as page:
            _sign_in(stack, page, "nurse-1")
            _motion(stack)  # moving about is not this rule's check-in: the button is
            _at(stack, "09:00")
            check = page.locator("li.alarm[data-condition=checkin_missed]")
            expect(check).to_be_visible(timeout=5000)
            check.locator("button.ack").tap()
            expect(check.locator(".acked")).to_contain_text("nurse-1")
            assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
            _shot(page, "checkin-phone-taken")
            stack.clock.advance(3600)
            stack.alerts.run_once()
            assert stack.kannel.messages() == []
    finally:
        stack.close()
