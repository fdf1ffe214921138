"""The response to an alarm on the alert core, on a fake clock, on SQLite and on
PostgreSQL: take (the answer), hand over and back, dispatch a responder and follow their
replies, non-arrival, cannot come and the ack timeout each with the escalation it causes,
resolve with an outcome, refusals with a reason and a counter; the report's figures by
SQL against a scripted month."""

from __future__ import annotations

import threading

import msgspec
import pytest

from alerts.core import AlertCore, AlertError
from alerts.model import AlertState, Change, Condition, DispatchState, Outcome, Signal
from alerts.policy import Policies, PolicyFile
from alerts.response import DISPATCH_STEP, ResponseError
from alerts.store import AlertStore, StateError
from tests.alerts.conftest import POLICY, World

SITE, GW = "site-000", "gw-00001"  # site-000 is a care home: responders due in 5 min
STAFF = "+86000000000010"  # the site's staff member on duty (the sample registry)
FAMILY_B, FAMILY_C = "+86000000000001", "+86000000000002"


def fall(resident: str = "res-00001") -> Signal:
    return Signal(Condition.FALL, resident, True, 0, SITE, GW, "fall reported", "pendant")


def _open_fall(world: World) -> int:
    world.core.handle([fall()])
    return world.db.alerts.find()[0].alert_id


def _whats(world: World, alert_id: int) -> list[str]:
    return [e.what for e in world.db.timeline.of(alert_id)]


def _dispatch_sms(world: World) -> list[str]:
    return [n.recipient for n in world.sms.sent if n.step == DISPATCH_STEP]


def test_taking_is_the_answer_and_another_user_can_be_handed_it(world: World) -> None:
    alert_id = _open_fall(world)
    world.step(25)
    taken = world.core.response.take(alert_id, "nurse-1")
    assert (taken.state, taken.owner, taken.answered_by) == \
        (AlertState.ACKNOWLEDGED, "nurse-1", "nurse-1")
    assert taken.answered_ms is not None and taken.answered_ms - taken.opened_ms == 25_000
    with pytest.raises(ResponseError, match="yours already"):
        world.core.response.take(alert_id, "nurse-1")
    world.step(10)
    handed = world.core.response.assign(alert_id, "nurse-2", "nurse-1")
    assert handed.owner == "nurse-2" and handed.answered_ms == taken.answered_ms
    world.step(30)  # the family's SMS was due at 60 s: taking paused the chain
    assert world.sms.sent == []
    assert _whats(world, alert_id) == ["opened", "taken", "reassigned"]


def test_an_alarm_taken_and_left_opens_again_at_the_ack_timeout(world: World) -> None:
    alert_id = _open_fall(world)
    world.step(20)
    world.core.response.take(alert_id, "nurse-1")
    world.step(899)
    assert world.db.alerts.get(alert_id).state is AlertState.ACKNOWLEDGED  # type: ignore[union-attr]
    assert world.sms.sent == []
    world.step(2)  # 900 s after the take: neither dispatched nor resolved
    alert = world.db.alerts.get(alert_id)
    assert alert is not None and (alert.state, alert.owner) == (AlertState.OPEN, None)
    assert alert.answered_by == "nurse-1"  # back in the queue; the answer on record
    assert "ack_timeout" in _whats(world, alert_id)
    assert [n.recipient for n in world.sms.sent] == [FAMILY_B]  # the chain goes on at once
    assert world.core.counts.get("ack_timeout") == 1
    world.step(300)  # and on: the next contact, then rescue
    assert [n.recipient for n in world.sms.sent] == [FAMILY_B, FAMILY_C]
    assert len(world.webhook.sent) == 1


def test_a_family_yes_acknowledges_without_answering_and_times_out_too(world: World) -> None:
    alert_id = _open_fall(world)
    world.step(61)  # the first contact is texted
    world.core.sms_reply(FAMILY_B, "1")
    alert = world.db.alerts.get(alert_id)
    assert alert is not None and alert.state is AlertState.ACKNOWLEDGED
    assert alert.answered_ms is None and alert.owner is None
    world.step(901)
    assert world.db.alerts.get(alert_id).state is AlertState.OPEN  # type: ignore[union-attr]


