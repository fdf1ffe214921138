"""What the pipeline's stages share: the signal on its way (``Pending``), the two kinds of
stage (``Stage`` decides or records, ``Muter`` says how far a signal is held back), and
the view of which gateways are offline."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

from alerts.model import Alert, Change, Signal
from alerts.store import AlertStore

SYSTEM = "system"  # who the pipeline acts as on a timeline


class Decision(enum.Enum):
    NEW = "new"
    REPEAT = "repeat"
    REOPEN = "reopen"


class Mute(enum.IntEnum):
    """How far a muter holds a raised signal back (the most wins)."""

    NONE = 0
    SILENCED = 1  # on the desk, but no escalation past it
    HIDDEN = 2  # not on the desk at all (counted)


@dataclass
class Pending:
    """One signal on its way through the stages, and what they decided of it."""

    signal: Signal
    now_ms: int
    silenced: bool = False
    decision: Decision = Decision.NEW
    alert_id: int = 0
    flaps: int = 0  # of the alert being reopened, before this flap
    change: Change | None = None  # what the desk is told once it is committed
    alert: Alert | None = None  # the alert as committed
    claimed: list[int] = field(default_factory=list)  # notices made at once, to send


class Stage(Protocol):
    def __call__(self, p: Pending, store: AlertStore) -> bool:
        """Look at ``p`` (inside the pipeline's transaction); False stops it here."""
        ...


class Muter(Protocol):
    def __call__(self, p: Pending, store: AlertStore) -> Mute:
        """How far ``p``, a raised signal, is held back."""
        ...


class GatewayView(Protocol):
    """Which gateways are offline: the device-health detector's view, the one the
    inhibit stage reads (a node taking a partition over rebuilds it from the store)."""

    def gateway_offline(self, gateway_id: str) -> bool: ...


class NoGatewayOffline:
    """The view of a core without detectors: no gateway is offline."""

    def gateway_offline(self, gateway_id: str) -> bool:
        return False
