"""Enrolling and running homes from the desk: the unknown devices gateways report, pairing
one to a resident (or a room), reassigning and removing a device, admitting a resident,
changing their record (another room or bed, the response plan), discharging them (their
alarms and history stay; their devices are released), adding a site, an org or a gateway.

The registry is in the central's database (``registry.db``): a change here is the
registry's at once on this process and on every other within a second. Every change is a
site manager's or an admin's, within the sites they see (an admin of every site adds sites
and orgs), is audited without personal data, and is checked: a bad field is a 422 with
its reason, a change the registry would not be sound after (a device already paired, a
bed already taken, a resident of another site) a 409 naming every problem."""

from __future__ import annotations

import zoneinfo
from typing import Any, Literal

import msgspec
from fastapi import APIRouter, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, JsonValue, field_validator

from dashboard.deps import Admin, Ctx, Manager, User, registry_db
from dashboard.errors import SIGNED_IN, answers
from dashboard.routes.commands import send_device_lists
from dashboard.views import alert_view
from ingest.store.base import StoreError
from registry import Contact, Device, Gateway, Org, Resident, Site
from registry.model import Change, CheckInMeans, Record, RegistryError, device_key, put
from telemetry.clock import DAY_MS, HOUR_MS
from telemetry.kinds import Kind

router = APIRouter(prefix="/api/registry", tags=["registry"], responses=SIGNED_IN)

_ZONES = frozenset(zoneinfo.available_timezones())
ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # ids as the topics allow them
PHONE = r"^\+?[0-9]{6,15}$"
EXPORT_READINGS_DAYS = 30  # a data-protection export: hourly summaries this far back
# what a device can be said to report (a sighting's link quality or availability is the
# radio's, not the device's)
KINDS_OF_DEVICES = frozenset(k.value for k in Kind) - {Kind.LINK_QUALITY.value,
                                                       Kind.AVAILABILITY.value}


class ContactIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    phone: str = Field(pattern=PHONE, description="digits, optionally after a +")
    language: Literal["zh", "en"] = "zh"
    relation: str = Field("", max_length=40)
    role: Literal["family", "keyholder", "staff", "community_worker"] = "family"


HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class CheckInIn(BaseModel):
    """A daily check-in: a sign of life between ``since`` and ``by`` (the site's time)."""

    by: str = Field("10:00", pattern=HHMM)
    since: str = Field("05:00", pattern=HHMM, description="before ``by``, the same day")
    means: list[CheckInMeans] = Field(
        default_factory=lambda: list[CheckInMeans](["activity"]), min_length=1, max_length=3,
        description="the SOS button's second action, the main door, any sign of life")


class ResidentIn(BaseModel):
    site_id: str = Field(pattern=ID)
    room: str = Field(min_length=1, max_length=40)
    bed: str = Field("", max_length=20, description="in a shared room: which bed")
    display_name: str = Field(min_length=1, max_length=80)
    floor: str = Field("", max_length=20)
    medical_notes: str = Field("", max_length=500)
    wandering_risk: bool = False
    night: str = Field("22:00-06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
    contacts: list[ContactIn] = Field(default_factory=list, max_length=10)
    access_notes: str = Field("", max_length=300)
    key_safe: str = Field("", max_length=20)
    fall_risk: str = Field("", max_length=20)
    preferred_hospital: str = Field("", max_length=120)
    arrive_within_min: float | None = Field(None, gt=0, le=24 * 60)
    language: Literal["zh", "en"] = Field("zh", description="the home unit asks in it")
    checkin: CheckInIn | None = Field(None, description="a daily check-in (none: not asked)")


class NewResidentIn(ResidentIn):
    resident_id: str = Field(pattern=ID)


class DeviceIn(BaseModel):
    resident_id: str | None = Field(None, pattern=ID, description="none: the room's")
    room: str = Field("", max_length=40)


class PairIn(DeviceIn):
    gateway_id: str = Field(pattern=ID)
    device_id: str = Field(pattern=ID)
    kinds: list[Kind] | None = Field(None, max_length=len(Kind),
                                     description="what it reports (none: what it sent)")


class SiteIn(BaseModel):
    site_id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=120)
    address: str = Field("", max_length=200)
    timezone: str = Field("Asia/Shanghai", description="an IANA time zone",
                          json_schema_extra={"enum": list[JsonValue](sorted(_ZONES))})
    kind: Literal["home", "institution"] = "home"
    org: str = Field("", pattern=r"^$|" + ID[1:], description="the node it is under")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        if zone not in _ZONES:
            raise ValueError(f"unknown time zone {zone!r}")
        return zone


