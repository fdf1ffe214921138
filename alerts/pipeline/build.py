"""The alert pipeline, the whole order in one place::

    raised signal ─► inhibit ─► silence ─► dedup / flap ─► record ─► escalate ─► tell the desk
    ended signal  ─► clear ─────────────────────────────────────────────────────► tell the desk

A raised signal first meets the muters (``inhibit``: a gateway offline hides its devices'
silence; ``silence``: on the desk, no escalation), then the stages; an ended one meets
``clear``. Each signal's stages run inside one store transaction, so every change is
committed before anyone is told; the core tells the desk (its listeners) after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alerts.pipeline.base import GatewayView, Mute, Muter, Pending, Stage
from alerts.pipeline.clear import clear
from alerts.pipeline.dedup import dedup
from alerts.pipeline.escalate import AtOnce, Escalate
from alerts.pipeline.inhibit import Inhibit
from alerts.pipeline.record import record
from alerts.pipeline.silence import silence
from alerts.policy import Policies
from alerts.store import AlertStore


@dataclass
class Pipeline:
    muters: list[Muter]  # a raised signal: how far it is held back
    raised: list[Stage]  # a raised signal, after the muters
    ended: list[Stage]  # a signal that a condition ended

    def run(self, p: Pending, store: AlertStore) -> Mute:
        """``p`` through its stages in one transaction (``p.change`` and ``p.alert``:
        what to tell the desk, None if nothing changed)."""
        with store.transaction():
            if p.signal.active:
                mute = Mute.NONE
                for muter in self.muters:
                    mute = max(mute, muter(p, store))
                    if mute is Mute.HIDDEN:
                        return mute
                p.silenced = mute is Mute.SILENCED
                stages = self.raised
            else:
                mute, stages = Mute.NONE, self.ended
            for stage in stages:
                if not stage(p, store):
                    p.change = None
                    return mute
            if p.change is not None:
                p.alert = store.alerts.get(p.alert_id)
        return mute


def build(gateways: GatewayView, policies: Callable[[], Policies],
          count: Callable[[str], None], at_once: AtOnce | None = None) -> Pipeline:
    """The pipeline, in order: ``policies`` gives the escalation policies in force,
    ``count`` is told of flapping and silenced alerts, ``at_once`` takes a step due as
    the alert opens in its own commit (see ``Escalate``)."""
    return Pipeline(muters=[Inhibit(gateways), silence],
                    raised=[dedup, record, Escalate(policies, count, at_once)],
                    ended=[clear])
