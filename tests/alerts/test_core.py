"""The alert lifecycle and escalation, on a fake clock with recording notifiers."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable

import msgspec
import pytest

from alerts.core import SYSTEM, AlertCore, AlertError
from alerts.model import (
    LOCAL_NODE,
    AlertState,
    Change,
    Condition,
    NoticeState,
    Outcome,
    Signal,
)
from alerts.notify.base import NotifyError
from alerts.notify.dispatch import CLAIM_STALE_MS, Dispatcher
from alerts.policy import Policies, PolicyError, PolicyFile
from telemetry.clock import FakeClock
from tests.alerts.conftest import POLICY, RecordingNotifier, World

SITE, GW = "site-000", "gw-00000"


def fall(resident: str = "res-00001", t: int = 0, detail: str = "fall reported") -> Signal:
    return Signal(Condition.FALL, resident, True, t, SITE, GW, detail, "pendant")


def test_one_alert_per_condition_and_resident_while_open(world: World) -> None:
    for _ in range(5):
        world.core.handle([fall()])
    alerts = world.db.alerts.find()
    assert len(alerts) == 1 and alerts[0].repeats == 4
    assert [c.change for c in world.changes] == [Change.OPENED] + [Change.UPDATED] * 4
    world.core.handle([fall("res-00000")])
    assert len(world.db.alerts.find()) == 2


def test_the_desk_is_told_at_once_and_the_family_after_a_minute(world: World) -> None:
    world.core.handle([fall()])
    assert world.changes[0].change is Change.OPENED  # the dashboard's event, at once
    world.step(59)
    assert world.sms.sent == []
    world.step(1)
    assert [n.recipient for n in world.sms.sent] == ["+86000000000001"]
    assert "Test Resident B" in world.sms.sent[0].body and "跌倒" in world.sms.sent[0].body
    world.step(119)
    assert len(world.sms.sent) == 1
    world.step(1)  # no answer in 120 s: the next contact, in English
    assert [n.recipient for n in world.sms.sent] == ["+86000000000001", "+86000000000002"]
    assert world.sms.sent[1].body.startswith("Eldercare: Test Resident B: a possible fall")
    world.step(300 - 180)
    assert len(world.webhook.sent) == 1
    rescue = json.loads(world.webhook.sent[0].payload)
    assert rescue["resident"] == {"name": "Test Resident B", "room": "room-102",
                                  "medical_notes": "demo only; chronic low SpO2"}
    assert rescue["site"]["address"] == "1 Example Road"
    assert rescue["condition"] == "fall"
    world.step(3600)
    assert (len(world.sms.sent), len(world.webhook.sent)) == (2, 1)  # nothing twice


def test_acknowledging_stops_the_chain_until_the_ack_timeout(world: World) -> None:
    world.core.handle([fall()])
    world.step(70)
    alert = world.db.alerts.find()[0]
    acked = world.core.acknowledge(alert.alert_id, "nurse-1", "on my way")
    assert (acked.state, acked.acked_by, acked.note, acked.owner) == \
        (AlertState.ACKNOWLEDGED, "nurse-1", "on my way", "nurse-1")
    world.step(890)  # the fall's ack timeout is 900 s (tests/alerts/test_response.py)
    assert len(world.sms.sent) == 1 and world.webhook.sent == []
    with pytest.raises(AlertError):
        world.core.acknowledge(alert.alert_id, "nurse-2")
    resolved = world.core.resolve(alert.alert_id, "nurse-1", "bruise, no injury",
                                  outcome=Outcome.HELPED_UP)
    assert resolved.state is AlertState.RESOLVED and resolved.resolved_by == "nurse-1"
    whats = [e.what for e in world.db.timeline.of(alert.alert_id)]
    assert whats == ["opened", "notice_queued", "taken", "resolved"]


def test_an_undelivered_sms_moves_on_to_the_next_contact_at_once(world: World) -> None:
    world.sms.fail = NotifyError("kannel unreachable", retryable=True)
    world.core.handle([fall()])
    world.step(61)
    notices = world.db.notices.of()
    # the first contact's SMS keeps waiting in the outbox, the second is queued at once
    assert [(n.contact, n.state) for n in notices] == \
        [(0, NoticeState.PENDING), (1, NoticeState.PENDING)]
    world.sms.fail = None
    world.step(15)
    assert sorted(n.recipient for n in world.sms.sent) == ["+86000000000001",
                                                           "+86000000000002"]


def test_a_permanent_failure_is_not_retried(world: World) -> None:
    world.sms.fail = NotifyError("bad number", retryable=False)
    world.core.handle([fall("res-00000")])
    world.step(200)
    (notice,) = world.db.notices.of()
    assert notice.state is NoticeState.FAILED and notice.attempts == 1


def test_a_family_reply_acknowledges(world: World) -> None:
    world.core.handle([fall()])
    world.step(61)
    assert world.core.sms_reply("+86000000000009", "1").alert is None  # a stranger
    alert = world.core.sms_reply("+86000000000001", "1").alert
    assert alert is not None and alert.state is AlertState.ACKNOWLEDGED
    assert alert.acked_by == "family contact #0 by SMS"
    world.step(600)
    assert len(world.sms.sent) == 1 and world.webhook.sent == []


@pytest.mark.parametrize("reply", ["I can't come", "who is this?", "2", "No",
                                   "Auto-reply: I am out of the office", "不是我", ""])
def test_a_reply_that_is_not_yes_is_shown_to_the_desk_and_escalation_goes_on(
        world: World, reply: str) -> None:
    world.core.handle([fall()])
    world.step(61)
    alert = world.core.sms_reply("+86000000000001", reply).alert
    assert alert is not None and alert.state is AlertState.OPEN
    assert world.changes[-1].change is Change.UPDATED  # the desk's live feed hears of it
    (message,) = [e for e in world.db.timeline.of(alert.alert_id) if e.what == "family_message"]
    assert message.who == "family contact #0 by SMS" and message.detail == reply
    world.step(300)  # the next family contact, then rescue, as if nobody had answered
    assert [n.recipient for n in world.sms.sent] == ["+86000000000001", "+86000000000002"]
    assert len(world.webhook.sent) == 1


@pytest.mark.parametrize("reply", ["1", " 1 ", "YES", "yes.", "Y", "是", "是的。"])
def test_an_explicit_yes_in_either_language_acknowledges(world: World, reply: str) -> None:
    world.core.handle([fall()])
    world.step(61)
    alert = world.core.sms_reply("+86000000000001", reply).alert
    assert alert is not None and alert.state is AlertState.ACKNOWLEDGED
    assert "1" in world.sms.sent[0].body and "是" in world.sms.sent[0].body  # it says how


def _one_daughter_for_both(world: World) -> None:
    """res-00000's family contact is res-00001's first contact too (one phone)."""
    both = world.registry.residents["res-00001"].contacts[0]
    mother = world.registry.residents["res-00000"]
    world.registry.residents["res-00000"] = msgspec.structs.replace(mother, contacts=[both])


def test_one_contact_for_two_residents_a_yes_acknowledges_only_the_alarm_it_names(
        world: World) -> None:
    _one_daughter_for_both(world)
    world.use_rescue_webhook("http://127.0.0.1:9/rescue")
    world.core.handle([fall("res-00001")])  # the father falls
    world.step(30)
    world.core.handle([fall("res-00000")])  # the mother, half a minute later
    world.step(31)  # the father's SMS is out; the mother's not yet
    father, mother = sorted(world.db.alerts.find(), key=lambda a: a.opened_ms)
    assert [n.body for n in world.sms.sent] == [world.db.notices.of(father.alert_id)[0].body]
    assert f"1 A{father.alert_id}" in world.sms.sent[0].body  # the SMS says how to answer it
    world.step(30)  # now both SMS are out, to the one phone
    assert [n.recipient for n in world.sms.sent] == ["+86000000000001"] * 2
    # a bare "1" could mean either: nothing is acknowledged, and the answer asks which
    reply = world.core.sms_reply("+86000000000001", "1")
    assert reply.alert is None
    assert f"A{father.alert_id}" in reply.answer and f"A{mother.alert_id}" in reply.answer
    assert "Test Resident A" in reply.answer and "Test Resident B" in reply.answer
    assert {a.state for a in world.db.alerts.find()} == {AlertState.OPEN}
    # the daughter answers her father's SMS, as it asks
    acked = world.core.sms_reply("+86000000000001", f"1 A{father.alert_id}").alert
    assert acked is not None and acked.alert_id == father.alert_id
    assert acked.state is AlertState.ACKNOWLEDGED
    # the mother's alarm goes on to rescue; the father's does not
    world.step(300)
    rescued = [json.loads(n.payload)["alert_id"] for n in world.webhook.sent]
    assert rescued == [mother.alert_id]
    # with one alarm left open to that phone, a bare yes is the mother's
    left = world.core.sms_reply("+86000000000001", "是").alert
    assert left is not None and left.alert_id == mother.alert_id


def test_a_reference_to_an_alarm_not_texted_to_that_phone_acknowledges_nothing(
        world: World) -> None:
    world.core.handle([fall("res-00001")])
    world.step(61)
    (alert,) = world.db.alerts.find()
    reply = world.core.sms_reply("+86000000000001", f"1 A{alert.alert_id + 1}")
    assert reply.alert is None and reply.answer  # asked which
    assert world.db.alerts.get(alert.alert_id).state is AlertState.OPEN  # type: ignore[union-attr]
    assert world.core.sms_reply("+86000000000001", f"yes a{alert.alert_id}").alert \
        is not None


def test_a_restart_resumes_without_storm_or_duplicates(world: World) -> None:
    world.core.handle([fall()])
    world.step(61)
    assert len(world.sms.sent) == 1
    world.db.close()
    world.open()  # restart: the detectors will say "fall" again
    world.core.handle([fall()])
    assert len(world.db.alerts.find()) == 1
    world.step(300)
    assert [n.contact for n in world.sms.sent] == [0, 1]
    assert len(world.webhook.sent) == 1


def test_a_notice_in_flight_at_a_crash_is_sent_again(world: World) -> None:
    world.core.handle([fall()])
    world.step(59)
    world.clock.advance(1)
    assert world.core.tick() == 1  # the first SMS step is due: its notice is queued
    notice = world.db.notices.of()[0]
    assert world.db.outbox.claim(notice.notice_id)  # the dispatcher took it ...
    world.db.close()  # ... and was killed inside the HTTP call
    world.open()
    world.step(1)
    assert world.db.notices.get(notice.notice_id).state is NoticeState.SENT  # type: ignore[union-attr]


def test_a_live_nodes_notice_in_flight_is_left_to_it_and_a_dead_nodes_is_sent_once(
        world: World) -> None:
    """Several alert nodes share one outbox: a node claims a notice before it sends it, so
    only one node sends each; when a node dies while sending, another sends it again."""
    world.core.handle([fall()])
    world.step(59)
    world.clock.advance(1)
    assert world.core.tick() == 1
    notice = world.db.notices.of()[0]
    assert world.db.outbox.claim(notice.notice_id, "node-b")  # node-b is sending it
    assert not world.db.outbox.claim(notice.notice_id, "node-a")  # so node-a cannot
    assert world.dispatcher.recover(keep=("local", "node-b")) == 0  # node-b is alive
    world.step(5)
    assert world.sms.sent == []
    assert world.dispatcher.recover(keep=("local",)) == 1  # node-b's heartbeat expired
    world.step(5)
    assert [n.notice_id for n in world.sms.sent] == [notice.notice_id]
    assert world.dispatcher.recover(keep=("local",)) == 0  # sent: nothing goes twice


class _PausedAfterClaim:
    """A node's clock that stops after its dispatcher has claimed a notice (SIGSTOP, a
    stalled VM): the time is moved on by ``pause_s`` and ``meanwhile`` runs."""

    def __init__(self, clock: FakeClock, pause_s: float, meanwhile: Callable[[], None]) -> None:
        self.clock, self.pause_s, self.meanwhile = clock, pause_s, meanwhile
        self.calls = 0

    def now_ms(self) -> int:
        self.calls += 1
        if self.calls == 3:  # due notices, the claim; the pause comes right after
            self.clock.advance(self.pause_s)
            self.meanwhile()
        return self.clock.now_ms()


@pytest.mark.parametrize("pause_s", [1, 20])
def test_a_node_paused_after_claiming_a_notice_and_another_node_send_it_once(
        world: World, pause_s: float) -> None:
    """Node B claims an SMS and is paused before it sends. Node A sends it again only once
    the claim is older than the longest send could take; B, resumed, sends it only if its
    claim is still fresh. Either way the family gets one SMS."""
    world.core.handle([fall()])
    world.step(59)
    world.clock.advance(1)
    assert world.core.tick() == 1
    sms_a, sms_b = RecordingNotifier(), RecordingNotifier()
    node_a = Dispatcher(world.db, world.core, {"sms": sms_a}, world.clock, node_id="node-a")
    requeued: list[int] = []

    def node_a_meanwhile() -> None:  # B's heartbeat has expired: A is the only live node
        requeued.append(node_a.recover(keep=("node-a",)))
        node_a.run_once()

    node_b = Dispatcher(world.db, world.core, {"sms": sms_b},
                        _PausedAfterClaim(world.clock, pause_s, node_a_meanwhile),  # type: ignore[arg-type]
                        node_id="node-b")
    node_b.run_once()
    for _ in range(5):
        world.clock.advance(1)
        node_a.run_once()
        node_b.run_once()
    assert len(sms_a.sent) + len(sms_b.sent) == 1
    if pause_s < CLAIM_STALE_MS / 1000:
        assert requeued == [0] and len(sms_b.sent) == 1  # not A's yet: B was not dead long
    else:
        assert requeued == [1] and len(sms_a.sent) == 1  # A sent it; B put nothing back
    (notice,) = world.db.notices.of()
    assert notice.state is NoticeState.SENT


def test_self_clearing_conditions_resolve_and_flapping_is_held(world: World) -> None:
    spo2 = Signal(Condition.SPO2_LOW, "res-00000", True, 0, SITE, GW, "spo2 85 %")
    ok = spo2._replace(active=False, detail="spo2 95 %")
    world.core.handle([spo2])
    world.core.handle([ok])
    (alert,) = world.db.alerts.find()
    assert alert.state is AlertState.RESOLVED and alert.resolved_by == SYSTEM
    for _ in range(3):
        world.step(60)
        world.core.handle([spo2])
        world.core.handle([ok])
    (alert,) = world.db.alerts.find()  # reopened, not duplicated
    assert alert.flaps == 3
    world.step(3600)
    assert world.sms.sent == []


def test_a_fall_stays_open_when_the_condition_ends(world: World) -> None:
    world.core.handle([fall()])
    world.core.handle([fall()._replace(active=False, detail="radar: none")])
    (alert,) = world.db.alerts.find()
    assert alert.state is AlertState.OPEN and not alert.active


def test_a_silence_keeps_the_alert_on_the_desk_but_stops_escalation(world: World) -> None:
    now = world.clock.now_ms()
    world.core.silence("res-00001", now + 3_600_000, "nurse-1", "staff in the room")
    world.core.handle([fall()])
    (alert,) = world.db.alerts.find()
    assert alert.silenced and alert.state is AlertState.OPEN
    world.step(600)
    assert world.sms.sent == []
    world.core.resolve(alert.alert_id, "nurse-1", outcome=Outcome.HELPED_UP)
    world.step(3600)  # the silence has ended
    world.core.handle([fall()])
    world.step(61)
    assert len(world.sms.sent) == 1


def test_an_offline_gateway_inhibits_device_silence(world: World) -> None:
    """The inhibit stage reads the device-health detector's view of the gateways: the
    one view, whichever node holds it."""
    silent = Signal(Condition.DEVICE_SILENT, f"{GW}/bed-vitals", True, 0, SITE, GW, "silent")
    world.core.handle([*world.health.gateway_status(GW, SITE, False, 0), silent])
    assert [a.condition for a in world.db.alerts.find()] == [Condition.GATEWAY_OFFLINE]
    world.core.handle(world.health.gateway_status(GW, SITE, True, 1000))
    world.core.handle([silent])
    assert {a.condition for a in world.db.alerts.find(state=AlertState.OPEN)} == \
        {Condition.DEVICE_SILENT}


@pytest.mark.parametrize(("failure", "retried"), [
    (http.client.RemoteDisconnected("Remote end closed connection"), True),
    (ConnectionResetError("reset by peer"), True),
    (TimeoutError("timed out"), True),
    (ValueError("unknown url type: '+86000000000001'"), False),
    (KeyError("a bug"), False),
])
def test_any_notifier_failure_is_classified_and_no_notice_stays_sending(
        world: World, failure: Exception, retried: bool) -> None:
    world.sms.fail = failure  # type: ignore[assignment]
    world.core.handle([fall("res-00000"), fall("res-00001")])
    world.step(61)  # both SMS due in the same tick: the first failure skips nothing
    notices = world.db.notices.of()
    assert NoticeState.SENDING not in {n.state for n in notices}
    first = [n for n in notices if n.contact == 0]  # (a failure also moves to the next)
    assert len(first) == 2 and all(n.attempts == 1 for n in first)
    expected = NoticeState.PENDING if retried else NoticeState.FAILED
    assert {n.state for n in first} == {expected}
    assert all(type(failure).__name__ in (n.error or "") for n in first)
    if retried:
        world.sms.fail = None
        world.step(15)
        assert {n.state for n in world.db.notices.of() if n.contact == 0} == {NoticeState.SENT}


def test_a_family_step_on_a_channel_a_contact_cannot_receive_is_refused() -> None:
    policy = json.loads(json.dumps(POLICY))
    policy["default"]["steps"]["fall"][0]["channel"] = "webhook"
    with pytest.raises(PolicyError, match="family contacts"):
        Policies(msgspec.convert(policy, PolicyFile))


def test_a_device_silent_behind_an_offline_gateway_is_inhibited_until_it_is_back(
        world: World) -> None:
    silent = Signal(Condition.DEVICE_SILENT, f"{GW}/pendant", True, 0, SITE, GW, "silent",
                    "pendant")
    world.core.handle([*world.health.gateway_status(GW, SITE, False, 0), silent])
    assert [a.condition for a in world.db.alerts.find()] == [Condition.GATEWAY_OFFLINE]
    assert world.core.counts["inhibited"] == 1
    # back, still silent
    world.core.handle([*world.health.gateway_status(GW, SITE, True, 1000), silent])
    assert Condition.DEVICE_SILENT in {a.condition for a in world.db.alerts.find()}


def test_a_notice_claimed_when_it_is_made_goes_at_once(world: World) -> None:
    """The service's round claims a due step's notice in the commit that makes it and
    sends it at once (one commit fewer before the SMS)."""
    world.core.handle([fall()])
    world.clock.advance(60)
    now = world.clock.now_ms()
    made = world.core.tick_claiming(LOCAL_NODE, now)
    assert [(n.notice_id, n.state, n.attempts) for n in world.db.notices.of()] == \
        [(made[0], NoticeState.SENDING, 1)]
    assert world.dispatcher.deliver(made, now) == 1
    assert [n.state for n in world.db.notices.of()] == [NoticeState.SENT]
    assert [n.recipient for n in world.sms.sent] == ["+86000000000001"]  # the first contact


def test_a_notice_claimed_when_made_is_sent_after_a_crash_before_it_went(
        world: World) -> None:
    world.core.handle([fall()])
    world.clock.advance(60)
    assert world.core.tick_claiming(LOCAL_NODE, world.clock.now_ms())
    world.db.close()  # the process dies before sending it
    world.open()  # at start, what this process left sending goes out again
    world.step(1)
    assert [n.state for n in world.db.notices.of()] == [NoticeState.SENT]
    assert len(world.sms.sent) == 1


def test_a_step_due_as_its_alert_opens_is_made_and_claimed_in_the_alerts_own_commit(
        world: World) -> None:
    """An SOS texts the family at once: the service's core makes that notice in the
    alert's own commit, claimed for this node, and hands it over to be sent; the timers'
    round does not make it again, and a re-raised SOS does not text again."""
    handed: list[tuple[list[int], int]] = []
    core = AlertCore(world.db, world.registry, world.policies, world.clock,
                     [world.changes.append], claim_for=LOCAL_NODE,
                     on_claimed=lambda ids, at: handed.append((ids, at)))
    sos = Signal(Condition.SOS, "res-00001", True, 0, SITE, GW, "button", "button")
    core.handle([sos])
    [(ids, at)] = handed
    assert at == world.clock.now_ms()
    assert [(n.notice_id, n.state, n.recipient) for n in world.db.notices.of()] == \
        [(ids[0], NoticeState.SENDING, "+86000000000001")]
    assert [c.change for c in world.changes] == [Change.OPENED, Change.ESCALATED]
    assert core.tick() == 0  # taken already: the round has nothing to make
    assert world.dispatcher.deliver(ids, at) == 1
    assert [n.recipient for n in world.sms.sent] == ["+86000000000001"]
    core.handle([sos])  # pressed again while open: a repeat, no second text
    assert len(handed) == 1 and len(world.db.notices.of()) == 1
    core.handle([fall()])  # a fall's first step waits a minute: nothing made at once
    assert len(handed) == 1


def test_a_notice_made_as_its_alert_opened_is_sent_after_a_crash_before_it_went(
        world: World) -> None:
    core = AlertCore(world.db, world.registry, world.policies, world.clock, [],
                     claim_for=LOCAL_NODE, on_claimed=lambda ids, at: None)
    core.handle([Signal(Condition.SOS, "res-00001", True, 0, SITE, GW, "button", "button")])
    world.db.close()  # the process dies before the notices thread sends it
    world.open()  # at start, what this process left sending goes out again
    world.step(1)
    assert [n.state for n in world.db.notices.of()] == [NoticeState.SENT]
    assert len(world.sms.sent) == 1
