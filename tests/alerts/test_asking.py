"""Asking the resident before alarming, in the detectors: a check held while the home unit
asks, a possible fall cancelled by the answer, an SOS pressed by mistake cancelled."""

from __future__ import annotations

import pytest

from alerts.core import AlertError
from alerts.detectors.activity import InactivityRule
from alerts.detectors.events import CANCELLED, EventRules, NightSchedule
from alerts.detectors.snapshot import SnapshotError
from alerts.model import AlertState, Condition, Outcome, Signal
from telemetry.kinds import FallStatus, Kind
from tests.alerts.conftest import World
from tests.support.readings import T0, reading

S = 1000
MIN = 60 * S
DAY_T = T0 + 2 * 3600 * S  # 10:00 in Shanghai
SHANGHAI_MS = 8 * 3600 * S


def _rule(prompt_s: float = 120.0) -> InactivityRule:
    rule = InactivityRule("res-00000", "site-000", "gw-00000", DAY_T, main_door="front-door",
                          utc_offset_ms=SHANGHAI_MS, prompt_s=prompt_s)
    rule.observe(reading(Kind.MOTION, 1, DAY_T, device_id="living-pir"))
    return rule


def _until_asked(rule: InactivityRule) -> int:
    """Tick a minute at a time until the rule asks (the check's moment); that time."""
    for minute in range(1, 600):
        t = DAY_T + minute * MIN
        assert rule.tick(t) == []  # nothing reaches the desk while it is asked
        if rule.asking_ms is not None:
            return t
    raise AssertionError("never asked")


def test_a_check_answered_at_home_never_reaches_the_desk_and_is_on_the_timeline() -> None:
    rule = _rule()
    asked = _until_asked(rule)
    assert asked == DAY_T + 61 * MIN  # the moment the check would have reached the desk
    assert rule.kinds >= {Kind.ANSWER, Kind.MOTION}
    out = rule.observe(reading(Kind.ANSWER, 1, asked + 40 * S, device_id="sos-button"))
    assert [(s.condition, s.active, s.t_ms) for s in out] == [
        (Condition.INACTIVITY_ANSWERED, True, asked),
        (Condition.INACTIVITY_ANSWERED, False, asked + 40 * S)]
    assert out[1].detail == "the resident answered"
    assert rule.asking_ms is None
    # later ticks send nothing to the desk for this silence's check
    assert all(s.condition is not Condition.INACTIVITY_CHECK
               for m in range(62, 400) for s in rule.tick(DAY_T + m * MIN))


def test_a_check_nobody_answers_reaches_the_desk_when_the_wait_is_over() -> None:
    rule = _rule(prompt_s=120)
    asked = _until_asked(rule)
    assert rule.tick(asked + 119 * S) == []
    out = rule.tick(asked + 120 * S)
    assert [(s.condition, s.active) for s in out] == [(Condition.INACTIVITY_CHECK, True)]
    assert out[0].detail.endswith("; no answer at home within 120 s")
    # a sign of life later ends the check as before
    back = rule.observe(reading(Kind.MOTION, 1, asked + 10 * MIN, device_id="living-pir"))
    assert [(s.condition, s.active) for s in back] == [(Condition.INACTIVITY_CHECK, False)]


def test_moving_while_asked_closes_the_held_check_as_answered() -> None:
    rule = _rule()
    asked = _until_asked(rule)
    out = rule.observe(reading(Kind.MOTION, 1, asked + 30 * S, device_id="living-pir"))
    assert [(s.condition, s.active) for s in out] == [
        (Condition.INACTIVITY_ANSWERED, True), (Condition.INACTIVITY_ANSWERED, False)]
    assert out[1].detail == "activity again (motion)"


def test_an_answer_with_nothing_asked_changes_nothing() -> None:
    rule = _rule()
    assert rule.observe(reading(Kind.ANSWER, 1, DAY_T + 5 * MIN, device_id="sos-button")) == []


def test_without_a_prompt_device_the_check_goes_to_the_desk_at_once() -> None:
    rule = _rule(prompt_s=0)
    raised = [(m, s.condition) for m in range(1, 100)
              for s in rule.tick(DAY_T + m * MIN)]
    assert raised == [(61, Condition.INACTIVITY_CHECK)]
    assert Kind.ANSWER not in rule.kinds


def test_a_restart_while_asking_still_sends_the_unanswered_check_on() -> None:
    rule = _rule()
    asked = _until_asked(rule)
    body = rule.snapshot()
    again = InactivityRule("res-00000", "site-000", "gw-00000", asked, main_door="front-door",
                           utc_offset_ms=SHANGHAI_MS, prompt_s=120)
    again.restore(body)
    assert again.asking_ms == asked
    out = again.tick(asked + 120 * S)
    assert [s.condition for s in out] == [Condition.INACTIVITY_CHECK]


