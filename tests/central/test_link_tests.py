"""The daily test alarm, end to end on real Mosquitto brokers and a fake clock: the real
edge agent sends its test at its time, the whole way into the centre's store, and no link
fault is raised for it; a gateway whose test does not come (here: the one the sample
registry lists without an agent running, then ours with its agent stopped) is a link fault
on the desk once the window closes. The month's report shows the share of gateways whose
test arrived every day."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.model import Condition
from telemetry.clock import DAY_MS
from telemetry.health import LINK_TEST_WINDOW_MS, link_test_due_ms
from telemetry.kinds import Kind
from tests.central.homes import Home, running_home
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

OURS, SILENT = "gw-00000", "gw-00001"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    with running_home(tmp_path) as h:
        yield h


def _until(h: Home, t_ms: int) -> None:
    """The clock moved on to ``t_ms`` in steps of up to ten minutes, a round of the alert
    core's timers after each."""
    assert h.central.alerts is not None
    while h.clock.now_ms() < t_ms:
        h.clock.advance(min(600.0, (t_ms - h.clock.now_ms()) / 1000))
        assert h.central.alerts.tick_now()


def _faults(h: Home) -> set[str]:
    assert h.central.alerts is not None
    return {a.subject for a in h.central.alerts.db.alerts.find(
        conditions=(Condition.LINK_TEST_MISSED,))}


def _stored_tests(data: Path) -> int:
    with sqlite3.connect(data / "store.db") as db:
        return int(db.execute("SELECT COUNT(*) FROM raw WHERE kind = ?",
                              (Kind.LINK_TEST.value,)).fetchone()[0])


def test_a_test_alarm_travels_to_the_store_and_a_missing_one_is_a_link_fault(
        home: Home) -> None:
    h = home
    now = h.clock.now_ms()
    day = now - now % DAY_MS
    due = link_test_due_ms(OURS, day)
    if due <= now:  # today's is past: tomorrow's
        day += DAY_MS
        due = link_test_due_ms(OURS, day)
    _until(h, due + 60_000)  # in its window: the agent's round sends it
    wait_until(lambda: h.agent.link_tests == 1, 20, "the gateway sent its test alarm")
    data = Path(h.central.cfg.data_dir)
    wait_until(lambda: _stored_tests(data) == 1, 20, "the test alarm in the centre's store")
    _until(h, due + LINK_TEST_WINDOW_MS + 60_000)
    assert OURS not in _faults(h)

    # our agent stops; tomorrow's test does not come: a link fault on the desk
    h.agent.stop()
    tomorrow = link_test_due_ms(OURS, day + DAY_MS)
    _until(h, tomorrow + LINK_TEST_WINDOW_MS - 60_000)
    assert OURS not in _faults(h)
    _until(h, tomorrow + LINK_TEST_WINDOW_MS + 60_000)
    assert OURS in _faults(h) and SILENT in _faults(h)  # (no agent ever ran for it)