def test_a_responder_is_texted_replies_on_the_way_and_arrives(world: World) -> None:
    alert_id = _open_fall(world)
    world.core.response.take(alert_id, "nurse-1")
    refs = {r.ref: r.contact.name for r in
            world.core.response.responders(world.db.alerts.get(alert_id))}  # type: ignore[arg-type]
    assert refs == {"c0": "Test Family B", "c1": "Test Family C", "s0": "Test Nurse On Duty",
                    "r0": "急救中心"}  # the policy's rescue service, in its language
    sent = world.core.response.dispatch(alert_id, "s0", "nurse-1")
    assert sent.state is DispatchState.SENT and sent.due_ms - sent.sent_ms == 300_000
    world.step(1)
    assert _dispatch_sms(world) == [STAFF]
    body = world.sms.sent[0].body
    assert "1 Example Road" in body and "room-102" in body and "1 A" in body  # where, codes
    assert "0000" not in body  # never a key code in an SMS
    world.step(60)
    world.core.sms_reply(STAFF, "1")
    world.step(120)
    world.core.sms_reply(STAFF, f"2 A{alert_id}")
    moved = world.db.dispatches.of(alert_id)[0]
    assert moved.state is DispatchState.ARRIVED
    assert (moved.on_way_ms - moved.sent_ms, moved.arrived_ms - moved.sent_ms) == \
        (61_000, 181_000)  # type: ignore[operator]
    world.step(1200)  # on site: no non-arrival, and dispatching stopped the ack timeout
    assert world.db.alerts.get(alert_id).state is AlertState.ACKNOWLEDGED  # type: ignore[union-attr]
    world.core.sms_reply(STAFF, "2")  # a code for a finished dispatch: refused, kept
    assert world.core.counts.get("refused:finished") == 1
    assert world.db.dispatches.of(alert_id)[0].state is DispatchState.ARRIVED
    world.core.sms_reply(STAFF, "she is fine, sitting up")
    resolved = world.core.resolve(alert_id, "nurse-1", "helped up",
                                  outcome=Outcome.HELPED_UP)
    assert resolved.outcome == Outcome.HELPED_UP.value
    assert _whats(world, alert_id) == ["opened", "taken", "dispatched", "on_the_way",
                                       "arrived", "refused", "responder_message", "resolved"]
    assert world.sms.sent[0].recipient == STAFF and all(
        n.step == DISPATCH_STEP for n in world.sms.sent)  # the family was never texted


def test_a_responder_not_on_site_in_time_opens_the_alarm_again(world: World) -> None:
    alert_id = _open_fall(world)
    world.core.response.take(alert_id, "nurse-1")
    world.core.response.dispatch(alert_id, "s0", "nurse-1")
    world.step(299)
    assert world.db.dispatches.of(alert_id)[0].state is DispatchState.SENT
    world.step(2)
    assert world.db.dispatches.of(alert_id)[0].state is DispatchState.NOT_ARRIVED
    alert = world.db.alerts.get(alert_id)
    assert alert is not None and alert.state is AlertState.OPEN
    assert "not_arrived" in _whats(world, alert_id)
    assert FAMILY_B in [n.recipient for n in world.sms.sent]  # the chain went on
    assert world.core.counts.get("responder_not_arrived") == 1