class OrgIn(BaseModel):
    org_id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=120)
    level: Literal["city", "district", "street", "community"] = "community"
    parent: str | None = Field(None, pattern=ID)


class GatewayIn(BaseModel):
    gateway_id: str = Field(pattern=ID)
    site_id: str = Field(pattern=ID)


def _write(ctx: Ctx, user: User, action: str, target: str, changes: list[Change],
           detail: str = "", discharged: tuple[str, str, int] | None = None) -> None:
    try:
        registry_db(ctx).write(changes, ctx.registry, discharged)
    except RegistryError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    ctx.accounts.audit(ctx.clock.now_ms(), user.username, action, target, detail)
    send_device_lists(ctx, changes)


def _site(ctx: Ctx, user: User, site_id: str) -> Site:
    site = ctx.registry.sites.get(site_id)
    if site is None or not user.sees(site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site_id}")
    return site


def _resident(ctx: Ctx, user: User, resident_id: str) -> Resident:
    r = ctx.registry.residents.get(resident_id)
    if r is None or not user.sees(r.site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no resident {resident_id}")
    return r


def _gateway(ctx: Ctx, user: User, gateway_id: str) -> Gateway:
    g = ctx.registry.gateways.get(gateway_id)
    if g is None or not user.sees(g.site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no gateway {gateway_id}")
    return g


def _device_of(ctx: Ctx, user: User, gateway: Gateway, body: DeviceIn,
               device_id: str, kinds: list[Kind]) -> Device:
    if body.resident_id is not None:
        r = _resident(ctx, user, body.resident_id)
        if r.site_id != gateway.site_id:
            raise HTTPException(status.HTTP_409_CONFLICT,
                                f"resident {r.resident_id} is not at gateway "
                                f"{gateway.gateway_id}'s site")
    return Device(device_id, gateway.gateway_id, body.resident_id, body.room, kinds)


def _view(device: Device) -> dict[str, Any]:
    return {"gateway_id": device.gateway_id, "device_id": device.device_id,
            "resident_id": device.resident_id, "room": device.room,
            "kinds": [k.value for k in device.kinds]}


def _resident_record(resident_id: str, body: ResidentIn) -> Resident:
    data = body.model_dump()
    data["contacts"] = [msgspec.convert(c, Contact) for c in data["contacts"]]
    return msgspec.convert({"resident_id": resident_id, **data}, Resident)


@router.get("/unpaired")
def unpaired(ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """Devices the gateways of the user's sites report and the registry does not know:
    each to pair (``POST /api/registry/devices``) or to leave alone."""
    found = registry_db(ctx).unpaired(ctx.registry, user.site_scope())
    return [{**s._asdict(), "kinds": list(s.kinds),
             "site_id": ctx.registry.gateways[s.gateway_id].site_id} for s in found]


@router.post("/devices", status_code=201, responses=answers(404, 409))
def pair(body: PairIn, ctx: Ctx, user: Manager) -> dict[str, Any]:
    """A device the registry does not know on this gateway, paired: its readings are
    accepted from now on (on every node within a second), as the resident's or the
    room's."""
    gateway = _gateway(ctx, user, body.gateway_id)
    if ctx.registry.device(body.gateway_id, body.device_id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"device {body.device_id} is paired on {body.gateway_id} already")
    kinds = body.kinds
    if kinds is None:  # what the gateway reported of it
        seen = [s for s in registry_db(ctx).unpaired(ctx.registry)
                if (s.gateway_id, s.device_id) == (body.gateway_id, body.device_id)]
        kinds = sorted({Kind(k) for s in seen for k in s.kinds if k in KINDS_OF_DEVICES})
    device = _device_of(ctx, user, gateway, body, body.device_id, kinds)
    _write(ctx, user, "registry_pair", f"device {body.gateway_id}/{body.device_id}",
           [put(device)], f"to {body.resident_id or 'room ' + body.room}")
    registry_db(ctx).forget_unpaired(body.gateway_id, body.device_id)
    return _view(device)


@router.put("/devices/{gateway_id}/{device_id}", responses=answers(404, 409))
def reassign(gateway_id: str, device_id: str, body: DeviceIn, ctx: Ctx,
             user: Manager) -> dict[str, Any]:
    """A paired device given to another resident or room (its readings so far stay with
    whom they were of)."""
    gateway = _gateway(ctx, user, gateway_id)
    was = ctx.registry.device(gateway_id, device_id)
    if was is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id}")
    device = _device_of(ctx, user, gateway, body, device_id, was.kinds)
    _write(ctx, user, "registry_reassign", f"device {gateway_id}/{device_id}",
           [put(device)], f"to {body.resident_id or 'room ' + body.room}")
    return _view(device)


@router.delete("/devices/{gateway_id}/{device_id}", status_code=204,
               responses=answers(404, 409))
def remove(gateway_id: str, device_id: str, ctx: Ctx, user: Manager) -> None:
    """A device taken down: no longer expected (no "silent" alarm for it), its readings
    refused from now on; what it sent stays."""
    _gateway(ctx, user, gateway_id)
    if ctx.registry.device(gateway_id, device_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id}")
    _write(ctx, user, "registry_remove", f"device {gateway_id}/{device_id}",
           [Change("device", device_key(gateway_id, device_id), None)])


@router.post("/residents", status_code=201, responses=answers(404, 409))
def admit(body: NewResidentIn, ctx: Ctx, user: Manager) -> dict[str, Any]:
    """A resident admitted (then their devices paired): watched from now on."""
    _site(ctx, user, body.site_id)
    if body.resident_id in ctx.registry.residents:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"resident {body.resident_id} exists already")
    record = _resident_record(body.resident_id, body)
    _write(ctx, user, "registry_admit", f"resident {body.resident_id}", [put(record)],
           f"site {body.site_id}, room {body.room}")
    return {"resident_id": record.resident_id}


@router.get("/residents/{resident_id}/record", responses=answers(404))
def record(resident_id: str, ctx: Ctx, user: Manager) -> dict[str, Any]:
    """A resident's record as ``PUT`` takes it (to change a field and send it back)."""
    r = _resident(ctx, user, resident_id)
    data: dict[str, Any] = msgspec.to_builtins(r)
    data.pop("resident_id")
    data.pop("limits", None)  # a nurse's vital limits are not changed here
    data.pop("key_safe", None)  # read on its own, audited (``/residents/{id}/key-safe``)
    return data


@router.get("/residents/{resident_id}/export", responses=answers(404))
def export(resident_id: str, ctx: Ctx, user: Admin) -> JSONResponse:
    """Everything kept of one resident (a data-protection request; admins only, audited):
    the record with its contacts and notes, the devices, every alarm of theirs with its
    timeline, notices and dispatches, every visit made to them, and hourly summaries of
    their readings over the last ``EXPORT_READINGS_DAYS`` days. A key-safe code is said
    to be set, never given."""
    r = _resident(ctx, user, resident_id)
    record: dict[str, Any] = msgspec.to_builtins(r)
    record["key_safe"] = "(set)" if r.key_safe else ""
    devices = ctx.registry.devices_of(resident_id)
    subjects = (resident_id, *(f"{d.gateway_id}/{d.device_id}" for d in devices))
    alerts = []
    for a in ctx.queries.alerts(subjects=subjects, limit=1_000_000):
        alerts.append({
            **alert_view(ctx.registry, a),
            "timeline": [msgspec.to_builtins(e) for e in ctx.queries.timeline(a.alert_id)],
            "notices": [{"channel": n.channel, "recipient": n.recipient, "state": n.state,
                         "created_ms": n.created_ms, "text": n.body}
                        for n in ctx.queries.notices(a.alert_id)],
            "dispatches": [{"role": d.role, "state": d.state, "sent_ms": d.sent_ms,
                            "arrived_ms": d.arrived_ms, "ended_ms": d.ended_ms}
                           for d in ctx.queries.dispatches(a.alert_id)]})
    now = ctx.clock.now_ms()
    readings: dict[str, list[dict[str, Any]]] = {}
    if ctx.store is not None:
        start = now - EXPORT_READINGS_DAYS * DAY_MS
        for kind in sorted({k for d in devices for k in d.kinds}):
            buckets = ctx.store.buckets(resident_id, kind, start, now + 1, HOUR_MS)
            if buckets:
                readings[kind.value] = [b._asdict() for b in buckets]
    ctx.accounts.audit(now, user.username, "registry_export", f"resident {resident_id}",
                       f"{len(alerts)} alarms")
    body = {"exported_ms": now, "exported_by": user.username, "resident": record,
            "devices": [_view(d) for d in devices], "alerts": alerts,
            "visits": [v._asdict() for v in ctx.core.db.visits.of(resident_id, 100_000)],
            "readings_hourly": readings}
    return JSONResponse(msgspec.to_builtins(body), headers={
        "Content-Disposition": f'attachment; filename="{resident_id}-export.json"'})


@router.put("/residents/{resident_id}", responses=answers(404, 409))
def change(resident_id: str, body: ResidentIn, ctx: Ctx, user: Manager) -> dict[str, Any]:
    """A resident's record as it is now: another room (a move), the response plan, the
    contacts (a key-safe code left empty is kept). What their detectors had learned is
    kept."""
    was = _resident(ctx, user, resident_id)
    _site(ctx, user, body.site_id)
    if body.site_id != was.site_id and ctx.registry.devices_of(resident_id):
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"resident {resident_id} still has devices at {was.site_id}: "
                            "reassign or remove them first")
    record = msgspec.structs.replace(  # a key-safe code left out is kept
        _resident_record(resident_id, body), limits=was.limits,
        key_safe=body.key_safe or was.key_safe)
    moved = f"room {was.room} -> {record.room}" if record.room != was.room else "record"
    _write(ctx, user, "registry_change", f"resident {resident_id}", [put(record)], moved)
    return {"resident_id": resident_id}


