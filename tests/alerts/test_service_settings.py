"""The alert service: it refuses to start on settings that would silently not send an SMS,
and its timer thread can be driven by a caller that owns the clock."""

from __future__ import annotations

import threading
from pathlib import Path

import msgspec
import pytest
import yaml

import registry as registry_module
from alerts.model import Condition, NoticeState
from alerts.notify.kannel import KannelNotifier
from alerts.service import AlertService
from alerts.settings import AlertSettings, KannelSettings, SettingsError
from harness.process import free_port
from telemetry.clock import FakeClock, SystemClock
from telemetry.kinds import FallStatus, Kind
from tests.support.readings import T0, reading
from tests.support.wait import wait_until


def _policy(tmp_path: Path) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"default": {"steps": {"fall": [
        {"after_s": 60, "channel": "sms", "to": "family"}]}}}))
    return str(path)


def test_sms_steps_without_an_sms_gateway_are_a_startup_error(tmp_path: Path) -> None:
    settings = AlertSettings(policy=_policy(tmp_path))
    with pytest.raises(SettingsError, match="sends SMS"):
        AlertService(settings, registry_module.load(registry_module.SAMPLE), FakeClock(T0),
                     tmp_path)


def test_sms_printed_on_the_console_only_when_the_config_says_so(tmp_path: Path) -> None:
    settings = AlertSettings(policy=_policy(tmp_path), callback_port=0, sms="console")
    service = AlertService(settings, registry_module.load(registry_module.SAMPLE),
                           FakeClock(T0), tmp_path)
    service.callbacks.close()
    service.db.close()


def test_tick_now_runs_a_timer_round_on_the_service_thread(tmp_path: Path) -> None:
    """A caller driving the clock (the soak) gets a whole round of the timer thread: a fall
    whose SMS step falls due on the fake clock is texted before ``tick_now`` returns."""
    settings = AlertSettings(policy=_policy(tmp_path), callback_port=free_port(),
                             sms="console")
    clock = FakeClock(T0)
    service = AlertService(settings, registry_module.load(registry_module.SAMPLE), clock,
                           tmp_path)
    service.start()
    try:
        service.consume([reading(Kind.FALL, float(FallStatus.FALL), T0,
                                 device_id="bathroom-radar")])
        assert service.tick_now()
        assert [a.condition for a in service.db.alerts.find(open_only=True)] == [Condition.FALL]
        assert service.db.notices.of() == []  # the SMS step is 60 s after the fall
        clock.advance(61)
        assert service.tick_now()
        assert [n.state for n in service.db.notices.of()] == [NoticeState.SENT]
    finally:
        service.close()
    assert not service.tick_now(timeout_s=1)  # a stopped service runs no more rounds


def test_a_wildcard_callback_address_without_the_url_kannel_calls_is_refused() -> None:
    kannel = {"sendsms_url": "http://127.0.0.1:13013/cgi-bin/sendsms", "username": "u",
              "password_file": "/dev/null"}
    table = {"policy": "p.yaml", "callback_host": "0.0.0.0", "kannel": kannel}
    with pytest.raises(msgspec.ValidationError, match="callback_url"):
        msgspec.convert(table, AlertSettings)
    with pytest.raises(msgspec.ValidationError, match="own address"):
        msgspec.convert({**table, "callback_url": "http://0.0.0.0:13080"}, AlertSettings)
    ok = msgspec.convert({**table, "callback_url": "http://node-2.example.org:13080"},
                         AlertSettings)
    assert ok.callback_url == "http://node-2.example.org:13080"


def test_the_delivery_reports_of_a_node_go_to_its_advertised_address(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("test-only-callback-token")
    settings = AlertSettings(
        policy=_policy(tmp_path), callback_host="0.0.0.0", callback_port=0,
        callback_url="http://node-2.example.org:13080", reply_token_file=str(token),
        kannel=msgspec.convert({"sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms",
                                "username": "u", "password_file": str(token)},
                               KannelSettings))
    service = AlertService(settings, registry_module.load(registry_module.SAMPLE),
                           FakeClock(T0), tmp_path)
    try:
        sms = service.dispatcher.notifiers["sms"]
        assert isinstance(sms, KannelNotifier)
        assert sms.callback_base == "http://node-2.example.org:13080"
    finally:
        service.callbacks.close()
        service.db.close()


def test_the_notices_thread_queries_the_store_only_when_something_is_due(
        tmp_path: Path) -> None:
    """Idle, the escalation and outbox thread sleeps until the store's earliest due time
    (here: nothing due, so until woken); a fall wakes it at once and its SMS goes."""
    path = tmp_path / "now.yaml"
    path.write_text(yaml.safe_dump({"default": {"steps": {"fall": [
        {"after_s": 0, "channel": "sms", "to": "family"}]}}}))
    settings = AlertSettings(policy=str(path), callback_port=free_port(), sms="console")
    service = AlertService(settings, registry_module.load(registry_module.SAMPLE),
                           SystemClock(), tmp_path)
    queries: list[str] = []
    backend = service.db.backend
    execute = backend.execute

    def counted(sql: str, args: tuple[object, ...] = ()) -> object:
        if threading.current_thread().name == "alert-notices":
            queries.append(sql)
        return execute(sql, args)
    backend.execute = counted  # type: ignore[method-assign,assignment]
    service.start()
    try:
        wait_until(lambda: service.store_looks >= 1, 10, "the first look at the store")
        looked = len(queries)
        rounds = service.timer_rounds()
        wait_until(lambda: service.timer_rounds() >= rounds + 10, 10,
                   "ten rounds of the detectors' timers")
        assert len(queries) == looked  # idle: not one query
        assert service.store_looks == 1
        service.consume([reading(Kind.FALL, float(FallStatus.FALL), SystemClock().now_ms(),
                                 device_id="bathroom-radar")])
        wait_until(lambda: [n.state for n in service.db.notices.of()] ==
                   [NoticeState.SENT], 10, "the family SMS")
        assert len(queries) > looked
    finally:
        service.close()
