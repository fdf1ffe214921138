"""SMS through a real Kannel (bearerbox + smsbox + fakesmsc): the exact text reaches the
SMSC, delivery reports land on the notice, a family reply acknowledges, and a Kannel
outage holds notices in the outbox while escalation moves on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from alerts.model import AlertState, Condition, NoticeState, Signal
from alerts.notify.callbacks import CallbackServer
from alerts.notify.kannel import KannelNotifier
from alerts.notify.webhook import WebhookNotifier
from harness.kannel import LocalKannel, reply_url
from tests.alerts.conftest import World
from tests.support.http_sink import HttpSink
from tests.support.wait import wait_until
from tests.support.webhook import receiver_accepts

pytestmark = pytest.mark.integration  # needs Debian kannel, kannel-extras (setup.sh dev)

SECRET = b"test-only-webhook-secret"
TOKEN = "test-only-callback-token"


class SmsWorld(World):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.rescue = HttpSink()
        self.callbacks = CallbackServer(self.core, token=TOKEN)
        self.callbacks.start()
        self.kannel = LocalKannel(reply_url(self.callbacks.port, TOKEN))
        self.kannel.start()
        self.dispatcher.notifiers["sms"] = KannelNotifier(
            self.kannel.sendsms_url, self.kannel.username, self.kannel.password,
            callback_base=self.callbacks.base_url, callback_token=TOKEN)
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
    (notice,) = sms.db.notices.of()
    wait_until(lambda: _to(sms, "+86000000000001") != [], 15, "the SMS at the SMSC")
    assert _to(sms, "+86000000000001") == [notice.body]
    assert "【颐养监护】Test Resident B疑似跌倒" in notice.body  # Chinese, not "??"
    wait_until(lambda: sms.db.notices.get(notice.notice_id).state  # type: ignore[union-attr]
               is NoticeState.DELIVERED, 15, "the delivery report")
    sms.step(120)  # the second contact reads English
    wait_until(lambda: _to(sms, "+86000000000002") != [], 15, "the English SMS")
    assert _to(sms, "+86000000000002")[0].startswith("Eldercare: Test Resident B")


def test_a_family_reply_by_sms_acknowledges_and_stops_the_chain(sms: SmsWorld) -> None:
    sms.core.handle([fall()])
    sms.step(60)
    wait_until(lambda: _to(sms, "+86000000000001") != [], 15, "the SMS at the SMSC")
    sms.kannel.reply("+86000000000001", "1")
    (alert,) = sms.db.alerts.find()
    wait_until(lambda: sms.db.alerts.get(alert.alert_id).state  # type: ignore[union-attr]
               is AlertState.ACKNOWLEDGED, 15, "the reply to acknowledge")
    sms.step(600)
    assert _to(sms, "+86000000000002") == []  # the chain stopped
    assert sms.db.notices.of()[-1].contact == 0


def test_kannel_down_holds_the_sms_and_escalation_moves_on(sms: SmsWorld) -> None:
    sms.kannel.stop_smsbox()
    sms.use_rescue_webhook(sms.rescue.url)
    sms.core.handle([fall()])
    sms.step(61)
    notices = sms.db.notices.of()
    # both contacts are queued (the first failed, so the second did not wait 120 s)
    assert [(n.contact, n.state) for n in notices] == \
        [(0, NoticeState.PENDING), (1, NoticeState.PENDING)]
    assert all(n.attempts >= 1 and "unreachable" in (n.error or "") for n in notices)
    sms.step(240)  # the rescue step does not wait for the SMS gateway
    (request,) = sms.rescue.requests
    body = json.loads(request.body)
    assert body["resident"]["medical_notes"] == "demo only; chronic low SpO2"
    assert receiver_accepts(SECRET, request.headers, request.body)
    assert sms.kannel.messages() == []
    sms.kannel.start_smsbox()

    def delivered() -> bool:  # time goes on while we wait: the outbox retries as it does
        sms.step(1)
        return len(sms.kannel.messages()) == 2

    wait_until(delivered, 30, "the held SMS, once the gateway is back")
    sms.step(600)
    assert sorted(m.to for m in sms.kannel.messages()) == ["+86000000000001",
                                                           "+86000000000002"]


@pytest.mark.parametrize("token", [None, "", "wrong-token-of-some-length"])
def test_callbacks_without_the_secret_acknowledge_nothing(sms: SmsWorld,
                                                          token: str | None) -> None:
    """Someone on the network reaches the callback port: a forged "yes" or delivery report
    is refused (403, counted) and the escalation goes on."""
    sms.core.handle([fall()])
    sms.step(60)
    (alert,) = sms.db.alerts.find()
    (notice,) = sms.db.notices.of()
    suffix = "" if token is None else f"&token={token}"
    base = sms.callbacks.base_url
    for path in (f"/sms/reply?from=%2B86000000000001&text=1{suffix}",
                 f"/sms/dlr?notice={notice.notice_id}&status=16{suffix}"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + path, timeout=5)
        refused.value.close()
        assert refused.value.code == 403
    assert sms.callbacks.refused == 2  # and Kannel's own report, with the secret, is taken:
    wait_until(lambda: sms.db.notices.get(notice.notice_id).state  # type: ignore[union-attr]
               is NoticeState.DELIVERED, 15, "the genuine delivery report")
    assert sms.db.alerts.get(alert.alert_id).state is AlertState.OPEN  # type: ignore[union-attr]
    with urllib.request.urlopen(f"{base}/sms/reply?from=%2B86000000000001&text=1&token="
                                f"{TOKEN}", timeout=5) as ok:
        assert ok.status == 200
    assert sms.db.alerts.get(alert.alert_id).state is AlertState.ACKNOWLEDGED  # type: ignore[union-attr]


def test_settings_with_kannel_and_no_callback_secret_are_refused(tmp_path: Path) -> None:
    from alerts.settings import AlertSettings, KannelSettings, SettingsError

    settings = AlertSettings(policy="p.yaml", kannel=KannelSettings(
        "http://127.0.0.1:9/cgi-bin/sendsms", "u", str(tmp_path / "pw")))
    with pytest.raises(SettingsError, match="reply_token_file"):
        settings.reply_token()


def test_a_bare_yes_from_the_contact_of_two_open_alarms_is_asked_which_by_sms(
        sms: SmsWorld) -> None:
    both = sms.registry.residents["res-00001"].contacts[0]
    mother = sms.registry.residents["res-00000"]
    sms.registry.residents["res-00000"] = msgspec.structs.replace(mother, contacts=[both])
    sms.core.handle([fall(), Signal(Condition.FALL, "res-00000", True, 0, "site-000",
                                    "gw-00000", "fall", "pendant")])
    sms.step(60)
    wait_until(lambda: len(_to(sms, "+86000000000001")) == 2, 15, "both SMS at the SMSC")
    sms.kannel.reply("+86000000000001", "1")
    wait_until(lambda: len(_to(sms, "+86000000000001")) == 3, 15, "the question back")
    question = _to(sms, "+86000000000001")[-1]
    refs = sorted(f"A{a.alert_id}" for a in sms.db.alerts.find())
    assert all(ref in question for ref in refs) and "请回复" in question  # Chinese, not "??"
    assert {a.state for a in sms.db.alerts.find()} == {AlertState.OPEN}
    sms.kannel.reply("+86000000000001", f"1 {refs[0]}")
    wait_until(lambda: sms.db.alerts.find(state=AlertState.ACKNOWLEDGED) != [], 15,
               "the named alarm acknowledged")
    (acked,) = sms.db.alerts.find(state=AlertState.ACKNOWLEDGED)
    assert f"A{acked.alert_id}" == refs[0]
    assert len(sms.db.alerts.find(state=AlertState.OPEN)) == 1


def test_a_responder_is_texted_and_replies_on_the_way_then_arrived_through_kannel(
        sms: SmsWorld) -> None:
    """The dispatch SMS at the SMSC says who, where and the reply codes; the responder's
    "1" and "2" come back through Kannel's sms-service and move the dispatch on."""
    sms.core.handle([fall()])
    (alert,) = sms.db.alerts.find()
    sms.core.response.take(alert.alert_id, "nurse-1")
    sms.core.response.dispatch(alert.alert_id, "s0", "nurse-1")
    sms.step(1)
    staff = "+86000000000010"
    wait_until(lambda: _to(sms, staff) != [], 15, "the dispatch SMS at the SMSC")
    (text,) = _to(sms, staff)
    assert "Test Nurse On Duty" in text and "1 Example Road" in text and "room-102" in text
    assert f"“1 A{alert.alert_id}”出发" in text and f"“9 A{alert.alert_id}”无法前往" in text

    def state() -> str:
        return sms.db.dispatches.of(alert.alert_id)[0].state.value

    sms.kannel.reply(staff, f"1 A{alert.alert_id}")
    wait_until(lambda: state() == "on_the_way", 15, "on the way, by SMS")
    sms.kannel.reply(staff, "2")
    wait_until(lambda: state() == "arrived", 15, "arrived, by SMS")
    sms.kannel.reply(staff, "9")  # too late: refused on the timeline, the dispatch kept
    wait_until(lambda: "refused" in [e.what for e in sms.db.timeline.of(alert.alert_id)],
               15, "the late code refused")
    assert state() == "arrived"
    assert _to(sms, "+86000000000001") == []  # the family was never texted
