"""The inactivity detector: unit behaviour on a fake clock, and a quick run on the real log."""

from __future__ import annotations

import json
import subprocess
import sys

from alerts.inactivity import DAY_MS, HOUR_MS, MIN_MS, Context, Event, InactivityDetector
from telemetry.kinds import Kind

T0 = 1_795_305_600_000  # a midnight (UTC)


def _minutes_until_alert(detector: InactivityDetector, start: int, limit_h: int = 12) -> float:
    for now in range(start, start + limit_h * HOUR_MS, MIN_MS):
        if detector.check(now) is not None:
            return (now - start) / MIN_MS
    return float("inf")


def test_a_home_silent_since_the_start_is_noticed() -> None:
    detector = InactivityDetector("res-1", T0 + 10 * HOUR_MS)
    assert 55 <= _minutes_until_alert(detector, T0 + 10 * HOUR_MS) <= 65  # default 60 min


def test_it_learns_the_residents_rhythm_and_alarms_once_per_silence() -> None:
    detector = InactivityDetector("res-1", T0)
    t = T0
    for _day in range(4):  # busy days: something happens every 10 minutes, 08:00-22:00
        for minute in range(8 * 60, 22 * 60, 10):
            detector.observe(Event(t + minute * MIN_MS, "kitchen", Kind.MOTION, 1.0))
            detector.observe(Event(t + minute * MIN_MS + 30_000, "kitchen", Kind.MOTION, 0.0))
        t += DAY_MS
    stop = t + 9 * HOUR_MS
    detector.observe(Event(stop, "kitchen", Kind.MOTION, 1.0))
    delay = _minutes_until_alert(detector, stop)
    assert 30 <= delay <= 35  # 1.25 x the usual 10 min is below the 30 min floor
    assert detector.check(stop + 5 * HOUR_MS) is None  # one alert per silence


def test_out_of_the_house_is_not_inactivity_but_not_forever() -> None:
    detector = InactivityDetector("res-1", T0, main_door="maindoor")
    detector.observe(Event(T0 + 10 * HOUR_MS, "maindoor", Kind.DOOR, 1.0))
    assert detector.context(T0 + 10 * HOUR_MS + 10 * MIN_MS) is Context.AWAY
    delay = _minutes_until_alert(detector, T0 + 10 * HOUR_MS)
    assert 3 * 60 <= delay <= 12 * 60


def test_still_in_bed_long_after_the_usual_rise_alarms_in_the_morning() -> None:
    detector = InactivityDetector("res-1", T0)
    detector.observe(Event(T0 + 1 * HOUR_MS, "bed", Kind.BED_OCCUPANCY, 1.0))
    assert detector.check(T0 + 9 * HOUR_MS) is None  # asleep: normal
    alert = None
    now = T0 + 9 * HOUR_MS
    while alert is None and now < T0 + 14 * HOUR_MS:
        now += MIN_MS
        alert = detector.check(now)
    assert alert is not None and alert.context is Context.IN_BED
    assert 11.75 < (now - T0) / HOUR_MS <= 11.8  # default rise 11:00, plus 45 minutes


def test_eval_inactivity_quick_run_reports_json() -> None:
    done = subprocess.run([sys.executable, "-m", "eldercare_cli.main", "eval", "inactivity",
                           "--cuts", "20", "--json"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert set(summary) == {"false_alarms_per_day", "delay_min_p50", "detected_within_3h"}
    assert summary["false_alarms_per_day"] < 1.0
    assert 0.5 <= summary["detected_within_3h"] <= 1.0
