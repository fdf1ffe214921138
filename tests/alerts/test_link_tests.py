"""The daily test alarm at the centre: one that arrives in its window is all well; one that
has not arrived when its window closes is a link fault on the desk, ended by the next test;
a test time before the gateway was watched is not judged."""

from __future__ import annotations

from alerts.detectors.link import LinkTests
from alerts.model import Condition
from telemetry.clock import DAY_MS, MIN_MS
from telemetry.health import LINK_TEST_WINDOW_MS, link_test_due_ms
from telemetry.kinds import Kind
from telemetry.parts import GATEWAY_SELF
from tests.support.readings import T0, reading

GW = "gw-00000"
DAY = T0 - T0 % DAY_MS + 10 * DAY_MS  # a midnight (UTC)


def _test(t_ms: int) -> object:
    return reading(Kind.LINK_TEST, 1, t_ms, device_id=GATEWAY_SELF, resident_id=None)


def _sweep(link: LinkTests, now_ms: int) -> list[tuple[Condition, bool]]:
    return [(s.condition, s.active) for chunk in link.slow_chunks(now_ms) for s in chunk]


def test_each_gateway_s_test_comes_at_its_own_time_and_another_each_day() -> None:
    times = {link_test_due_ms(f"gw-{i:05d}", DAY) - DAY for i in range(200)}
    assert len(times) > 150 and all(0 <= t < DAY_MS for t in times)
    assert link_test_due_ms(GW, DAY) - DAY != link_test_due_ms(GW, DAY + DAY_MS) - DAY - DAY_MS
    assert link_test_due_ms(GW, DAY + 5 * MIN_MS) == link_test_due_ms(GW, DAY)  # any time


def test_a_test_in_its_window_is_all_well_and_a_missed_one_a_link_fault() -> None:
    link = LinkTests()
    link.expect({GW: "site-000"}, DAY - DAY_MS)
    due = link_test_due_ms(GW, DAY)
    link.observe(_test(due + 2 * MIN_MS))  # type: ignore[arg-type]
    assert _sweep(link, due + LINK_TEST_WINDOW_MS + MIN_MS) == []
    tomorrow = link_test_due_ms(GW, DAY + DAY_MS)
    assert _sweep(link, tomorrow + LINK_TEST_WINDOW_MS - MIN_MS) == []  # still in time
    [missed] = [s for chunk in link.slow_chunks(tomorrow + LINK_TEST_WINDOW_MS)
                for s in chunk]
    assert (missed.condition, missed.subject, missed.active) == (
        Condition.LINK_TEST_MISSED, GW, True)
    assert "did not arrive" in missed.detail
    assert _sweep(link, tomorrow + 2 * LINK_TEST_WINDOW_MS) == []  # once
    back = link.observe(_test(tomorrow + 3 * LINK_TEST_WINDOW_MS))  # type: ignore[arg-type]
    assert [(s.condition, s.active) for s in back] == [(Condition.LINK_TEST_MISSED, False)]


def test_a_test_time_before_the_gateway_was_watched_is_not_judged() -> None:
    link = LinkTests()
    due = link_test_due_ms(GW, DAY)
    link.expect({GW: "site-000"}, due + MIN_MS)  # started (or took it over) after it
    assert _sweep(link, due + 2 * LINK_TEST_WINDOW_MS) == []


def test_yesterday_s_test_late_in_the_day_is_judged_after_midnight() -> None:
    # a gateway whose test today falls in the day's last half hour: its window closes
    # after midnight, when "today" is already the next day
    late = next(g for g in (f"gw-{i:05d}" for i in range(5000))
                if link_test_due_ms(g, DAY) + LINK_TEST_WINDOW_MS > DAY + DAY_MS)
    link = LinkTests()
    link.expect({late: "site-000"}, DAY - DAY_MS)
    due = link_test_due_ms(late, DAY)
    closes = due + LINK_TEST_WINDOW_MS
    assert closes > DAY + DAY_MS  # judged on the next day
    assert _sweep(link, closes - MIN_MS) == []
    assert (Condition.LINK_TEST_MISSED, True) in _sweep(link, closes)


def test_a_gateway_no_longer_registered_is_forgotten() -> None:
    link = LinkTests()
    link.expect({GW: "site-000"}, DAY - DAY_MS)
    link.expect({}, DAY)
    assert _sweep(link, DAY + 2 * DAY_MS) == []
