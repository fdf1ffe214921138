"""Retention runs in the central process: old raw readings are rolled up, old aggregates and
long-resolved alerts go, and nothing open is ever removed."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import yaml

import registry
from alerts.core import AlertCore
from alerts.model import AlertState, Condition, Outcome, Signal
from alerts.policy import Policies, PolicyFile
from alerts.store import AlertStore
from central import config
from central.config import CentralConfigError, RetentionConfig
from central.process import CentralProcess
from central.retention import Retention
from harness.mosquitto import LocalMosquitto
from ingest.store.sqlite import SqliteStore
from runtime.broker import BrokerConnection
from telemetry.clock import DAY_MS, FakeClock, SystemClock
from telemetry.kinds import Kind
from tests.alerts.conftest import POLICY
from tests.support.readings import reading
from tests.support.wait import wait_until

CFG = RetentionConfig(raw_days=2, rollup_days=10, resolved_alert_days=30, every_s=3600)


def _alerts(db: AlertStore, clock: FakeClock) -> AlertCore:
    return AlertCore(db, registry.load(registry.SAMPLE),
                     Policies(msgspec.convert(POLICY, PolicyFile)), clock)


def _fall(resident: str, t_ms: int) -> Signal:
    return Signal(Condition.FALL, resident, True, t_ms, "site-000", "gw-00000", "fall",
                  "pendant")


def test_a_round_rolls_up_raw_drops_old_aggregates_and_long_resolved_alerts(
        tmp_path: Path) -> None:
    start = SystemClock().now_ms() // DAY_MS * DAY_MS - 60 * DAY_MS
    clock = FakeClock(start)
    store, db = SqliteStore(tmp_path / "store.db"), AlertStore(tmp_path / "alerts.db")
    core = _alerts(db, clock)
    try:
        # a heart rate every 6 h for 60 days; a fall resolved on day 1, one on day 50, and
        # one from day 2 that nobody has closed
        store.write([reading(Kind.HEART_RATE, 70.0, start + i * 6 * 3_600_000)
                     for i in range(240)])
        core.handle([_fall("res-00000", start)])
        old = core.db.alerts.find()[0]
        core.resolve(old.alert_id, "nurse", "helped up", outcome=Outcome.HELPED_UP)
        clock.advance(DAY_MS / 1000)
        core.handle([_fall("res-00001", clock.now_ms())])
        still_open = core.db.alerts.find(open_only=True)[0]
        clock.advance(49 * DAY_MS / 1000)
        core.handle([_fall("res-00000", clock.now_ms())])
        recent = core.db.alerts.find(open_only=True)[0]
        core.resolve(recent.alert_id, "nurse", "false alarm", outcome=Outcome.FALSE_ALARM)
        clock.advance(10 * DAY_MS / 1000)  # day 60: now

        done = Retention(CFG, store, db, clock).run_once()

        assert done.raw_removed == 240 - 8  # all but the last two days' readings
        assert store.count() == 8
        now = clock.now_ms()
        kept = store.buckets("res-00000", Kind.HEART_RATE, start, now, DAY_MS)
        # the last 10 days are there (8 as aggregates, 2 raw), the 50 before are gone
        assert [b.start_ms for b in kept] == [now - d * DAY_MS for d in range(10, 0, -1)]
        assert all(b.samples == 4 for b in kept)
        assert done.alerts_removed == 1 and db.alerts.get(old.alert_id) is None
        assert db.timeline.of(old.alert_id) == []
        assert {a.alert_id for a in db.alerts.find()} == {still_open.alert_id, recent.alert_id}
        assert db.alerts.get(still_open.alert_id).state is AlertState.OPEN  # type: ignore[union-attr]
        assert Retention(CFG, store, db, clock).run_once() == (0, 0)  # idempotent
    finally:
        store.close()
        db.close()


@pytest.mark.parametrize("table", ["[retention]\nraw_days = 0\n",
                                   "[retention]\nraw_days = 40\nrollup_days = 30\n",
                                   "[retention]\nkeep = 3\n"])
def test_bad_retention_settings_are_refused(tmp_path: Path, table: str) -> None:
    path = tmp_path / "central.toml"
    path.write_text(f'data_dir = "{tmp_path}"\nregistry = "r.yaml"\n{table}')
    with pytest.raises(CentralConfigError, match="retention"):
        config.load(path)


@pytest.mark.integration
def test_the_central_process_runs_retention_on_its_schedule(
        tmp_path: Path, mosquitto: LocalMosquitto) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"default": {"steps": {}}}))
    from alerts.settings import AlertSettings

    data = tmp_path / "data"
    data.mkdir()
    clock = SystemClock()
    db = AlertStore(data / "alerts.db")  # a fall resolved 400 days ago
    core = _alerts(db, FakeClock(clock.now_ms() - 400 * DAY_MS))
    core.handle([_fall("res-00000", core.clock.now_ms())])
    core.resolve(db.alerts.find()[0].alert_id, "nurse", "", outcome=Outcome.TEST)
    db.close()
    cfg = config.CentralConfig(
        data_dir=str(data), registry=str(registry.SAMPLE),
        broker=BrokerConnection(port=mosquitto.port),
        alerts=AlertSettings(policy=str(policy), callback_port=0),
        retention=RetentionConfig(every_s=0.2))
    central = CentralProcess(cfg, clock)
    try:
        central.start()
        assert central.alerts is not None and central.retention is not None
        wait_until(lambda: central.retention is not None and central.retention.rounds >= 1,
                   10, "a retention round")
        assert central.alerts.db.alerts.find() == []
    finally:
        central.close()
