"""The visit register in real Chromium against the whole central process: on a phone, a
community worker sees the overdue visit the desk was warned of, records it in a few taps
and the warning goes; on the desktop, a visit that did not find the resident raises an
alarm that texts the family through the real Kannel when nobody takes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from alerts import policy
from alerts.model import Condition
from dashboard.accounts.model import Role
from harness.mosquitto import LocalMosquitto
from telemetry.clock import DAY_MS
from tests.dashboard.test_browser import PASSWORD, Stack, _phone, _shot, _sign_in
from tests.dashboard.test_browser import page as page  # (the desktop page fixture)
from tests.support.registries import edited_sample, moved_home
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def homes(tmp_path: Path, mosquitto: LocalMosquitto) -> Iterator[Stack]:
    """Test Resident B lives at home (site-001), high risk: visited weekly."""
    def visited_weekly(doc: dict[str, Any]) -> None:
        moved_home(doc)
        doc["residents"][1].update(risk_tier="high", visitor="Test Community Worker")
        doc["orgs"] = [{"org_id": "org-east", "name": "East Street Community"}]
        doc["sites"][1]["org"] = "org-east"
    path = edited_sample(tmp_path, visited_weekly)
    s = Stack(tmp_path, mosquitto, policy=policy.SAMPLE, registry_file=path)
    s.accounts.create_user("worker-1", PASSWORD, Role.NURSE, s.clock.now_ms(), ("site-001",))
    try:
        yield s
    finally:
        s.close()


def test_on_a_phone_a_visitor_records_the_overdue_visit_and_the_warning_goes(
        homes: Stack) -> None:
    stack = homes
    stack.alerts.db.visits.plan_from("res-00001", stack.clock.now_ms() - 11 * DAY_MS)
    stack.clock.advance(61)
    stack.alerts.run_once()
    with _phone() as page:
        _sign_in(stack, page, "worker-1")
        warning = page.locator("li.alarm[data-condition=visit_overdue]")
        expect(warning).to_contain_text("探访逾期")
        expect(warning).to_contain_text("Test Resident B")
        page.locator("#open-visits").tap()
        due = page.locator("li.visit-due[data-resident-id=res-00001]")
        expect(due).to_have_class("visit-due overdue")
        expect(page.locator("li.visitor h3")).to_have_text(["Test Community Worker"])
        page.locator("#visit-group").select_option("community")  # the list per community
        expect(page.locator("li.visitor h3")).to_have_text(["East Street Community"])
        expect(due.locator(".visit-when")).to_contain_text("已逾期 4 天")
        due.locator(".visit-method").select_option("home")
        due.locator(".visit-found").select_option("concerns")
        due.locator(".visit-note").fill("knee painful, GP told")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        _shot(page, "visit-phone")
        due.locator("button.record-visit").tap()
        expect(due.locator(".error")).to_have_text("已保存")
        expect(warning).to_have_count(0, timeout=10_000)
    # the visitor was reminded by SMS when the visit fell due (the sample policy)
    wait_until(lambda: any(m.to == "+86000000000011" for m in stack.kannel.messages()), 15,
               "the visitor's reminder")
    [reminder] = [m for m in stack.kannel.messages() if m.to == "+86000000000011"]
    assert "探访提醒" in reminder.text and "Test Resident B" in reminder.text
    [visit] = stack.alerts.db.visits.of("res-00001")
    assert (visit.visitor, visit.method, visit.found, visit.note) == (
        "worker-1", "home", "concerns", "knee painful, GP told")


def test_a_resident_not_found_on_a_visit_is_an_alarm_that_texts_the_family(
        homes: Stack, page: Page) -> None:
    stack = homes
    _sign_in(stack, page, "worker-1")
    page.locator("#open-visits").click()
    due = page.locator("li.visit-due[data-resident-id=res-00001]")
    expect(due).to_have_class("visit-due")  # due in a week, not overdue
    due.locator(".visit-found").select_option("not_found")
    due.locator("button.record-visit").click()
    page.locator("#close-visits").click()
    alarm = page.locator("li.alarm[data-condition=visit_not_found]")
    expect(alarm).to_contain_text("上门探访未见到老人")
    _shot(page, "visit-not-found")
    stack.clock.advance(301)
    stack.alerts.run_once()
    wait_until(lambda: len(stack.kannel.messages()) >= 1, 15, "the family's SMS")
    assert {m.to for m in stack.kannel.messages()} >= {"+86000000000001"}
    [alert] = [a for a in stack.alerts.db.alerts.find(open_only=True)
               if a.condition is Condition.VISIT_NOT_FOUND]
    assert alert.subject == "res-00001"