def test_a_truncated_snapshot_of_a_held_check_is_refused() -> None:
    rule = _rule()
    _until_asked(rule)
    body = rule.snapshot()
    with pytest.raises(SnapshotError):
        _rule().restore(body[: len(body) // 2])


def _events() -> EventRules:
    return EventRules("res-00000", night=NightSchedule(480), wandering_risk=False,
                      confirm_s=60, sos_cancel_s=30)


def test_a_possible_fall_answered_at_home_is_not_confirmed() -> None:
    rules = _events()
    assert rules.observe(reading(Kind.FALL, FallStatus.MAYBE_FALL, DAY_T,
                                 device_id="pendant")) == []
    out = rules.observe(reading(Kind.ANSWER, 1, DAY_T + 20 * S, device_id="sos-button"))
    # on the timeline: asked, answered (opened and resolved at once, never on the queue)
    assert [(s.condition, s.active, s.t_ms) for s in out] == [
        (Condition.POSSIBLE_FALL_ANSWERED, True, DAY_T),
        (Condition.POSSIBLE_FALL_ANSWERED, False, DAY_T + 20 * S)]
    assert rules.tick(DAY_T + 120 * S) == []


def test_a_possible_fall_nobody_answers_is_a_fall_a_minute_later() -> None:
    rules = _events()
    rules.observe(reading(Kind.FALL, FallStatus.MAYBE_FALL, DAY_T, device_id="pendant"))
    assert rules.tick(DAY_T + 59 * S) == []
    assert [s.condition for s in rules.tick(DAY_T + 60 * S)] == [Condition.FALL]


def test_an_sos_cancelled_in_time_ends_marked_cancelled() -> None:
    rules = _events()
    [sos] = rules.observe(reading(Kind.SOS, 1, DAY_T, device_id="sos-button"))
    assert sos.condition is Condition.SOS and sos.active
    [cancel] = rules.observe(reading(Kind.ANSWER, 1, DAY_T + 25 * S, device_id="sos-button"))
    assert (cancel.condition, cancel.active, cancel.cancelled, cancel.detail) == \
        (Condition.SOS, False, True, CANCELLED)
    # once: a second answer cancels nothing more
    assert rules.observe(reading(Kind.ANSWER, 1, DAY_T + 28 * S, device_id="sos-button")) == []


def test_an_answer_after_the_cancel_window_leaves_the_sos() -> None:
    rules = _events()
    rules.observe(reading(Kind.SOS, 1, DAY_T, device_id="sos-button"))
    assert rules.observe(reading(Kind.ANSWER, 1, DAY_T + 31 * S, device_id="sos-button")) == []


def test_a_fall_report_is_never_held_for_a_question() -> None:
    rules = _events()
    out = rules.observe(reading(Kind.FALL, FallStatus.FALL, DAY_T, device_id="pendant"))
    assert [(s.condition, s.active) for s in out] == [(Condition.FALL, True)]
    # and an answer does not end a fall that was reported as one
    assert rules.observe(reading(Kind.ANSWER, 1, DAY_T + 5 * S, device_id="sos-button")) == []


# --- through the alert core, on both store backends -----------------------------------

SITE, GW = "site-000", "gw-00000"


def _sos(active: bool = True, cancelled: bool = False) -> Signal:
    return Signal(Condition.SOS, "res-00001", active, 0, SITE, GW,
                  CANCELLED if cancelled else "sos", "sos-button", cancelled=cancelled)


def test_an_sos_cancelled_before_anyone_took_it_is_resolved_as_cancelled(
        world: World) -> None:
    world.core.handle([_sos()])
    [alert] = world.db.alerts.find()
    assert [n.recipient for n in world.sms.sent] == []  # (steps run on the clock)
    world.step(1)
    texted = len(world.sms.sent)
    world.core.handle([_sos(active=False, cancelled=True)])
    after = world.db.alerts.get(alert.alert_id)
    assert after is not None and after.state is AlertState.RESOLVED
    assert after.outcome == Outcome.CANCELLED_BY_RESIDENT.value
    lines = [(e.what, e.detail) for e in world.db.timeline.of(alert.alert_id)]
    assert ("resolved", f"cancelled_by_resident: {CANCELLED}") in lines
    world.step(600)  # no rescue call, no further text
    assert world.webhook.sent == [] and len(world.sms.sent) == texted


def test_an_sos_someone_took_stays_theirs_when_the_resident_cancels(world: World) -> None:
    world.core.handle([_sos()])
    [alert] = world.db.alerts.find()
    world.core.response.take(alert.alert_id, "nurse-1")
    world.core.handle([_sos(active=False, cancelled=True)])
    after = world.db.alerts.get(alert.alert_id)
    assert after is not None and after.state is not AlertState.RESOLVED
    assert after.owner == "nurse-1" and not after.active
    assert any(e.detail == CANCELLED for e in world.db.timeline.of(alert.alert_id))


def test_the_desk_cannot_choose_the_residents_cancel_as_an_outcome(world: World) -> None:
    world.core.handle([_sos()])
    [alert] = world.db.alerts.find()
    with pytest.raises(AlertError):
        world.core.resolve(alert.alert_id, "nurse-1", outcome=Outcome.CANCELLED_BY_RESIDENT)


def test_a_check_answered_at_home_is_resolved_at_once_and_texts_nobody(world: World) -> None:
    asked = Signal(Condition.INACTIVITY_ANSWERED, "res-00001", True, 0, SITE, GW,
                   "no activity for 61 min (active)")
    answered = asked._replace(active=False, detail="the resident answered")
    world.core.handle([asked, answered])
    [alert] = world.db.alerts.find()
    assert alert.state is AlertState.RESOLVED
    assert world.db.alerts.find(open_only=True) == []
    world.step(900)
    assert world.sms.sent == [] and world.webhook.sent == []