def test_a_store_lost_between_non_arrival_and_re_opening_leaves_the_responder_due(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The non-arrival and the alarm's re-opening commit together: a store that fails
    between them leaves the dispatch due for the next round, never an alarm still taken
    with nobody going and nothing to bring it back."""
    alert_id = _open_fall(world)
    world.core.response.take(alert_id, "nurse-1")
    world.core.response.dispatch(alert_id, "s0", "nurse-1")
    world.clock.advance(301)

    def lost(*_: object) -> bool:
        raise StateError("the primary went away")
    monkeypatch.setattr(world.db.answers, "reopen_taken", lost)
    with pytest.raises(StateError):
        world.core.response.due(world.clock.now_ms())
    assert world.db.dispatches.of(alert_id)[0].state is DispatchState.SENT
    assert "not_arrived" not in _whats(world, alert_id)
    monkeypatch.undo()
    world.step(1)  # the store is back: the next round does it, once
    assert world.db.dispatches.of(alert_id)[0].state is DispatchState.NOT_ARRIVED
    assert world.db.alerts.get(alert_id).state is AlertState.OPEN  # type: ignore[union-attr]
    assert _whats(world, alert_id).count("not_arrived") == 1


def test_the_desk_is_told_the_alarm_as_the_store_has_it_not_a_stale_copy(
        world: World) -> None:
    """Two threads change an alarm one after the other and tell the desk in the other
    order: the later telling still carries the store's state (a re-opened alarm is not
    shown taken again)."""
    alert_id = _open_fall(world)
    taken = world.core.response.take(alert_id, "nurse-1")
    world.core.response.give_back(alert_id, "nurse-1", "test")
    world.core._emit(Change.UPDATED, taken)  # the taking thread, late
    last = world.changes[-1].alert
    assert last.state is AlertState.OPEN and last.owner is None


def test_cannot_come_sends_the_next_responder_when_the_policy_says_so(world: World) -> None:
    policy = msgspec.json.decode(msgspec.json.encode(POLICY))
    policy["default"]["response"] = {"send_next": True}
    world.core.policies = Policies(msgspec.convert(policy, PolicyFile))
    alert_id = _open_fall(world)
    world.core.response.take(alert_id, "nurse-1")
    world.core.response.dispatch(alert_id, "s0", "nurse-1")
    world.step(5)
    world.core.sms_reply(STAFF, "9")
    world.step(1)
    states = [(d.name, d.state) for d in world.db.dispatches.of(alert_id)]
    assert states == [("Test Nurse On Duty", DispatchState.CANNOT_COME),
                      ("Test Family B", DispatchState.SENT)]
    assert _dispatch_sms(world) == [STAFF, FAMILY_B]
    assert world.db.alerts.get(alert_id).state is AlertState.ACKNOWLEDGED  # type: ignore[union-attr]


def test_cannot_come_with_nobody_else_going_opens_the_alarm_at_once(world: World) -> None:
    alert_id = _open_fall(world)
    world.core.response.take(alert_id, "nurse-1")
    sent = world.core.response.dispatch(alert_id, "c0", "nurse-1", text=False)  # phoned
    world.core.response.move(sent.dispatch_id, DispatchState.CANNOT_COME, "nurse-1")
    assert world.db.alerts.get(alert_id).state is AlertState.OPEN  # type: ignore[union-attr]
    assert _dispatch_sms(world) == []  # the desk phoned: no SMS


def test_giving_back_or_signing_out_puts_the_alarm_back_in_the_queue(world: World) -> None:
    alert_id = _open_fall(world)
    world.core.response.take(alert_id, "nurse-1")
    back = world.core.response.signed_out("nurse-1")
    assert [a.alert_id for a in back] == [alert_id]
    alert = world.db.alerts.get(alert_id)
    assert alert is not None and (alert.state, alert.owner) == (AlertState.OPEN, None)
    assert alert.answered_by == "nurse-1"  # the answer stays on record
    world.step(61)
    assert [n.recipient for n in world.sms.sent] == [FAMILY_B]  # the chain resumed
    assert _whats(world, alert_id)[-2:] == ["returned", "notice_queued"]


def test_bad_input_is_refused_with_a_reason_and_a_counter(world: World) -> None:
    alert_id = _open_fall(world)
    response = world.core.response
    with pytest.raises(ResponseError) as refused:
        response.dispatch(alert_id, "c9", "nurse-1")
    assert refused.value.reason == "no_responder"
    with pytest.raises(ResponseError) as refused:
        response.dispatch(999, "c0", "nurse-1")
    assert refused.value.reason == "no_alert"
    response.dispatch(alert_id, "c0", "nurse-1")
    with pytest.raises(ResponseError) as refused:
        response.dispatch(alert_id, "c0", "nurse-1")
    assert refused.value.reason == "already_sent"
    with pytest.raises(AlertError, match="needs a note"):
        world.core.resolve(alert_id, "nurse-1", outcome=Outcome.OTHER)
    assert world.core.sms_reply("+86999999999999", "2").alert is None  # an unknown number
    assert world.core.counts.get("sms_reply_unmatched") == 1
    assert world.core.counts.get("refused:no_responder") == 1
    assert world.core.counts.get("refused:already_sent") == 1
    assert world.db.alerts.get(alert_id).state is AlertState.OPEN  # type: ignore[union-attr]
    world.step(61)
    assert FAMILY_B in [n.recipient for n in world.sms.sent]  # the chain unaffected


def test_a_contact_without_a_phone_cannot_be_texted(world: World) -> None:
    resident = world.registry.residents["res-00001"]
    nophone = msgspec.structs.replace(resident.contacts[0], phone=" ")
    world.registry.residents["res-00001"] = msgspec.structs.replace(
        resident, contacts=[nophone])
    alert_id = _open_fall(world)
    with pytest.raises(ResponseError) as refused:
        world.core.response.dispatch(alert_id, "c0", "nurse-1")
    assert refused.value.reason == "no_phone"
    assert world.core.response.dispatch(alert_id, "c0", "nurse-1", text=False).phone == " "


def test_the_report_gives_the_scripted_answer_times_exactly(world: World) -> None:
    """Ten falls of two residents, answered after scripted delays by two operators (one
    never answered): the shares and nearest-rank percentiles are the script's."""
    delays = {"nurse-1": [5, 30, 59, 61, 200], "nurse-2": [10, 170, 179, 181]}
    opened = world.clock.now_ms()
    script: list[tuple[str, int]] = []
    for who, seconds in delays.items():
        script += [(who, s) for s in seconds]
    for i, (who, seconds) in enumerate(script):
        resident = "res-00000" if i % 2 else "res-00001"
        world.core.handle([fall(resident)])
        alert_id = world.db.alerts.find(open_only=True, state=AlertState.OPEN)[0].alert_id
        world.clock.advance(seconds)
        world.core.response.take(alert_id, who)
        world.core.resolve(alert_id, who, outcome=Outcome.FALSE_ALARM if i == 0
                           else Outcome.HELPED_UP)
    world.core.handle([fall()])  # never answered
    report = world.db.reports.answers(opened, world.clock.now_ms() + 1)[0]
    assert (report["alarms"], report["answered"]) == (10, 9)
    assert (report["answered_60s"], report["answered_180s"]) == (4, 7)
    assert report["answered_60s_share"] == 0.4 and report["answered_180s_share"] == 0.7
    everything = sorted(s for _, s in script)  # nearest rank of the 9 answered
    assert report["answer_ms_p50"] == everything[4] * 1000
    assert report["answer_ms_p90"] == everything[8] * 1000
    per = {r["operator"]: r for r in world.db.reports.answers(opened, world.clock.now_ms() + 1,
                                                              by_operator=True)}
    assert (per["nurse-1"]["answered"], per["nurse-1"]["answered_60s"]) == (5, 3)
    assert per["nurse-2"]["answer_ms_p90"] == 181_000
    false = {r["condition"]: r for r in world.db.reports.false_alarms(opened, 2**62)}
    assert false["fall"]["closed"] == 9 and false["fall"]["false_alarm_share"] == 0.1111
    assert world.db.reports.answers(0, 1)[0]["alarms"] == 0  # an empty month