@router.post("/residents/{resident_id}/discharge", responses=answers(404, 409))
def discharge(resident_id: str, ctx: Ctx, user: Manager) -> dict[str, Any]:
    """Discharged: no longer watched; their devices released (kept, belonging to nobody,
    for the next resident); their alarms and history stay."""
    r = _resident(ctx, user, resident_id)
    released = [msgspec.structs.replace(d, resident_id=None)
                for d in ctx.registry.devices.values() if d.resident_id == resident_id]
    changes: list[Change] = [put(d) for d in released]
    _write(ctx, user, "registry_discharge", f"resident {resident_id}",
           [*changes, Change("resident", resident_id, None)],
           f"{len(released)} devices released",
           discharged=(resident_id, r.site_id, ctx.clock.now_ms()))
    return {"resident_id": resident_id, "devices_released": len(released)}


@router.get("/discharged")
def discharged(ctx: Ctx, user: Admin) -> list[dict[str, Any]]:
    """Residents discharged from the user's sites: when, from when their data may be
    erased, and whether it was."""
    keep = int(ctx.discharged_keep_days * DAY_MS)
    return [{**d._asdict(), "erasable_from_ms": d.discharged_ms + keep}
            for d in registry_db(ctx).discharged(user.site_scope())]


@router.post("/discharged/{resident_id}/erase", responses=answers(404, 409))
def erase(resident_id: str, ctx: Ctx, user: Admin) -> dict[str, Any]:
    """A data-protection erase of a resident discharged longer than the retention period
    (admins of their site; audited): their readings deleted, their alarms kept only as
    anonymous counts (``alerts.store.erasure``), what the detectors learned of them gone.
    Refused while they are enrolled again, before the period ends, or while one of their
    alarms is unresolved."""
    db = registry_db(ctx)
    found = db.discharged(user.site_scope(), resident_id)
    if not found or not user.sees(found[0].site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no discharged resident {resident_id}")
    gone = found[0]
    now = ctx.clock.now_ms()
    if resident_id in ctx.registry.residents:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"resident {resident_id} is enrolled again")
    if gone.erased_ms is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"resident {resident_id} was erased "
                                                      "already")
    if now < gone.discharged_ms + ctx.discharged_keep_days * DAY_MS:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"resident {resident_id}'s data is kept "
                            f"{ctx.discharged_keep_days:g} days after the discharge")
    alarms = ctx.core.erase(resident_id)
    if alarms is None:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"an alarm of resident {resident_id} is unresolved")
    if ctx.store is not None:
        try:
            ctx.store.erase_resident(resident_id)
        except StoreError as exc:  # the alarms are done; the readings are asked again
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                f"readings not erased yet: {exc}") from exc
    db.erased(resident_id, now)
    ctx.accounts.audit(now, user.username, "registry_erase", f"resident {resident_id}",
                       f"{alarms} alarms anonymised, readings deleted")
    return {"resident_id": resident_id, "alarms_anonymised": alarms}


