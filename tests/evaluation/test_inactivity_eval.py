"""The inactivity detector: unit behaviour on a fake clock, and a quick run on the real log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from alerts.detectors.inactivity_model import (
    Context,
    Event,
    InactivityAlert,
    InactivityDetector,
    Tier,
)
from evaluation import homes, inactivity
from telemetry.clock import DAY_MS, HOUR_MS, MIN_MS
from telemetry.kinds import Kind

T0 = 1_795_305_600_000  # a midnight (UTC)


def _minutes_until_alert(detector: InactivityDetector, start: int, limit_h: int = 12,
                         tier: Tier = Tier.CHECK) -> float:
    for now in range(start, start + limit_h * HOUR_MS, MIN_MS):
        if any(a.tier is tier for a in detector.check(now)):
            return (now - start) / MIN_MS
    return float("inf")


def _first_alert(detector: InactivityDetector, start: int, end: int) -> tuple[int, list[
        InactivityAlert]]:
    for now in range(start, end, MIN_MS):
        alerts = detector.check(now)
        if alerts:
            return now, alerts
    return end, []


def test_a_home_silent_since_the_start_is_noticed() -> None:
    detector = InactivityDetector("res-1", T0 + 10 * HOUR_MS)
    assert 55 <= _minutes_until_alert(detector, T0 + 10 * HOUR_MS) <= 65  # default 60 min
    assert 475 <= _minutes_until_alert(detector, T0 + 10 * HOUR_MS,
                                       tier=Tier.ALARM) <= 485  # default 8 h while learning


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
    assert 45 <= delay <= 50  # 1.9 x the usual 10 min is below the 45 min floor
    alarm = _minutes_until_alert(detector, stop, tier=Tier.ALARM)
    assert 90 <= alarm <= 95  # 1.5 x the longest 10 min is below the 90 min floor
    assert detector.check(stop + 5 * HOUR_MS) == []  # each tier once per silence


def test_out_of_the_house_is_not_inactivity_but_not_forever() -> None:
    detector = InactivityDetector("res-1", T0, main_door="maindoor")
    detector.observe(Event(T0 + 10 * HOUR_MS, "maindoor", Kind.DOOR, 1.0))
    assert detector.context(T0 + 10 * HOUR_MS + 10 * MIN_MS) is Context.AWAY
    delay = _minutes_until_alert(detector, T0 + 10 * HOUR_MS)
    assert 3 * 60 <= delay <= 12 * 60


def test_still_in_bed_long_after_the_usual_rise_alarms_in_the_morning() -> None:
    detector = InactivityDetector("res-1", T0)
    detector.observe(Event(T0 + 1 * HOUR_MS, "bed", Kind.BED_OCCUPANCY, 1.0))
    assert detector.check(T0 + 9 * HOUR_MS) == []  # asleep: normal
    now, alerts = _first_alert(detector, T0 + 9 * HOUR_MS + MIN_MS, T0 + 14 * HOUR_MS)
    assert [(a.tier, a.context) for a in alerts] == [(Tier.CHECK, Context.IN_BED)]
    assert 11.75 < (now - T0) / HOUR_MS <= 11.8  # default rise 11:00, plus 45 minutes
    now, alerts = _first_alert(detector, now + MIN_MS, T0 + 16 * HOUR_MS)
    assert [(a.tier, a.context) for a in alerts] == [(Tier.ALARM, Context.IN_BED)]
    assert 13.0 < (now - T0) / HOUR_MS <= 13.05  # plus two hours


def test_two_bed_mats_are_one_bed_and_turning_over_does_not_repeat_the_check() -> None:
    detector = InactivityDetector("res-1", T0)
    detector.observe(Event(T0 + 1 * HOUR_MS, "bed-left", Kind.BED_OCCUPANCY, 1.0))
    detector.observe(Event(T0 + 1 * HOUR_MS, "bed-right", Kind.BED_OCCUPANCY, 1.0))
    raised = []
    for now in range(T0 + 2 * HOUR_MS, T0 + 14 * HOUR_MS, MIN_MS):
        if now % (10 * MIN_MS) == 0:  # the sleeper lifts one mat for a moment
            detector.observe(Event(now, "bed-left", Kind.BED_OCCUPANCY, 0.0))
            detector.observe(Event(now + 1000, "bed-left", Kind.BED_OCCUPANCY, 1.0))
        assert detector.context(now) is Context.IN_BED
        raised += [a.tier for a in detector.check(now)]
    assert raised == [Tier.CHECK, Tier.ALARM]


def test_a_mat_left_pressed_stops_counting_once_the_resident_is_elsewhere() -> None:
    detector = InactivityDetector("res-1", T0)
    detector.observe(Event(T0 + 1 * HOUR_MS, "bed", Kind.BED_OCCUPANCY, 1.0))
    detector.observe(Event(T0 + 8 * HOUR_MS, "fridge", Kind.DOOR, 1.0))  # up, mat stuck
    assert detector.context(T0 + 8 * HOUR_MS) is Context.ACTIVE
    assert 55 <= _minutes_until_alert(detector, T0 + 8 * HOUR_MS) <= 65


def test_eval_inactivity_quick_run_reports_json_over_every_home() -> None:
    done = subprocess.run([sys.executable, "-m", "eldercare_cli.main", "eval", "inactivity",
                           "--cuts", "20", "--json"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert {"check_per_day", "check_delay_min_p50", "alarm_per_day", "alarm_delay_min_p50",
            "alarm_within_4h", "false_alarms_per_day"} <= set(summary)
    assert summary["homes"] == 3
    for home in ("ordonezA", "kasterenA", "kasterenB", "all 3 homes"):  # and pooled
        assert f"| {home} | 1.0 (shipped) |" in done.stdout
    # A check reaches the desk first, the alarm later, and most collapses are alarmed.
    assert summary["check_delay_min_p50"] < summary["alarm_delay_min_p50"] < 12 * 60
    assert summary["alarm_per_day"] <= summary["check_per_day"]
    assert 0.5 <= summary["alarm_within_4h"] <= 1.0
    # asking first: fewer checks reach the desk, the more so the more residents answer
    at_desk = [summary[f"check_per_day_at_desk_p{p}"] for p in (50, 80, 95)]
    assert summary["check_per_day"] >= at_desk[0] >= at_desk[1] >= at_desk[2] >= 0
    assert "Asking first" in done.stdout


def test_eval_inactivity_with_restarts_from_snapshots_gives_the_same_figures() -> None:
    """Rebuilt from its snapshot every 2 days, the detector alarms as if never restarted;
    rebuilt afresh (as before snapshots), it falls back to its 8-hour default."""
    done = subprocess.run([sys.executable, "-m", "eldercare_cli.main", "eval", "inactivity",
                           "--cuts", "20", "--restart-every-days", "2", "--json"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    plain = json.loads(subprocess.run(
        [sys.executable, "-m", "eldercare_cli.main", "eval", "inactivity", "--cuts", "20",
         "--json"], capture_output=True, text=True, timeout=300,
        check=True).stdout.splitlines()[-1])
    assert summary["restart_every_days"] == 2
    assert set(plain) <= set(summary)
    for key in ("check_per_day", "alarm_per_day", "check_delay_min_p50",
                "alarm_delay_min_p50", "alarm_within_4h"):
        assert summary[key] == summary["without_restarts"][key] == plain[key]
    assert summary["largest_change_from_snapshots"] == 0.0
    assert summary["restarted_afresh"]["alarm_delay_min_p50"] > \
        2 * summary["alarm_delay_min_p50"]


def test_any_home_in_the_same_layout_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "some-home"
    folder.mkdir()
    (folder / "flatX_sensor_events.csv").write_text(
        "start,end,sensor,sensor_type,room\n"
        "2030-01-01 08:00:00,2030-01-01 08:00:05,Entry door,Magnetic,Entrance\n"
        "2030-01-01 07:00:00,2030-01-01 07:30:00,Bed mat,Pressure,Bedroom\n"
        "2030-01-01 09:00:00,2030-01-01 09:40:00,Armchair mat,Pressure,Living\n")
    (folder / "flatX_activities.csv").write_text(
        "start,end,activity\n2030-01-01 06:00:00,2030-01-01 07:30:00,Sleeping\n")
    [path] = homes.find(tmp_path)
    home = homes.load(path)
    assert home.name == "flatX" and home.main_door == "entry door"
    assert [(i.sensor, i.kind) for i in home.intervals] == [
        ("bed mat", Kind.BED_OCCUPANCY), ("entry door", Kind.DOOR),
        ("armchair mat", Kind.SEAT_OCCUPANCY)]
    assert [lb.activity for lb in home.labels] == ["Sleeping"]


def test_a_busy_home_and_a_quiet_home_with_the_same_routine_get_the_same_limit() -> None:
    delays = []
    for every_min in (2, 20):  # sensors that fire often, or seldom
        detector = InactivityDetector("res-1", T0)
        for day in range(5):
            t = T0 + day * DAY_MS
            minutes = [m for m in range(8 * 60, 22 * 60, every_min)
                       if not 14 * 60 < m < 15 * 60]  # an hour's nap in the chair each day
            for minute in minutes:
                detector.observe(Event(t + minute * MIN_MS, "kitchen", Kind.MOTION, 1.0))
        stop = T0 + 5 * DAY_MS + 14 * HOUR_MS
        detector.observe(Event(stop, "kitchen", Kind.MOTION, 1.0))
        delays.append(_minutes_until_alert(detector, stop))
    # 1.9 x the hour this resident has gone without activity at this time, in both homes
    # (a share of the silences would give the busy home a limit of minutes)
    assert delays[0] == delays[1]
    assert 110 <= delays[0] <= 120


def test_a_busy_home_keeps_only_the_longest_silences_it_needs() -> None:
    detector = InactivityDetector("res-1", T0)
    for minute in range(0, 60 * 24 * 60, 2):  # 60 days, something every 2 minutes
        detector.observe(Event(T0 + minute * MIN_MS, "kitchen", Kind.MOTION, 1.0))
    kept = [s for s in [*detector._gaps, *detector._gaps_after.values()] if s.n]
    assert sum(s.n for s in detector._gaps) == 60 * 24 * 30  # every silence counted
    assert max(len(s.longest) for s in kept) == 64  # bounded, whatever the home's age


def test_out_of_the_house_the_front_door_or_two_sensors_bring_the_resident_back() -> None:
    detector = InactivityDetector("res-1", T0, main_door="maindoor")
    out = T0 + 10 * HOUR_MS
    detector.observe(Event(out, "maindoor", Kind.DOOR, 1.0))
    # one sensor firing on its own while out is not the resident
    for k in range(6):
        assert not detector.observe(Event(out + (20 + k) * MIN_MS, "kitchen-pir",
                                          Kind.MOTION, 1.0))
    assert detector.context(out + 30 * MIN_MS) is Context.AWAY
    # a second sensor within ten minutes is
    assert detector.observe(Event(out + 30 * MIN_MS, "fridge", Kind.DOOR, 1.0))
    assert detector.context(out + 40 * MIN_MS) is Context.ACTIVE


def test_a_collapse_just_inside_the_front_door_on_coming_back_is_not_taken_for_going_out(
) -> None:
    detector = InactivityDetector("res-1", T0, main_door="maindoor")
    out = T0 + 10 * HOUR_MS
    detector.observe(Event(out, "maindoor", Kind.DOOR, 1.0))
    back = out + 2 * HOUR_MS
    assert detector.observe(Event(back, "maindoor", Kind.DOOR, 1.0))  # and nothing after it
    assert detector.context(back + 3 * HOUR_MS) is Context.ACTIVE
    assert 55 <= _minutes_until_alert(detector, back) <= 65  # the check while learning


def test_a_home_is_scored_over_the_span_its_labels_cover(tmp_path: Path) -> None:
    (tmp_path / "flatY_sensor_events.csv").write_text(
        "start,end,sensor,sensor_type,room\n"
        "2030-01-01 08:00:00,2030-01-01 08:00:05,Fridge,Magnetic,Kitchen\n"
        "2030-01-06 12:00:00,2030-01-06 12:00:05,Fridge,Magnetic,Kitchen\n"
        "2030-01-20 09:00:00,2030-01-20 09:00:05,Fridge,Magnetic,Kitchen\n")
    (tmp_path / "flatY_activities.csv").write_text(
        "start,end,activity\n2030-01-05 06:00:00,2030-01-06 07:30:00,Sleeping\n"
        "2030-01-08 06:00:00,2030-01-08 07:00:00,Toileting\n")
    [path] = homes.find(tmp_path)
    home = homes.load(path)
    start, end = home.scored()
    assert (end - start) / DAY_MS == 3 + 1 / 24  # 5 Jan 06:00 to 8 Jan 07:00
    # the silence from 1 Jan alerts before the span and is not counted; the one from
    # 6 Jan 12:00 is (a check and an alarm, each once)
    result = inactivity.replay(home, [])
    assert result.days == (end - start) / DAY_MS
    for tier in (Tier.CHECK, Tier.ALARM):
        [t] = result.false[tier]
        assert start <= t < end and t > start + DAY_MS + 6 * HOUR_MS


def test_without_a_bed_sensor_a_night_silence_is_noticed_after_the_usual_start_of_the_day(
) -> None:
    detector = InactivityDetector("res-1", T0)
    for day in range(4):  # the day starts at 07:30 and ends at 22:00; nothing at night
        for minute in range(7 * 60 + 30, 22 * 60, 20):
            detector.observe(Event(T0 + day * DAY_MS + minute * MIN_MS, "fridge", Kind.DOOR,
                                   1.0))
    night = T0 + 4 * DAY_MS + 1 * HOUR_MS  # up at 01:00, then nothing
    detector.observe(Event(night, "toilet-door", Kind.DOOR, 1.0))
    check = _minutes_until_alert(detector, night)
    assert 6 * 60 + 30 + 45 <= check <= 6 * 60 + 30 + 46  # 07:30, the latest start, + 45
    alarm = _minutes_until_alert(detector, night, tier=Tier.ALARM)
    assert 6 * 60 + 30 + 120 <= alarm <= 6 * 60 + 30 + 121  # + 2 h


def test_the_front_door_firing_again_as_the_resident_shuts_it_is_the_same_return() -> None:
    detector = InactivityDetector("res-1", T0, main_door="maindoor")
    out = T0 + 10 * HOUR_MS
    detector.observe(Event(out, "maindoor", Kind.DOOR, 1.0))
    back = out + 2 * HOUR_MS
    detector.observe(Event(back, "maindoor", Kind.DOOR, 1.0))  # in
    detector.observe(Event(back + 20_000, "maindoor", Kind.DOOR, 1.0))  # shut behind them
    assert detector.context(back + 3 * HOUR_MS) is Context.ACTIVE  # and collapsed in the hall
    assert 55 <= _minutes_until_alert(detector, back) <= 65
    # the door after something else in the home is going out again
    detector.observe(Event(back + 4 * HOUR_MS, "fridge", Kind.DOOR, 1.0))
    detector.observe(Event(back + 4 * HOUR_MS + MIN_MS, "maindoor", Kind.DOOR, 1.0))
    assert detector.context(back + 5 * HOUR_MS) is Context.AWAY


def test_asked_checks_reach_the_desk_only_unanswered_and_without_a_sign_of_life() -> None:
    from evaluation import homes
    from evaluation.inactivity import ASK_MS, at_desk

    def interval(start_ms: int) -> homes.Interval:
        return homes.Interval(start_ms, start_ms + 1000, "pir", Kind.MOTION)

    home = homes.Home("h", [interval(T0 + 5 * HOUR_MS)], [
        homes.Label(T0, T0 + 2 * HOUR_MS, "Sleeping"),
        homes.Label(T0 + 2 * HOUR_MS, T0 + 3 * HOUR_MS, "Leaving")], None)
    asleep, out = T0 + HOUR_MS, T0 + 2 * HOUR_MS + 60_000
    moved = T0 + 5 * HOUR_MS - ASK_MS // 2  # the PIR comes on while asking
    awake = T0 + 4 * HOUR_MS
    assert at_desk(home, [asleep, out], 1.0) == 2  # asleep or out: nobody answers
    assert at_desk(home, [moved], 0.0) == 0  # a sign of life closes it, answer or not
    assert at_desk(home, [awake], 1.0) == 0 and at_desk(home, [awake], 0.0) == 1
