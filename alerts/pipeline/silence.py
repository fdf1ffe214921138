"""Silence: a silence running on the resident, gateway or site (maintenance, staff in the
room) keeps the alert on the desk but stops escalation past it. A fall or an SOS is only
ever silenced for its resident, never by a site- or gateway-wide silence."""

from __future__ import annotations

from alerts.model import NEVER_SILENCED_WIDE
from alerts.pipeline.base import Mute, Pending
from alerts.store import AlertStore


def silence(p: Pending, store: AlertStore) -> Mute:
    s = p.signal
    subjects = (s.subject,) if s.condition in NEVER_SILENCED_WIDE \
        else (s.subject, s.site_id, s.gateway_id)
    return Mute.SILENCED if store.silences.covers(s.condition, subjects, p.now_ms) \
        else Mute.NONE
