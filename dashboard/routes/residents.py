"""Sites, residents with their state at a glance, one resident's view, readings for charts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response, status

from alerts.detectors.health import HEALTH_CONDITIONS, DeviceHealth
from alerts.model import Condition
from dashboard.accounts.model import Role
from dashboard.deps import Ctx, Millis, User, registry_db
from dashboard.errors import SIGNED_IN, answers
from dashboard.views import RoomState, alert_view, masked_phone, room_states
from registry import Resident
from registry.coverage import coverage
from telemetry.kinds import Kind, unit_of
from telemetry.parts import GATEWAY_PARTS

MAX_RANGE_MS = 31 * 86_400_000
PAGE_MAX = 1000  # residents in one page of the list

router = APIRouter(prefix="/api", tags=["residents"], responses=SIGNED_IN)

VITALS = (Kind.HEART_RATE, Kind.RESPIRATION_RATE, Kind.SPO2, Kind.SKIN_TEMPERATURE)


def resident_or_404(ctx: Ctx, user: User, resident_id: str) -> Resident:
    """The resident, if this user sees their site (otherwise as if there were none)."""
    r = ctx.registry.residents.get(resident_id)
    if r is None or not user.sees(r.site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such resident")
    return r


@router.get("/sites")
def sites(ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """The sites this user sees."""
    floors: dict[str, set[str]] = {}
    for r in ctx.registry.residents.values():
        floors.setdefault(r.site_id, set()).add(r.floor)
    return [{"site_id": s.site_id, "name": s.name, "address": s.address,
             "floors": sorted(f for f in floors.get(s.site_id, set()) if f),
             "kind": s.kind, "shifts": list(s.shifts), "rounds": s.rounds is not None,
             "timezone": s.timezone}
            for s in ctx.registry.sites.values() if user.sees(s.site_id)]


@router.get("/residents")
def residents(ctx: Ctx, user: User, response: Response, site_id: str | None = None,
              floor: str | None = None, limit: int = Query(PAGE_MAX, ge=1, le=PAGE_MAX),
              offset: int = Query(0, ge=0, le=10_000_000)) -> list[dict[str, Any]]:
    """Residents by site, floor and room with their room's state, a page at a time
    (``X-Total-Count``: how many match), filtered and paged by the registry's database."""
    page = registry_db(ctx).residents(user.site_scope(), site_id, floor, limit, offset)
    response.headers["X-Total-Count"] = str(page.total)
    ids = [r.resident_id for r in page.residents]
    states = room_states(ctx.registry, ctx.queries.alerts(
        open_only=True, sites=user.site_scope(), limit=1_000_000), ids)
    return [{"resident_id": r.resident_id, "name": r.display_name, "room": r.room,
             "floor": r.floor, "site_id": r.site_id,
             "state": states.get(r.resident_id, RoomState.NORMAL),
             "reduced_coverage": coverage(ctx.registry, r.resident_id).reduced}
            for r in page.residents]


@router.get("/residents/{resident_id}", responses=answers(404))
def resident(resident_id: str, ctx: Ctx, user: User) -> dict[str, Any]:
    """One resident: vitals, devices, recent alerts, contacts; medical notes and whole
    phone numbers for staff who act (nurses, admins), not for viewers."""
    r = resident_or_404(ctx, user, resident_id)
    vitals = {}
    if ctx.store is not None:
        for kind in VITALS:
            point = ctx.store.latest(resident_id, kind)
            if point is not None:
                vitals[kind.value] = {"value": point.value, "unit": unit_of(kind),
                                      "time_ms": point.time_ms}
    gateways = sorted({d.gateway_id for d in ctx.registry.devices.values()
                       if d.resident_id == resident_id})
    devices = []
    if ctx.health is not None:
        for gateway_id in gateways:
            watched = ctx.health.devices_of(gateway_id)
            seen, offline, radio_down = (
                watched, ctx.health.gateway_offline(gateway_id),
                ctx.health.radio_down(gateway_id)) if watched else _from_store(ctx, gateway_id)
            for d in seen:
                owner = ctx.registry.device(gateway_id, d.device_id)
                if owner is None or owner.resident_id != resident_id:
                    continue
                devices.append({"gateway_id": gateway_id, "device_id": d.device_id,
                                "last_seen_ms": d.last_seen_ms, "battery_pct": d.battery_pct,
                                "silent": d.silent, "low_battery": d.low_battery,
                                "gateway_offline": offline, "radio_offline": radio_down})
    subjects = (resident_id, *(f"{d.gateway_id}/{d.device_id}"
                                          for d in ctx.registry.devices.values()
                                          if d.resident_id == resident_id))
    recent = [alert_view(ctx.registry, a)
              for a in ctx.queries.alerts(subjects=subjects, limit=50)]
    contacts = [{"name": c.name, "relation": c.relation, "language": c.language,
                 "phone": c.phone if user.role is not Role.VIEWER else masked_phone(c.phone)}
                for c in r.contacts]
    return {"resident_id": r.resident_id, "name": r.display_name, "room": r.room,
            "floor": r.floor, "site_id": r.site_id,
            "medical_notes": r.medical_notes if user.role is not Role.VIEWER else "",
            "wandering_risk": r.wandering_risk, "vitals": vitals, "devices": devices,
            "alerts": recent, "contacts": contacts,
            "coverage": {**coverage(ctx.registry, resident_id)._asdict(),
                         "never_heard": sorted(d["device_id"] for d in devices
                                               if d["last_seen_ms"] is None
                                               and not d["gateway_offline"])}}


