"""Shifts and rounds on the site's wall clock, in a zone without summer time and one with
it, across the night the clocks go forward: a shift that begins at 08:00 begins at 08:00
there, and a night's rounds every 2 h from 22:00 are one fewer hour apart in UTC where the
night is an hour shorter."""

from __future__ import annotations

import datetime

import pytest

from registry.time import at_local, round_slots, shift_at, zone
from tests.support.days import summer_time_day

HOUR = 3_600_000


def _wall(tz: str, t_ms: int) -> str:
    return datetime.datetime.fromtimestamp(t_ms / 1000, zone(tz)).strftime("%H:%M")


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "Europe/Berlin"])
def test_a_shift_begins_at_its_wall_clock_time_on_the_day_summer_time_begins(tz: str) -> None:
    day = summer_time_day()
    shifts = ["08:00", "16:00", "00:00"]
    noon = at_local(tz, day, 12 * 60)
    shift = shift_at(tz, shifts, noon)
    assert shift is not None
    start, end = shift
    assert (_wall(tz, start), _wall(tz, end)) == ("08:00", "16:00")
    night = shift_at(tz, shifts, at_local(tz, day, 3 * 60 + 30))
    assert night is not None
    # the night shift (00:00-08:00) is 7 h long where the clocks skip 02:00-03:00
    assert (night[1] - night[0]) // HOUR == (7 if tz == "Europe/Berlin" else 8)
    assert shift_at(tz, [], noon) is None


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "Europe/Berlin"])
def test_a_night_s_rounds_fall_on_the_wall_clock_across_the_change(tz: str) -> None:
    day = summer_time_day()
    night_before = day - datetime.timedelta(days=1)
    slots = round_slots(tz, "22:00", "06:00", 120, at_local(tz, night_before, 12 * 60),
                        at_local(tz, day, 12 * 60))
    assert [_wall(tz, t) for t in slots] == ["22:00", "00:00",
                                             # 02:00 does not exist that night in Berlin:
                                             # the round falls on 03:00, an hour on in UTC
                                             "03:00" if tz == "Europe/Berlin" else "02:00",
                                             "04:00"]
