"""A collapse in bed, on simulated nights: sleep with breathing seen is never an alarm,
however long; breathing that stops while the resident lies in bed is one, at once after the
set time; a radar gone offline, a resident who got up, a gateway offline are not."""

from __future__ import annotations

from alerts.detectors.sleep import BedVitalsRule
from alerts.model import PROFILES, Condition, Severity, Signal
from alerts.pipeline.base import Mute, Pending
from alerts.pipeline.inhibit import Inhibit
from telemetry.kinds import Kind
from tests.support.readings import T0, reading

S = 1000
BEDTIME = T0 + 14 * 3600 * S  # 22:00 in Shanghai
RADAR, MAT = "bed-vitals", "bed-mat"


def _night(rule: BedVitalsRule, hours: float, *, stop_at_s: float | None = None,
           gaps: tuple[tuple[float, float], ...] = (), mat: bool = True,
           offline_at_s: float | None = None) -> list[tuple[int, Signal]]:
    """Into bed at ``BEDTIME``; the radar reads breathing and heart rate every 5 s (not
    within ``gaps``, not after ``stop_at_s``); every signal, with the second it came."""
    out: list[tuple[int, Signal]] = []
    if mat:
        out += [(0, s) for s in rule.observe(reading(Kind.BED_OCCUPANCY, 1, BEDTIME,
                                                     device_id=MAT))]
    out += [(0, s) for s in rule.observe(reading(Kind.PRESENCE, 1, BEDTIME, device_id=RADAR))]
    for second in range(1, int(hours * 3600)):
        t = BEDTIME + second * S
        if offline_at_s is not None and second == offline_at_s:
            out += [(second, s) for s in rule.observe(reading(Kind.AVAILABILITY, 0, t,
                                                              device_id=RADAR))]
        breathing = (stop_at_s is None or second < stop_at_s) and not any(
            a <= second < b for a, b in gaps) and (offline_at_s is None
                                                   or second < offline_at_s)
        if breathing and second % 5 == 0:
            for kind, value in ((Kind.RESPIRATION_RATE, 14), (Kind.HEART_RATE, 58)):
                out += [(second, s) for s in rule.observe(reading(kind, value, t,
                                                                  device_id=RADAR))]
        if rule.armed:
            out += [(second, s) for s in rule.tick(t)]
    return out


def test_a_night_of_sleep_with_the_radar_losing_breath_for_a_while_is_no_alarm() -> None:
    rule = BedVitalsRule("res-00000", no_vitals_s=180)
    assert _night(rule, 8, gaps=((3600, 3690), (7200, 7370))) == []


def test_breathing_that_stops_in_bed_is_an_alarm_at_the_set_time_and_critical() -> None:
    rule = BedVitalsRule("res-00000", no_vitals_s=180)
    out = _night(rule, 2, stop_at_s=5000)
    [(second, alarm)] = out
    last_breath = 4995
    assert (alarm.condition, alarm.active, alarm.device_id) == (
        Condition.NO_VITAL_SIGNS, True, RADAR)
    assert second == last_breath + 180
    assert alarm.detail == "in bed, no breathing or heart rate for 180 s"
    assert PROFILES[Condition.NO_VITAL_SIGNS] == (Severity.CRITICAL, False)
    back = rule.observe(reading(Kind.RESPIRATION_RATE, 8, BEDTIME + 6000 * S,
                                device_id=RADAR))
    assert [(s.condition, s.active, s.detail) for s in back] == [
        (Condition.NO_VITAL_SIGNS, False, "breathing seen again")]


def test_without_a_mat_the_radar_s_presence_is_the_bed() -> None:
    rule = BedVitalsRule("res-00000", no_vitals_s=180)
    out = _night(rule, 1, stop_at_s=1200, mat=False)
    assert [(s.condition, s.active) for _, s in out] == [(Condition.NO_VITAL_SIGNS, True)]
    gone = rule.observe(reading(Kind.PRESENCE, 0, BEDTIME + 3700 * S, device_id=RADAR))
    assert [(s.active, s.detail) for s in gone] == [(False, "out of bed")]


def test_a_radar_gone_offline_says_nothing_of_breathing() -> None:
    rule = BedVitalsRule("res-00000", no_vitals_s=180)
    assert _night(rule, 2, offline_at_s=3000) == []


def test_up_from_bed_the_radar_still_seeing_someone_is_no_alarm() -> None:
    rule = BedVitalsRule("res-00000", no_vitals_s=180)
    _night(rule, 1)
    up = BEDTIME + 3600 * S
    assert rule.observe(reading(Kind.BED_OCCUPANCY, 0, up, device_id=MAT)) == []
    # in the chair across the room: present to the radar, out of its breathing range
    assert not rule.armed
    assert rule.tick(up + 3600 * S) == []


def test_a_wristband_s_heart_rate_is_not_the_bed() -> None:
    rule = BedVitalsRule("res-00000", no_vitals_s=180)
    rule.observe(reading(Kind.BED_OCCUPANCY, 1, BEDTIME, device_id=MAT))
    rule.observe(reading(Kind.HEART_RATE, 60, BEDTIME + 5 * S, device_id="wristband"))
    assert not rule.armed and rule.tick(BEDTIME + 3600 * S) == []


class _Offline:
    def __init__(self, *offline: str) -> None:
        self.offline = set(offline)

    def gateway_offline(self, gateway_id: str) -> bool:
        return gateway_id in self.offline


def test_a_gateway_offline_hides_the_alarm_nothing_reached_the_centre() -> None:
    signal = Signal(Condition.NO_VITAL_SIGNS, "res-00000", True, BEDTIME, "site-000",
                    "gw-00000", "in bed, no breathing or heart rate for 180 s", RADAR)
    hidden = Inhibit(_Offline("gw-00000"))(Pending(signal, BEDTIME), None)  # type: ignore
    shown = Inhibit(_Offline())(Pending(signal, BEDTIME), None)  # type: ignore[arg-type]
    assert (hidden, shown) == (Mute.HIDDEN, Mute.NONE)


def test_when_the_centre_hears_nothing_from_anyone_no_sleeper_is_alarmed() -> None:
    """A stalled intake (a store outage, a backlog) is not every sleeper's breathing
    stopping at once: the silence counts up to the newest reading the centre heard."""
    heard = [BEDTIME]
    rule = BedVitalsRule("res-00000", no_vitals_s=180, heard=lambda: heard[0])
    rule.observe(reading(Kind.BED_OCCUPANCY, 1, BEDTIME, device_id=MAT))
    rule.observe(reading(Kind.PRESENCE, 1, BEDTIME, device_id=RADAR))
    rule.observe(reading(Kind.RESPIRATION_RATE, 14, BEDTIME + 5 * S, device_id=RADAR))
    heard[0] = BEDTIME + 5 * S  # then nothing from anyone: the clock runs on alone
    assert rule.tick(BEDTIME + 3600 * S) == []
    heard[0] = BEDTIME + 200 * S  # other homes' readings come again; still no breath here
    [alarm] = rule.tick(BEDTIME + 3600 * S)
    assert alarm.condition is Condition.NO_VITAL_SIGNS and alarm.active
