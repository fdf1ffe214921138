"""A signal raised at the moment the alert store fails is not lost: the detector has moved
on (its SpO2 episode is open), so the service keeps the signal and records it when the store
is back, whether it came from a reading (ingest hands the same batch over again) or from a
timer or a gateway's status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import registry
from alerts.model import Condition
from alerts.service import AlertService
from alerts.settings import AlertSettings
from alerts.store import StateError
from telemetry.clock import FakeClock
from telemetry.kinds import Kind
from tests.support.readings import T0, reading

POLICY = Path(__file__).resolve().parents[2] / "alerts" / "policy.sample.yaml"


class _Outage:
    """The alert store's disk is full (or PostgreSQL away) while ``on``."""

    def __init__(self, service: AlertService, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on = False
        self.failed = 0
        handle = service.core.handle

        def failing(signals: list[object]) -> None:
            if self.on and signals:
                self.failed += 1
                raise StateError("database or disk is full")
            handle(signals)  # type: ignore[arg-type]

        monkeypatch.setattr(service.core, "handle", failing)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[AlertService]:
    """The service with no threads started: the test drives it as ingest and the timer
    thread would."""
    service = AlertService(AlertSettings(policy=str(POLICY), sms="console", callback_port=0),
                           registry.load(registry.SAMPLE), FakeClock(T0), tmp_path)
    try:
        yield service
    finally:
        service.callbacks.close()
        service.db.close()


def _conditions(service: AlertService) -> list[Condition]:
    return sorted(a.condition for a in service.db.alerts.find())


def test_a_low_spo2_episode_raised_while_the_store_fails_is_recorded_when_it_is_back(
        service: AlertService, monkeypatch: pytest.MonkeyPatch) -> None:
    outage = _Outage(service, monkeypatch)
    for s in range(0, 60, 10):  # a minute under the limit: not yet an episode
        service.consume([reading(Kind.SPO2, 85.0, T0 + s * 1000)])
    assert _conditions(service) == []
    outage.on = True
    batch = [reading(Kind.SPO2, 85.0, T0 + 60_000)]  # the episode is raised now
    with pytest.raises(StateError):
        service.consume(batch)
    assert outage.failed == 1 and service.kept() == 1
    with pytest.raises(StateError):
        service.consume(batch)  # ingest hands it over again: still failing
    outage.on = False
    service.consume(batch)  # and again: the store is back
    assert _conditions(service) == [Condition.SPO2_LOW]
    assert service.kept() == 0
    # the episode goes on: nothing opened twice
    service.consume([reading(Kind.SPO2, 85.0, T0 + 70_000)])
    assert len(service.db.alerts.find()) == 1


def test_a_gateway_going_offline_while_the_store_fails_is_recorded_at_the_next_round(
        service: AlertService, monkeypatch: pytest.MonkeyPatch) -> None:
    outage = _Outage(service, monkeypatch)
    outage.on = True
    with pytest.raises(StateError):  # ingest counts it; the signal is kept here
        service.gateway_status("gw-00000", "site-000", False)
    assert service.kept() == 1
    outage.on = False
    service.run_once()  # the timer thread's next round
    assert _conditions(service) == [Condition.GATEWAY_OFFLINE]
    assert service.kept() == 0
