"""What the dashboard reads and acts on, handed in by the process that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from alerts.core import AlertCore
from alerts.detectors.health import DeviceHealth
from alerts.policy import Policies
from dashboard.accounts.store import Accounts
from dashboard.accounts.throttle import LoginThrottle
from dashboard.live import Broadcaster
from dashboard.queries import AlertQueries
from ingest.store.base import Store
from registry import Registry
from registry.commands import CommandStore
from registry.db import RegistryStore
from telemetry.clock import Clock


class DeviceHealthView(Protocol):
    """What the resident page reads of device health (the health monitor, or on a node
    of several the monitor of the gateway's partition, when this node holds it)."""

    def devices_of(self, gateway_id: str) -> list[DeviceHealth]: ...

    def gateway_offline(self, gateway_id: str) -> bool: ...

    def radio_down(self, gateway_id: str) -> bool: ...


@dataclass
class DashboardContext:
    accounts: Accounts
    registry: Registry
    core: AlertCore  # people's actions on alerts
    queries: AlertQueries  # what the desk reads of them
    policies: Policies
    clock: Clock
    store: Store | None = None
    health: DeviceHealthView | None = None
    live: Broadcaster = field(default_factory=Broadcaster)
    # sign-in failures counted in the accounts' store: on several nodes, one count for all
    throttle: LoginThrottle = field(init=False)
    secure_cookies: bool = False  # True behind TLS
    policy_path: Path | None = None  # where a changed policy is saved
    status: Callable[[], dict[str, object]] | None = None  # ingest's view of the alert core
    registry_db: RegistryStore | None = None  # where the registry is changed (the desk's pages)
    discharged_keep_days: float = 90.0  # a discharged resident's data is erasable after it
    commands: CommandStore | None = None  # commands to gateways (``central.commands``)
    commands_queued: Callable[[], None] | None = None  # tells the sender to send now

    def __post_init__(self) -> None:
        self.throttle = LoginThrottle(store=self.accounts)
