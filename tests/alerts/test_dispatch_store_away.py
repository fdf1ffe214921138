"""A notice this node claimed when the store stopped answering is neither dropped nor
sent twice: claimed and not handed over, it goes at a later round; handed over with its
"sent" not written, that is written later and the SMS is not sent again."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.model import Condition, NoticeState, Signal
from alerts.store import StateError
from tests.alerts.conftest import World


def _fall() -> Signal:
    return Signal(Condition.FALL, "res-00001", True, 0, "site-000", "gw-00001", "fall",
                  "pendant")


def _claimed(world: World) -> list[int]:
    world.core.handle([_fall()])
    world.clock.advance(60)  # the family step is due
    return world.core.tick_claiming(world.dispatcher.node_id)


def test_a_claim_the_store_did_not_let_through_is_sent_at_the_next_round(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    claimed = _claimed(world)
    assert len(claimed) == 1
    real = world.db.notices.get

    def away(notice_id: int) -> Any:
        raise StateError("the store is switching")

    monkeypatch.setattr(world.db.notices, "get", away)
    assert world.dispatcher.deliver(claimed, world.clock.now_ms()) == 0
    assert world.sms.sent == [] and world.dispatcher.held() == 1
    monkeypatch.setattr(world.db.notices, "get", real)
    world.clock.advance(1)
    assert world.dispatcher.run_once() == 1
    assert len(world.sms.sent) == 1 and world.dispatcher.held() == 0
    assert world.db.notices.of()[0].state is NoticeState.SENT


def test_a_notice_handed_over_whose_sent_was_not_written_is_not_sent_again(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    claimed = _claimed(world)
    real = world.db.outbox.sent

    def away(*_: object) -> None:
        raise StateError("the store is switching")

    monkeypatch.setattr(world.db.outbox, "sent", away)
    assert world.dispatcher.deliver(claimed, world.clock.now_ms()) == 1
    assert world.db.notices.of()[0].state is NoticeState.SENDING  # not written yet
    monkeypatch.setattr(world.db.outbox, "sent", real)
    for _ in range(3):
        world.clock.advance(1)
        world.dispatcher.run_once()
    assert len(world.sms.sent) == 1  # once
    assert world.db.notices.of()[0].state is NoticeState.SENT