@router.post("/sites", status_code=201, responses=answers(403, 409))
def add_site(body: SiteIn, ctx: Ctx, user: Admin) -> dict[str, Any]:
    """A new site (an admin of every site only)."""
    if user.site_scope():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "an admin of every site adds sites")
    if body.site_id in ctx.registry.sites:
        raise HTTPException(status.HTTP_409_CONFLICT, f"site {body.site_id} exists already")
    site = msgspec.convert(body.model_dump(), Site)
    _write(ctx, user, "registry_site", f"site {body.site_id}", [put(site)])
    return {"site_id": body.site_id}


@router.get("/orgs")
def orgs(ctx: Ctx, user: Manager) -> list[dict[str, Any]]:
    """The organisations a site may be put under: all of them for a user of every site,
    the user's own node and those below it for a user of a node, none otherwise."""
    every = ctx.registry.orgs
    if not user.org:
        return [] if user.site_scope() else [_org_view(o) for o in every.values()]

    def below_mine(org: Org) -> bool:
        up: str | None = org.org_id
        for _ in range(len(every) + 1):
            if up is None:
                return False
            if up == user.org:
                return True
            parent = every.get(up)
            up = parent.parent if parent is not None else None
        return False
    return [_org_view(o) for o in every.values() if below_mine(o)]


