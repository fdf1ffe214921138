from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

import registry as registry_module
from alerts.core import AlertCore
from alerts.detectors.health import HealthMonitor
from alerts.model import AlertChange, Notice
from alerts.notify.base import NotifyError
from alerts.notify.dispatch import Dispatcher
from alerts.policy import Policies, PolicyFile
from alerts.store import AlertStore
from registry import Registry
from runtime.backoff import Backoff
from telemetry.clock import FakeClock
from tests.support.readings import T0

POLICY = {
    "default": {
        "rescue": {"webhook": "http://127.0.0.1:9/rescue", "phone": "+86000000000120",
                   "language": "zh"},
        "steps": {
            "fall": [{"after_s": 60, "channel": "sms", "to": "family",
                      "next_contact_after_s": 120},
                     {"after_s": 300, "channel": "webhook", "to": "rescue"}],
            "sos": [{"after_s": 0, "channel": "sms", "to": "family",
                     "next_contact_after_s": 60},
                    {"after_s": 60, "channel": "webhook", "to": "rescue"}],
            "alarm": [{"after_s": 300, "channel": "sms", "to": "family"}],
        },
    },
}


class RecordingNotifier:
    """Records what would have been sent; can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[Notice] = []
        self.fail: NotifyError | None = None

    def send(self, notice: Notice) -> str:
        if self.fail is not None:
            raise self.fail
        self.sent.append(notice)
        return f"ref-{notice.notice_id}"


class World:
    def __init__(self, location: Path | str) -> None:
        self.path = location
        self.clock = FakeClock(T0)
        self.registry: Registry = registry_module.load(registry_module.SAMPLE)
        self.policies = Policies(msgspec.convert(POLICY, PolicyFile))
        self.sms = RecordingNotifier()
        self.webhook = RecordingNotifier()
        self.changes: list[AlertChange] = []
        self.open()

    def use_rescue_webhook(self, url: str) -> None:
        """Point the rescue steps at ``url`` (a sink the test reads)."""
        policy = json.loads(json.dumps(POLICY))
        policy["default"]["rescue"]["webhook"] = url
        self.policies = Policies(msgspec.convert(policy, PolicyFile))
        self.core.policies = self.policies

    def open(self) -> None:
        """(Re)start the alert core on the same database, as after a restart."""
        self.db = AlertStore(self.path)
        self.health = HealthMonitor()  # the gateways' view the inhibit stage reads
        self.core = AlertCore(self.db, self.registry, self.policies, self.clock,
                              [self.changes.append], gateways=self.health)
        self.dispatcher = Dispatcher(self.db, self.core,
                                     {"sms": self.sms, "webhook": self.webhook}, self.clock,
                                     Backoff(initial_s=10, max_s=10))
        self.dispatcher.recover()

    def step(self, seconds: float) -> None:
        """Move time in one-second steps, running the escalation and the outbox each."""
        for _ in range(int(seconds)):
            self.clock.advance(1)
            self.core.tick()
            self.dispatcher.run_once()


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The alert core on each store backend: the embedded SQLite file, and a real
    PostgreSQL database (the multi-node store). Every test using it is the contract both
    backends meet."""
    location: Path | str = tmp_path / "alerts.db"
    if request.param == "postgresql":
        location = request.getfixturevalue("fresh_database")
    w = World(location)
    yield w
    w.db.close()
