"""The registry's model: sites, gateways, residents, their devices and contacts, and the
``Registry`` that indexes and checks them (the registry, not the gateway, says which
resident a device belongs to)."""

from __future__ import annotations

from typing import Literal

import msgspec

from telemetry import topics
from telemetry.errors import EldercareError


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


class Resident(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    resident_id: str
    site_id: str
    room: str
    display_name: str
    floor: str = ""
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


class Device(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    device_id: str
    gateway_id: str
    resident_id: str | None = None
    room: str = ""


class Gateway(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    gateway_id: str
    site_id: str


class Site(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    site_id: str
    name: str
    address: str = ""
    timezone: str = "Asia/Shanghai"
    kind: Literal["home", "institution"] = "home"  # a flat or house; a care home
    responders: list[Contact] = []  # staff on duty, community workers, to send to alarms


class RegistryFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sites: list[Site]
    gateways: list[Gateway]
    residents: list[Resident]
    devices: list[Device]


class Registry:
    def __init__(self, data: RegistryFile) -> None:
        self.sites = {s.site_id: s for s in data.sites}
        self.gateways = {g.gateway_id: g for g in data.gateways}
        self.residents = {r.resident_id: r for r in data.residents}
        self.devices = {(d.gateway_id, d.device_id): d for d in data.devices}
        for g in data.gateways:
            topics.check_id(g.gateway_id, "gateway id")
            if g.site_id not in self.sites:
                raise RegistryError(f"gateway {g.gateway_id} is at unknown site {g.site_id}")
        for d in data.devices:
            if d.gateway_id not in self.gateways:
                raise RegistryError(f"device {d.device_id} is behind unknown gateway")
            if d.resident_id is not None and d.resident_id not in self.residents:
                raise RegistryError(f"device {d.device_id} belongs to an unknown resident")
        if len(self.devices) != len(data.devices):
            raise RegistryError("a (gateway, device) pair appears twice")

    def device(self, gateway_id: str, device_id: str) -> Device | None:
        return self.devices.get((gateway_id, device_id))

    def only(self, gateway_ids: set[str]) -> Registry:
        """The part of the registry behind ``gateway_ids``: those gateways, their sites,
        their devices and the residents those devices belong to (an alert node's share)."""
        devices = [d for d in self.devices.values() if d.gateway_id in gateway_ids]
        residents = {d.resident_id for d in devices if d.resident_id}
        gateways = [g for g in self.gateways.values() if g.gateway_id in gateway_ids]
        sites = {g.site_id for g in gateways}
        return Registry(RegistryFile(
            sites=[s for s in self.sites.values() if s.site_id in sites], gateways=gateways,
            residents=[r for r in self.residents.values() if r.resident_id in residents],
            devices=devices))