def _press(core: AlertCore, who: str, alert_id: int, start: threading.Barrier,
           won: list[str], refused: list[str]) -> None:
    start.wait()
    try:
        core.response.take(alert_id, who)
        won.append(who)
    except ResponseError as exc:
        refused.append(exc.reason)


def test_two_desks_taking_at_once_on_two_nodes_leave_one_owner(fresh_database: str) -> None:
    """Two alert cores on one PostgreSQL (two nodes): both desks press take at the same
    moment, twenty times over; each time one has it and the other is told it is taken."""
    world = World(fresh_database)
    other = AlertStore(fresh_database)
    try:
        node_b = AlertCore(other, world.registry, world.policies, world.clock)
        for _ in range(20):
            alert_id = _open_fall(world)
            start = threading.Barrier(2)
            won: list[str] = []
            refused: list[str] = []
            threads = [threading.Thread(target=_press, args=(core, who, alert_id, start, won,
                                                             refused))
                       for core, who in ((world.core, "nurse-a"), (node_b, "nurse-b"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            alert = world.db.alerts.get(alert_id)
            assert alert is not None and len(won) == 1 and refused == ["taken"]
            assert alert.owner == won[0] == alert.answered_by
            world.core.resolve(alert_id, won[0], outcome=Outcome.TEST)
    finally:
        other.close()
        world.db.close()


def test_the_desk_sends_the_rescue_service_with_the_rescue_summary(world: World) -> None:
    alert_id = _open_fall(world)
    world.core.response.take(alert_id, "nurse-1")
    refs = [r.ref for r in world.core.response.responders(
        world.db.alerts.get(alert_id))]  # type: ignore[arg-type]
    assert refs[-1] == "r0"  # after the family and the site's staff
    sent = world.core.response.dispatch(alert_id, "r0", "nurse-1")
    assert (sent.role, sent.phone) == ("rescue", "+86000000000120")
    world.step(1)
    (notice,) = [n for n in world.sms.sent if n.step == DISPATCH_STEP]
    assert notice.recipient == "+86000000000120" and "紧急救援" in notice.body
    assert "room-102" in notice.body and world.webhook.sent == []
    world.core.response.move(sent.dispatch_id, DispatchState.ARRIVED, "nurse-1", "phoned")
    assert world.db.dispatches.of(alert_id)[0].state is DispatchState.ARRIVED


def test_a_request_goes_through_the_same_loop_and_never_pages_anyone(world: World) -> None:
    """A meal ordered by phone for 12:00: on the desk, taken, a community worker sent
    with the wanted time as the arrival time, arrived, closed as done; no family SMS and
    no rescue however long it stays open; its own outcomes and its own report rows."""
    wanted = world.clock.now_ms() + 3 * 3600_000
    meal = world.core.response.request("res-00001", Condition.REQUEST_MEAL, "nurse-1",
                                       wanted_ms=wanted, note="lunch, soft food")
    assert (meal.state, meal.wanted_ms, meal.detail) == \
        (AlertState.OPEN, wanted, "lunch, soft food")
    with pytest.raises(ResponseError) as refused:
        world.core.response.request("res-00001", Condition.REQUEST_MEAL, "nurse-1")
    assert refused.value.reason == "open_already"
    with pytest.raises(ResponseError) as refused:
        world.core.response.request("res-00001", Condition.FALL, "nurse-1")
    assert refused.value.reason == "not_offered"
    world.step(1800)  # half an hour unanswered: nobody is paged for a request
    assert world.sms.sent == [] and world.webhook.sent == []
    world.core.response.take(meal.alert_id, "nurse-1")
    sent = world.core.response.dispatch(meal.alert_id, "s0", "nurse-1")
    assert sent.due_ms == wanted
    world.step(3600)  # before the wanted time: no non-arrival, no ack timeout
    assert world.db.dispatches.of(meal.alert_id)[0].state is DispatchState.SENT
    world.core.sms_reply(STAFF, "2")
    with pytest.raises(AlertError, match="not how a request ends"):
        world.core.resolve(meal.alert_id, "nurse-1", outcome=Outcome.HELPED_UP)
    done = world.core.resolve(meal.alert_id, "nurse-1", outcome=Outcome.REQUEST_DONE)
    assert done.outcome == "request_done"
    assert [n.recipient for n in world.sms.sent] == [STAFF]  # the worker only
    span = (meal.opened_ms, world.clock.now_ms() + 1)
    assert world.db.reports.answers(*span)[0]["alarms"] == 0  # not an alarm
    requests = world.db.reports.answers(*span, requests=True)[0]
    assert (requests["alarms"], requests["answer_ms_p50"]) == (1, 1_800_000)
    assert world.db.reports.outcomes(*span, requests=True) == \
        [{"condition": "request_meal", "outcome": "request_done", "alarms": 1}]
    with pytest.raises(AlertError, match="not how an alarm ends"):
        world.core.resolve(_open_fall(world), "nurse-1", outcome=Outcome.REQUEST_DONE)


def test_taking_an_alarm_back_does_not_cancel_a_responder_s_sms_still_queued(
        world: World) -> None:
    """The alarm opened again, a responder sent but not texted yet, then a nurse takes
    it: the escalation's pending SMS are cancelled, the responder's is not."""
    alert_id = _open_fall(world)
    world.core.response.dispatch(alert_id, "s0", "nurse-1")  # queued, not sent yet
    world.core.response.take(alert_id, "nurse-2")
    world.step(1)
    assert _dispatch_sms(world) == [STAFF]


def test_a_bare_code_from_a_responder_sent_to_two_alarms_is_asked_which(world: World) -> None:
    """The nurse on duty sent to two residents' falls answers "2": neither moves; the
    answer asks for the reference; "2 A<id>" then moves the one it names."""
    first = _open_fall(world)
    world.core.handle([fall("res-00000")])
    second = next(a.alert_id for a in world.db.alerts.find() if a.subject == "res-00000")
    world.core.response.dispatch(first, "s0", "nurse-1")
    world.core.response.dispatch(second, "s0", "nurse-1")
    reply = world.core.sms_reply(STAFF, "2")
    assert f"A{first}" in reply.answer and f"A{second}" in reply.answer
    assert [d.state for a in (first, second) for d in world.db.dispatches.of(a)] == \
        [DispatchState.SENT, DispatchState.SENT]
    world.core.sms_reply(STAFF, f"2 A{second}")
    assert world.db.dispatches.of(second)[0].state is DispatchState.ARRIVED
    assert world.db.dispatches.of(first)[0].state is DispatchState.SENT
