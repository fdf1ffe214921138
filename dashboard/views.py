"""What the desk sees: alerts with the resident they concern, and each resident's state at a
glance (normal, warning, alarm, device problem, offline). Pure functions of the registry
and the open alerts."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from alerts.model import REQUESTS, Alert, AlertState, Condition, Severity
from alerts.notify import texts
from registry import Registry

DEVICE_CONDITIONS = frozenset({Condition.DEVICE_SILENT, Condition.LOW_BATTERY,
                               Condition.TAMPER})
GATEWAY_CONDITIONS = frozenset({Condition.GATEWAY_OFFLINE, Condition.RADIO_OFFLINE})


class RoomState(enum.StrEnum):
    NORMAL = "normal"
    WARNING = "warning"
    ALARM = "alarm"
    DEVICE = "device_problem"
    OFFLINE = "offline"


def resident_of(registry: Registry, alert: Alert) -> str | None:
    """The resident an alert concerns (None for a gateway serving several)."""
    if alert.subject in registry.residents:
        return alert.subject
    if "/" in alert.subject:
        gateway_id, device_id = alert.subject.split("/", 1)
        device = registry.device(gateway_id, device_id)
        return device.resident_id if device else None
    return None


def alert_view(registry: Registry, alert: Alert) -> dict[str, Any]:
    resident_id = resident_of(registry, alert)
    resident = registry.residents.get(resident_id or "")
    site = registry.sites.get(alert.site_id)
    return {
        "alert_id": alert.alert_id, "condition": alert.condition.value,
        "severity": alert.severity.name.lower(), "severity_level": int(alert.severity),
        "state": alert.state.value, "active": alert.active, "opened_ms": alert.opened_ms,
        "updated_ms": alert.updated_ms, "repeats": alert.repeats, "flaps": alert.flaps,
        "silenced": alert.silenced, "detail": alert.detail, "subject": alert.subject,
        "details": {lang: texts.detail(alert.detail, lang) for lang in texts.LANGUAGES},
        "device_id": alert.device_id, "gateway_id": alert.gateway_id,
        "site_id": alert.site_id, "site_name": site.name if site else "",
        "resident_id": resident_id, "resident_name": resident.display_name if resident else "",
        "room": resident.room if resident else "", "floor": resident.floor if resident else "",
        "acked_by": alert.acked_by, "acked_ms": alert.acked_ms,
        "resolved_by": alert.resolved_by, "resolved_ms": alert.resolved_ms, "note": alert.note,
        "owner": alert.owner, "answered_by": alert.answered_by,
        "answered_ms": alert.answered_ms, "outcome": alert.outcome,
        "follow_up_ms": alert.follow_up_ms,
    }


def room_states(registry: Registry, open_alerts: list[Alert],
                residents: Iterable[str] | None = None) -> dict[str, RoomState]:
    """Each resident's room as the desk colours it (of ``residents`` only, if given: a
    page of a long list)."""
    ids = list(registry.residents if residents is None else residents)
    gateways_of = {rid: {d.gateway_id for d in registry.devices_of(rid)} for rid in ids}
    rank = {RoomState.NORMAL: 0, RoomState.DEVICE: 1, RoomState.OFFLINE: 2,
            RoomState.WARNING: 3, RoomState.ALARM: 4}
    states = dict.fromkeys(ids, RoomState.NORMAL)

    def raise_to(resident_id: str, state: RoomState) -> None:
        if rank[state] > rank[states[resident_id]]:
            states[resident_id] = state

    for alert in open_alerts:
        if alert.state is AlertState.RESOLVED or alert.condition in REQUESTS:
            continue  # a request (a meal, a repair) says nothing about the resident's state
        if alert.condition in GATEWAY_CONDITIONS:  # every resident the gateway serves
            for resident_id, gateways in gateways_of.items():
                if alert.gateway_id in gateways:
                    raise_to(resident_id, RoomState.OFFLINE)
            continue
        whose = resident_of(registry, alert)
        if whose is None or whose not in states:
            continue
        if alert.condition in DEVICE_CONDITIONS:
            raise_to(whose, RoomState.DEVICE)
        elif alert.severity >= Severity.ALARM:
            raise_to(whose, RoomState.ALARM)
        else:
            raise_to(whose, RoomState.WARNING)
    return states


def masked_phone(phone: str) -> str:
    """Enough for the desk to tell contacts apart, not a number to copy around."""
    return f"…{phone[-4:]}" if len(phone) > 4 else "…"
