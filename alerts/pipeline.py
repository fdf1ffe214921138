"""The alert pipeline as a list of small stages, assembled in one place (``stages``):

    signal ─► inhibit ─► silence ─► dedup / flap ─► record ─► escalate ─► tell the desk

Each stage looks at one ``Pending`` signal and the alert store, may decide something on
it, and says whether the signal goes on. The stages from silence to escalate run inside
one store transaction, so every change is committed before anyone is told; telling the
desk runs after the commit.

* inhibit: a gateway that is offline hides the silence of the devices behind it;
* silence: a matching silence (maintenance, staff in the room) keeps the alert on the desk
  but stops escalation past it;
* dedup / flap: one alert per (condition, subject) until it is resolved; repeats update
  it; a self-clearing condition that comes back within ``FLAP_WINDOW_MS`` of the system
  resolving it reopens the same alert and counts a flap;
* record: the alert row and its timeline;
* escalate: the site's policy turned into timers in the store (a flapping alert's pending
  timers are cancelled instead; steps already taken are not taken again);
* tell the desk: listeners (the dashboard's live push) get an ``AlertChange``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from alerts.model import NEVER_SILENCED_WIDE, PROFILES, Condition, Signal
from alerts.state import StateDb

FLAP_WINDOW_MS = 30 * 60_000
FLAPPING_AT = 3
SYSTEM = "system"


class Decision(enum.Enum):
    NEW = "new"
    REPEAT = "repeat"
    REOPEN = "reopen"


@dataclass
class Pending:
    """One raised signal on its way through the stages."""

    signal: Signal
    now_ms: int
    silenced: bool = False
    decision: Decision = Decision.NEW
    alert_id: int = 0
    flaps: int = 0  # of the alert being reopened, before this flap


# A stage: False stops the signal there.
Stage = Callable[[Pending, StateDb], bool]


class Inhibitor:
    """Hides the silence of a gateway's devices while the gateway is offline. Which
    gateways are offline: the detectors' view (``offline``, the health monitor's, which a
    node taking a partition over rebuilds from the store), or without one what the
    gateway-offline signals passing here have said."""

    def __init__(self, offline: Callable[[str], bool] | None = None) -> None:
        self._view = offline
        self.offline: set[str] = set()

    def __call__(self, p: Pending, db: StateDb) -> bool:
        signal = p.signal
        if self._view is None and signal.condition is Condition.GATEWAY_OFFLINE:
            (self.offline.add if signal.active else self.offline.discard)(signal.gateway_id)
        if not (signal.active and signal.condition is Condition.DEVICE_SILENT):
            return True
        offline = self._view(signal.gateway_id) if self._view is not None \
            else signal.gateway_id in self.offline
        return not offline


def silence(p: Pending, db: StateDb) -> bool:
    s = p.signal
    subjects = (s.subject,) if s.condition in NEVER_SILENCED_WIDE \
        else (s.subject, s.site_id, s.gateway_id)
    p.silenced = db.silenced(s.condition, subjects, p.now_ms)
    return True


def dedup(p: Pending, db: StateDb) -> bool:
    s = p.signal
    current = db.unresolved(s.condition, s.subject)
    if current is not None:
        p.decision, p.alert_id = Decision.REPEAT, current.alert_id
        return True
    last = db.last_resolved(s.condition, s.subject)
    if (last is not None and last.resolved_by == SYSTEM and last.resolved_ms is not None
            and p.now_ms - last.resolved_ms < FLAP_WINDOW_MS):
        p.decision, p.alert_id, p.flaps = Decision.REOPEN, last.alert_id, last.flaps
    return True


def record(p: Pending, db: StateDb) -> bool:
    s = p.signal
    if p.decision is Decision.REPEAT:
        db.repeat(p.alert_id, p.now_ms, s.detail)
    elif p.decision is Decision.REOPEN:
        db.reopen(p.alert_id, p.now_ms, s.detail, p.silenced)
        db.note(p.alert_id, p.now_ms, "reopened", SYSTEM, s.detail)
    else:
        p.alert_id = db.open_alert(s.condition, s.subject, s.site_id, s.gateway_id,
                                   s.device_id, PROFILES[s.condition].severity, p.now_ms,
                                   p.silenced, s.detail)
        db.note(p.alert_id, p.now_ms, "opened", SYSTEM, s.detail)
        if p.silenced:
            db.note(p.alert_id, p.now_ms, "silenced", SYSTEM,
                    "a silence matches: no escalation")
    return True


def stages(inhibit: Inhibitor, escalate: Stage) -> tuple[list[Stage], list[Stage]]:
    """The pipeline: the stages every signal passes, and those a raised signal passes
    inside one store transaction (the caller tells the desk once it is committed)."""
    return [inhibit], [silence, dedup, record, escalate]