def _org_view(org: Org) -> dict[str, Any]:
    return {"org_id": org.org_id, "name": org.name, "level": org.level, "parent": org.parent}


@router.post("/orgs", status_code=201, responses=answers(403, 409))
def add_org(body: OrgIn, ctx: Ctx, user: Admin) -> dict[str, Any]:
    """A node of the supervising tree (a city, district, street or community), under its
    parent (an admin of every site only)."""
    if user.site_scope():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "an admin of every site adds orgs")
    if body.org_id in ctx.registry.orgs:
        raise HTTPException(status.HTTP_409_CONFLICT, f"org {body.org_id} exists already")
    record: Record = Org(body.org_id, body.name, body.level, body.parent)
    _write(ctx, user, "registry_org", f"org {body.org_id}", [put(record)],
           f"under {body.parent or '-'}")
    return {"org_id": body.org_id}


@router.post("/gateways", status_code=201, responses=answers(404, 409))
def add_gateway(body: GatewayIn, ctx: Ctx, user: Manager) -> dict[str, Any]:
    """A gateway installed at a site the admin sees."""
    _site(ctx, user, body.site_id)
    if body.gateway_id in ctx.registry.gateways:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"gateway {body.gateway_id} exists already")
    record: Record = Gateway(body.gateway_id, body.site_id)
    _write(ctx, user, "registry_gateway", f"gateway {body.gateway_id}", [put(record)])
    return {"gateway_id": body.gateway_id}
