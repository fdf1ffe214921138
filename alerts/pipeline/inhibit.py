"""Inhibit: a gateway that is offline hides the silence of the devices behind it (one
alert, the gateway's, instead of one per device), and the absence of a sleeper's vital
signs (nothing reached the centre: not the same as no breathing)."""

from __future__ import annotations

from alerts.model import Condition
from alerts.pipeline.base import GatewayView, Mute, Pending
from alerts.store import AlertStore

_SILENCE = frozenset({Condition.DEVICE_SILENT, Condition.NO_VITAL_SIGNS})


class Inhibit:
    def __init__(self, gateways: GatewayView) -> None:
        self.gateways = gateways

    def __call__(self, p: Pending, store: AlertStore) -> Mute:
        s = p.signal
        if s.condition in _SILENCE and self.gateways.gateway_offline(s.gateway_id):
            return Mute.HIDDEN
        return Mute.NONE
