"""SMS through a real Kannel (bearerbox + smsbox + fakesmsc): the exact text reaches the
SMSC, delivery reports land on the notice, a family reply acknowledges, and a Kannel
outage holds notices in the outbox while escalation moves on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.callbacks import CallbackServer
from alerts.conditions import Condition, Signal
from alerts.local_kannel import LocalKannel
from alerts.notifiers.kannel import KannelNotifier
from alerts.notifiers.webhook import WebhookNotifier, signature
from alerts.state import AlertState, NoticeState
from tests.alerts.conftest import World
from tests.support.http_sink import HttpSink
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration  # needs Debian kannel, kannel-extras (setup.sh dev)

SECRET = b"test-only-webhook-secret"


class SmsWorld(World):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.rescue = HttpSink()
        self.callbacks = CallbackServer(self.core)
        self.callbacks.start()
        self.kannel = LocalKannel(f"{self.callbacks.base_url}/sms/reply?from=%p&text=%a")
        self.kannel.start()
        self.dispatcher.notifiers["sms"] = KannelNotifier(
            self.kannel.sendsms_url, self.kannel.username, self.kannel.password,
            callback_base=self.callbacks.base_url)
        self.dispatcher.notifiers["webhook"] = WebhookNotifier(SECRET)

    def close(self) -> None:
        self.callbacks.close()
        self.kannel.close()
        self.rescue.close()
        self.db.close()


@pytest.fixture
def sms(tmp_path: Path) -> Iterator[SmsWorld]:
    w = SmsWorld(tmp_path / "alerts.db")
    try:
        yield w
    finally:
        w.close()


def fall() -> Signal:
    return Signal(Condition.FALL, "res-00001", True, 0, "site-000", "gw-00001", "fall",
                  "pendant")


def _to(sms: SmsWorld, phone: str) -> list[str]:
    return [m.text for m in sms.kannel.messages() if m.to == phone]


def test_the_exact_text_reaches_the_smsc_and_the_delivery_report_lands(sms: SmsWorld) -> None:
    sms.core.handle([fall()])
    sms.step(60)
    (notice,) = sms.db.notices()
    wait_until(lambda: _to(sms, "+86000000000001") != [], 15, "the SMS at the SMSC")
    assert _to(sms, "+86000000000001") == [notice.body]
    assert "【颐养监护】Test Resident B疑似跌倒" in notice.body  # Chinese, not "??"
    wait_until(lambda: sms.db.notice(notice.notice_id).state  # type: ignore[union-attr]
               is NoticeState.DELIVERED, 15, "the delivery report")
    sms.step(120)  # the second contact reads English
    wait_until(lambda: _to(sms, "+86000000000002") != [], 15, "the English SMS")
    assert _to(sms, "+86000000000002")[0].startswith("Eldercare: Test Resident B")


def test_a_family_reply_by_sms_acknowledges_and_stops_the_chain(sms: SmsWorld) -> None:
    sms.core.handle([fall()])
    sms.step(60)
    wait_until(lambda: _to(sms, "+86000000000001") != [], 15, "the SMS at the SMSC")
    sms.kannel.reply("+86000000000001", "1")
    (alert,) = sms.db.alerts()
    wait_until(lambda: sms.db.alert(alert.alert_id).state  # type: ignore[union-attr]
               is AlertState.ACKNOWLEDGED, 15, "the reply to acknowledge")
    sms.step(600)
    assert _to(sms, "+86000000000002") == []  # the chain stopped
    assert sms.db.notices()[-1].contact == 0


def test_kannel_down_holds_the_sms_and_escalation_moves_on(sms: SmsWorld) -> None:
    sms.kannel.stop_smsbox()
    sms.use_rescue_webhook(sms.rescue.url)
    sms.core.handle([fall()])
    sms.step(61)
    notices = sms.db.notices()
    # both contacts are queued (the first failed, so the second did not wait 120 s)
    assert [(n.contact, n.state) for n in notices] == \
        [(0, NoticeState.PENDING), (1, NoticeState.PENDING)]
    assert all(n.attempts >= 1 and "unreachable" in (n.error or "") for n in notices)
    sms.step(240)  # the rescue step does not wait for the SMS gateway
    (request,) = sms.rescue.requests
    body = json.loads(request.body)
    assert body["resident"]["medical_notes"] == "demo only; chronic low SpO2"
    stamp = request.headers["X-Eldercare-Timestamp"]
    assert request.headers["X-Eldercare-Signature"] == signature(SECRET, stamp, request.body)
    assert sms.kannel.messages() == []
    sms.kannel.start_smsbox()
    sms.step(30)  # the outbox retries once the gateway is back
    wait_until(lambda: len(sms.kannel.messages()) == 2, 15, "the held SMS")
    sms.step(600)
    assert sorted(m.to for m in sms.kannel.messages()) == ["+86000000000001",
                                                           "+86000000000002"]