@router.get("/coverage")
def coverage_check(ctx: Ctx, user: User, site_id: str | None = None) -> list[dict[str, Any]]:
    """Residents whose devices cannot do all the checks (the site's or all the user
    sees): what each can detect and what is missing; elders at home without the
    inactivity check's minimum kit (main door + living-room motion) are ``reduced``."""
    out = []
    for r in ctx.registry.residents.values():
        if (site_id and r.site_id != site_id) or not user.sees(r.site_id):
            continue
        c = coverage(ctx.registry, r.resident_id)
        if c.missing or not c.fall:
            out.append({"resident_id": r.resident_id, "name": r.display_name,
                        "room": r.room, "site_id": r.site_id, **c._asdict()})
    out.sort(key=lambda x: (not x["reduced"], x["site_id"], x["room"]))
    return out


def _from_store(ctx: Ctx, gateway_id: str) -> tuple[list[DeviceHealth], bool, bool]:
    """A gateway whose partition another node holds: its devices, and whether it and its
    radio are offline, as the shared store knows them (open alerts; when a device was
    last heard and its battery level only the node that watches it knows)."""
    mine = [d.device_id for d in ctx.registry.devices.values() if d.gateway_id == gateway_id]
    health = ctx.queries.alerts(open_only=True, conditions=HEALTH_CONDITIONS,
                                subjects=(gateway_id, *(f"{gateway_id}/{d}"
                                                        for d in (*mine, *GATEWAY_PARTS))),
                                limit=10_000)
    down = {(a.device_id, a.condition) for a in health if a.active}
    conditions = {c for _, c in down}
    return ([DeviceHealth(d, None, None, (d, Condition.DEVICE_SILENT) in down,
                          (d, Condition.LOW_BATTERY) in down) for d in mine],
            Condition.GATEWAY_OFFLINE in conditions, Condition.RADIO_OFFLINE in conditions)


@router.get("/residents/{resident_id}/readings", responses=answers(404))
def readings(resident_id: str, ctx: Ctx, user: User, kind: Kind, start_ms: Millis, end_ms: Millis,
             bucket_s: int = Query(300, ge=10, le=86_400)) -> dict[str, Any]:
    """Bucketed aggregates (min, mean, max, count) of one signal, for a chart: at most the
    last 31 days up to ``end_ms`` (``start_ms`` in the answer says where it began; an
    empty range has no buckets)."""
    resident_or_404(ctx, user, resident_id)
    start_ms = max(start_ms, end_ms - MAX_RANGE_MS)
    buckets = ctx.store.buckets(resident_id, kind, start_ms, end_ms, bucket_s * 1000) \
        if ctx.store is not None and end_ms > start_ms else []
    return {"kind": kind.value, "unit": unit_of(kind), "bucket_s": bucket_s,
            "start_ms": start_ms, "end_ms": end_ms,
            "buckets": [{"start_ms": b.start_ms, "min": b.minimum, "mean": b.mean,
                         "max": b.maximum, "count": b.samples} for b in buckets]}
