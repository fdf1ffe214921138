"""The registry's model: sites, gateways, residents, their devices and contacts, and the
``Registry`` that indexes and checks them (the registry, not the gateway, says which
resident a device belongs to)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, TypeVar, cast

import msgspec

from registry.time import minute_of_day
from telemetry import topics
from telemetry.errors import EldercareError
from telemetry.kinds import Kind

T = TypeVar("T")


class RegistryError(EldercareError):
    """The registry file is missing, malformed or inconsistent."""


class Contact(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A person the centre may text: a resident's family or key-holder, or a site's
    staff member or community worker (who may be sent to an alarm: ``role``)."""

    name: str
    phone: str
    language: str = "zh"
    relation: str = ""
    # "rescue" is the policy's rescue service when the desk sends it (never a contact here)
    role: Literal["family", "keyholder", "staff", "community_worker", "rescue"] = "family"


class VitalLimit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A nurse's override of one vital-sign limit (see ``alerts.detectors.vitals``)."""

    trip: float
    clear: float
    min_duration_s: float = 60.0


CheckInMeans = Literal["answer", "door", "activity"]
RiskTier = Literal["high", "standard", "low"]


class CheckIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A daily check-in: the resident shows they are well between ``since`` and ``by``
    (the site's local time) by one of ``means``: the SOS button's second action
    (``answer``), the main door opened (``door``), or any sign of life (``activity``:
    motion, a door, an appliance, getting up, the answer). Missing it is a check on the
    desk that texts the family when nobody at the desk takes it."""

    by: str = "10:00"
    since: str = "05:00"
    means: list[CheckInMeans] = msgspec.field(default_factory=lambda: ["activity"])


class Resident(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    resident_id: str
    site_id: str
    room: str
    display_name: str
    floor: str = ""
    bed: str = ""  # in a room of several beds: which one (one resident per bed)
    medical_notes: str = ""
    wandering_risk: bool = False
    night: str = "22:00-06:00"  # local time; the night rules (bed exit, wandering) use it
    limits: dict[str, VitalLimit] = {}  # by condition, e.g. spo2_low, set by a nurse
    contacts: list[Contact] = []
    # the response plan: what a responder needs at the door
    access_notes: str = ""  # e.g. "ring twice; the dog is friendly"
    key_safe: str = ""  # a key safe's or door's code: shown only to roles that may see it
    fall_risk: str = ""  # the fall-risk assessment's level (MZ/T 185), as assessed
    preferred_hospital: str = ""
    arrive_within_min: float | None = None  # a responder on site by then (else the policy's)
    language: str = "zh"  # what the home unit asks them in ("zh", "en")
    checkin: CheckIn | None = None  # a daily check-in expected of them (none: not asked)
    # visits (探访): how often, from the risk tier and the organisation's intervals; who
    # visits (a site responder's or contact's name: a community worker, a volunteer)
    risk_tier: RiskTier = "standard"
    visitor: str = ""
    # how they are visited: a wellness call ("phone") puts them on the desk's calls of the day
    visit_methods: list[Literal["home", "phone", "video"]] = msgspec.field(
        default_factory=lambda: ["home"])


class Device(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    device_id: str
    gateway_id: str
    resident_id: str | None = None
    room: str = ""  # where it is: living, bedroom, bathroom, hall (the main door), kitchen
    kinds: list[Kind] = []  # what it reports (paired: what it sent); what it can detect


class Gateway(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    gateway_id: str
    site_id: str


class VisitDays(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How many days may pass between two visits of a resident living at home, by risk
    tier (a provincial rule: weekly for high risk, monthly, quarterly for the rest)."""

    high: int = 7
    standard: int = 30
    low: int = 90


class Org(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A node of the supervising tree: a city, a district, a street, a community. Sites
    (a care institution, a community's homes) hang below one; a desk user who belongs to
    a node sees every site below it and nothing beside it."""

    org_id: str
    name: str
    level: Literal["city", "district", "street", "community"] = "community"
    parent: str | None = None
    visit_days: VisitDays | None = None  # (none: its parent's, at the top the defaults)


class RoundPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Rounds (巡视) of a care home: every ``every_min`` from ``start`` to ``end`` (the
    site's clock; past midnight if ``end`` is earlier), each of ``rooms`` looked in on
    (none listed: the rooms of its high-risk residents)."""

    start: str = "22:00"
    end: str = "06:00"
    every_min: int = 120
    rooms: list[str] = []


class Site(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    site_id: str
    name: str
    address: str = ""
    timezone: str = "Asia/Shanghai"
    kind: Literal["home", "institution"] = "home"  # a flat or house; a care home
    responders: list[Contact] = []  # staff on duty, community workers, to send to alarms
    org: str = ""  # the node of the supervising tree it is under ("" none)
    shifts: list[str] = []  # a care home's shifts: when each begins (local "HH:MM")
    rounds: RoundPlan | None = None


class RegistryFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sites: list[Site]
    gateways: list[Gateway]
    residents: list[Resident]
    devices: list[Device]
    orgs: list[Org] = []


RecordKind = Literal["org", "site", "gateway", "resident", "device"]
KINDS: tuple[RecordKind, ...] = ("org", "site", "gateway", "resident", "device")  # parents 1st
Record = Org | Site | Gateway | Resident | Device
_TYPES: dict[str, type[Record]] = {"org": Org, "site": Site, "gateway": Gateway,
                                   "resident": Resident, "device": Device}


class Change(NamedTuple):
    """One record of the registry put (``doc``: its JSON) or removed (``doc`` None)."""

    kind: RecordKind
    key: str
    doc: bytes | None


def key_of(record: Record) -> tuple[RecordKind, str]:
    """The kind and key a record is stored under (a device's: its gateway and its id)."""
    if isinstance(record, Org):
        return "org", record.org_id
    if isinstance(record, Site):
        return "site", record.site_id
    if isinstance(record, Gateway):
        return "gateway", record.gateway_id
    if isinstance(record, Resident):
        return "resident", record.resident_id
    return "device", device_key(record.gateway_id, record.device_id)


def device_key(gateway_id: str, device_id: str) -> str:
    return f"{gateway_id}|{device_id}"  # a gateway id never holds "|" (topics.check_id)


def put(record: Record) -> Change:
    kind, key = key_of(record)
    return Change(kind, key, msgspec.json.encode(record))


def decode(change: Change) -> Record:
    """The record a change puts (``RegistryError`` if its JSON is not one)."""
    assert change.doc is not None
    try:
        return msgspec.json.decode(change.doc, type=_TYPES[change.kind])
    except (KeyError, msgspec.DecodeError) as exc:
        raise RegistryError(f"{change.kind} {change.key}: {exc}") from exc


class _Tables(NamedTuple):
    orgs: dict[str, Org]
    sites: dict[str, Site]
    gateways: dict[str, Gateway]
    residents: dict[str, Resident]
    devices: dict[tuple[str, str], Device]


def problems(tables: _Tables, duplicates: Sequence[str] = ()) -> list[str]:
    """Every inconsistency of the registry, each in a line (none: it is sound)."""
    found = list(duplicates)
    for o in tables.orgs.values():
        seen = {o.org_id}
        up = o.parent
        while up is not None:
            parent = tables.orgs.get(up)
            if parent is None:
                found.append(f"org {o.org_id} is under unknown org {up}")
                break
            if up in seen:
                found.append(f"org {o.org_id} is under itself")
                break
            seen.add(up)
            up = parent.parent
        days = o.visit_days
        if days is not None and not 1 <= days.high <= days.standard <= days.low <= 366:
            found.append(f"org {o.org_id}: visit intervals must be 1-366 days, high risk "
                         f"no longer than standard, standard no longer than low")
    for site in tables.sites.values():
        if site.org and site.org not in tables.orgs:
            found.append(f"site {site.site_id} is under unknown org {site.org}")
        found += [f"site {site.site_id}: {why}" for why in schedule_problems(site)]
    for g in tables.gateways.values():
        try:
            topics.check_id(g.gateway_id, "gateway id")
        except topics.TopicError as exc:
            found.append(str(exc))
        if g.site_id not in tables.sites:
            found.append(f"gateway {g.gateway_id} is at unknown site {g.site_id}")
    beds: dict[tuple[str, str, str], str] = {}
    for r in tables.residents.values():
        if r.site_id not in tables.sites:
            found.append(f"resident {r.resident_id} lives at unknown site {r.site_id}")
        if r.checkin is not None:
            found += [f"resident {r.resident_id}: {why}" for why in checkin_problems(r.checkin)]
        if r.bed:
            taken = beds.setdefault((r.site_id, r.room, r.bed), r.resident_id)
            if taken != r.resident_id:
                found.append(f"bed {r.bed} of {r.room} is taken by {taken}")
    for d in tables.devices.values():
        if d.gateway_id not in tables.gateways:
            found.append(f"device {d.device_id} is behind unknown gateway {d.gateway_id}")
        if d.resident_id is not None and d.resident_id not in tables.residents:
            found.append(f"device {d.device_id} belongs to an unknown resident "
                         f"{d.resident_id}")
    return found


def checkin_problems(rule: CheckIn) -> list[str]:
    """Why a check-in rule cannot be kept (none: it can)."""
    try:
        since, by = minute_of_day(rule.since), minute_of_day(rule.by)
    except ValueError as exc:
        return [f"check-in: {exc}"]
    found = []
    if since >= by:
        found.append(f"check-in: its window {rule.since}-{rule.by} is empty (it must "
                     f"start before it ends, on the same day)")
    if not rule.means:
        found.append("check-in: no means of checking in")
    return found


def schedule_problems(site: Site) -> list[str]:
    """Why a site's shifts or rounds cannot be kept (none: they can)."""
    found = []
    try:
        starts = [minute_of_day(s) for s in site.shifts]
        if len(set(starts)) != len(starts):
            found.append("shifts: a shift begins twice at the same time")
    except ValueError as exc:
        found.append(f"shifts: {exc}")
    plan = site.rounds
    if plan is not None:
        try:
            start, end = minute_of_day(plan.start), minute_of_day(plan.end)
            if start == end:
                found.append("rounds: they start and end at the same time")
        except ValueError as exc:
            found.append(f"rounds: {exc}")
        if not 15 <= plan.every_min <= 24 * 60:
            found.append("rounds: every_min must be 15 to 1440")
    return found


def _twice(kind: str, ids: list[str]) -> list[str]:
    return [f"{kind} {i} appears twice" for i, n in sorted(Counter(ids).items()) if n > 1]


class Registry:
    """The checked registry, looked up in memory. ``apply`` changes it record by record
    (a device paired, a resident moved) without reading it whole again: the four tables
    are swapped at once, so a reader sees the registry before a change or after it."""

    def __init__(self, data: RegistryFile) -> None:
        tables = _Tables({o.org_id: o for o in data.orgs},
                         {s.site_id: s for s in data.sites},
                         {g.gateway_id: g for g in data.gateways},
                         {r.resident_id: r for r in data.residents},
                         {(d.gateway_id, d.device_id): d for d in data.devices})
        duplicates = [*_twice("org", [o.org_id for o in data.orgs]),
                      *_twice("site", [s.site_id for s in data.sites]),
                      *_twice("gateway", [g.gateway_id for g in data.gateways]),
                      *_twice("resident", [r.resident_id for r in data.residents]),
                      *_twice("device", [device_key(d.gateway_id, d.device_id)
                                         for d in data.devices])]
        found = problems(tables, duplicates)
        if found:
            raise RegistryError("; ".join(found))
        self._t = tables
        self.version = 0  # the store's sequence this registry is at (``registry.db``)
        self._by_resident: tuple[dict[tuple[str, str], Device], dict[str, list[Device]]] \
            | None = None
        self._applying = threading.Lock()  # a follower and a writer change it one at a time
        self._memo: dict[str, tuple[_Tables, object]] = {}

    @property
    def orgs(self) -> dict[str, Org]:
        return self._t.orgs

    @property
    def sites(self) -> dict[str, Site]:
        return self._t.sites

    @property
    def gateways(self) -> dict[str, Gateway]:
        return self._t.gateways

    @property
    def residents(self) -> dict[str, Resident]:
        return self._t.residents

    @property
    def devices(self) -> dict[tuple[str, str], Device]:
        return self._t.devices

    def device(self, gateway_id: str, device_id: str) -> Device | None:
        return self._t.devices.get((gateway_id, device_id))

    def sites_under(self, org_id: str) -> frozenset[str]:
        """The sites below org ``org_id`` (at any depth; none if it is unknown)."""
        orgs = self._t.orgs
        below: set[str] = set()
        for site in self._t.sites.values():
            up: str | None = site.org
            hops = 0
            while up and hops <= len(orgs):
                if up == org_id:
                    below.add(site.site_id)
                    break
                parent = orgs.get(up)
                up = parent.parent if parent is not None else None
                hops += 1
        return frozenset(below)

    def visit_days(self, resident: Resident) -> int:
        """Days that may pass between two visits of ``resident``: their tier's interval
        of the nearest organisation above their site that sets one (else the defaults)."""
        site = self._t.sites.get(resident.site_id)
        up = site.org if site else ""
        hops = 0
        while up and hops <= len(self._t.orgs):
            org = self._t.orgs.get(up)
            if org is None:
                break
            if org.visit_days is not None:
                return int(getattr(org.visit_days, resident.risk_tier))
            up, hops = org.parent or "", hops + 1
        return int(getattr(VisitDays(), resident.risk_tier))

    def community_of(self, site_id: str) -> str:
        """The organisation a site hangs under ("" none)."""
        site = self._t.sites.get(site_id)
        return site.org if site else ""

    def memo(self, key: str, compute: Callable[[Registry], T]) -> T:
        """``compute(self)``, worked out once per version of the registry (a figure over
        every resident, read by page after page until something changes)."""
        tables = self._t
        held = self._memo.get(key)
        if held is not None and held[0] is tables:
            return cast(T, held[1])
        value = compute(self)
        self._memo[key] = (tables, value)
        return value

    def devices_of(self, resident_id: str) -> list[Device]:
        """A resident's devices (indexed once per version of the device table)."""
        devices = self._t.devices
        index = self._by_resident
        if index is None or index[0] is not devices:
            grouped: dict[str, list[Device]] = {}
            for d in devices.values():
                if d.resident_id:
                    grouped.setdefault(d.resident_id, []).append(d)
            index = self._by_resident = (devices, grouped)
        return list(index[1].get(resident_id, ()))

    def apply(self, changes: list[Change], version: int | None = None) -> None:
        """Put and remove records; ``RegistryError`` (listing every problem, nothing
        changed) if the registry would not be sound after them. With ``version`` (the
        store's sequence the changes bring it to), a batch no newer than what this
        registry has is skipped: the follower read it before this process's own write
        went in, which had it already."""
        with self._applying:
            if version is not None and version <= self.version and changes:
                return
            self._t = self.changed(changes)
            if version is not None:
                self.version = max(self.version, version)

    def replace_with(self, other: Registry) -> None:
        """Become ``other`` (read whole again), at once."""
        with self._applying:
            self._t = other._t
        self.version = other.version

    def changed(self, changes: list[Change]) -> _Tables:
        """The tables with ``changes`` made, checked (``RegistryError``); this registry
        itself unchanged."""
        touched = {c.kind for c in changes}
        old = self._t
        new = _Tables(dict(old.orgs) if "org" in touched else old.orgs,
                      dict(old.sites) if "site" in touched else old.sites,
                      dict(old.gateways) if "gateway" in touched else old.gateways,
                      dict(old.residents) if "resident" in touched else old.residents,
                      dict(old.devices) if "device" in touched else old.devices)
        errors: list[str] = []
        for change in changes:
            table: dict[Any, Any] = getattr(new, change.kind + "s")
            key: Any = tuple(change.key.split("|", 1)) if change.kind == "device" \
                else change.key
            if change.doc is None:
                table.pop(key, None)
                continue
            try:
                record = decode(change)
            except RegistryError as exc:
                errors.append(str(exc))
                continue
            if key_of(record) != (change.kind, change.key):
                errors.append(f"{change.kind} {change.key}: its record says "
                              f"{key_of(record)[1]}")
                continue
            table[key] = record
        errors += problems(new)
        if errors:
            raise RegistryError("; ".join(errors))
        return new

    def to_file(self) -> RegistryFile:
        return RegistryFile(orgs=list(self.orgs.values()), sites=list(self.sites.values()),
                            gateways=list(self.gateways.values()),
                            residents=list(self.residents.values()),
                            devices=list(self.devices.values()))

    def only(self, gateway_ids: set[str]) -> Registry:
        """The part of the registry behind ``gateway_ids``: those gateways, their sites,
        their devices and the residents those devices belong to (an alert node's share)."""
        devices = [d for d in self.devices.values() if d.gateway_id in gateway_ids]
        residents = {d.resident_id for d in devices if d.resident_id}
        gateways = [g for g in self.gateways.values() if g.gateway_id in gateway_ids]
        sites = {g.site_id for g in gateways}
        return Registry(RegistryFile(
            orgs=list(self.orgs.values()),
            sites=[s for s in self.sites.values() if s.site_id in sites], gateways=gateways,
            residents=[r for r in self.residents.values() if r.resident_id in residents],
            devices=devices))
