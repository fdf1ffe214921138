"""Simulated days placed by the real clock, for tests that run beside real-clock processes.

A test that starts a real process (an edge agent, a broker, the central process) shares the
real clock with it, so its simulated data must sit at a fixed distance from *today*, never
at a literal date that the calendar overtakes.
"""

from __future__ import annotations

import datetime

from telemetry.clock import SystemClock

DAY_MS = 24 * 3600 * 1000


def midnight_utc_ms(days_ago: int) -> int:
    """The UTC midnight that began the day ``days_ago`` days before today (real clock)."""
    now_ms = SystemClock().now_ms()
    return now_ms - now_ms % DAY_MS - days_ago * DAY_MS


def summer_time_day() -> datetime.date:
    """The next last Sunday of March after today: Europe's clocks go forward that night."""
    today = datetime.date.today()
    for year in (today.year, today.year + 1):
        day = datetime.date(year, 3, 31)
        day -= datetime.timedelta(days=(day.weekday() + 1) % 7)
        if day > today:
            return day
    raise AssertionError("unreachable")
