"""What a resident's installed devices can detect (each device's ``kinds`` and ``room``),
and what is missing for the minimum kit: the desk shows it per resident and warns of a
home whose elder lives alone without what the inactivity check needs (a main-door contact
and motion in the living room). A doors-only home is flagged "reduced coverage", not left
to raise false checks silently.

* fall: a device that reports falls (a radar, a wearable, a pendant);
* inactivity: a door contact at the main door (in the hall, or named a door) and a motion
  sensor in the living room;
* night wandering: a bed sensor, or motion in the bedroom;
* vitals: the vital signs some device reports; SOS: a button."""

from __future__ import annotations

from typing import NamedTuple

from registry.model import Device, Registry
from telemetry.kinds import Kind

VITALS = (Kind.HEART_RATE, Kind.RESPIRATION_RATE, Kind.SPO2, Kind.SKIN_TEMPERATURE)
MAIN_DOOR_ROOMS = ("hall", "entrance", "")  # a door contact in no room is taken as the main one
LIVING_ROOMS = ("living", "living_room", "lounge")


class Coverage(NamedTuple):
    fall: bool
    inactivity: bool
    night: bool
    sos: bool
    vitals: tuple[str, ...]
    missing: tuple[str, ...]  # for the inactivity check: "main_door", "living_motion"
    reduced: bool  # an elder at home without the inactivity check's minimum kit


def _is_main_door(d: Device) -> bool:
    return Kind.DOOR in d.kinds and (d.room in MAIN_DOOR_ROOMS or "door" in d.device_id)


def _is_living_motion(d: Device) -> bool:
    return Kind.MOTION in d.kinds and d.room in LIVING_ROOMS


def coverage(registry: Registry, resident_id: str) -> Coverage:
    mine = registry.devices_of(resident_id)
    kinds = {k for d in mine for k in d.kinds}
    missing = tuple(name for name, have in (
        ("main_door", any(_is_main_door(d) for d in mine)),
        ("living_motion", any(_is_living_motion(d) for d in mine))) if not have)
    resident = registry.residents.get(resident_id)
    site = registry.sites.get(resident.site_id) if resident else None
    at_home = site is not None and site.kind == "home"
    return Coverage(
        fall=Kind.FALL in kinds, inactivity=not missing,
        night=Kind.BED_OCCUPANCY in kinds or any(
            Kind.MOTION in d.kinds and d.room == "bedroom" for d in mine),
        sos=Kind.SOS in kinds, vitals=tuple(k.value for k in VITALS if k in kinds),
        missing=missing, reduced=at_home and bool(missing))


def per_site(registry: Registry) -> dict[str, tuple[int, int]]:
    """Per site: its residents, and how many of them have reduced coverage (worked out
    once per version of the registry: a supervisor's page over thousands of sites)."""
    def count(reg: Registry) -> dict[str, tuple[int, int]]:
        # one pass over the devices, one over the residents: ``coverage``'s rule for
        # "reduced", without building each resident's whole coverage
        door: set[str] = set()
        living: set[str] = set()
        for d in reg.devices.values():
            if d.resident_id:
                if _is_main_door(d):
                    door.add(d.resident_id)
                if _is_living_motion(d):
                    living.add(d.resident_id)
        homes = {s.site_id for s in reg.sites.values() if s.kind == "home"}
        out: dict[str, list[int]] = {}
        for r in reg.residents.values():
            row = out.setdefault(r.site_id, [0, 0])
            row[0] += 1
            row[1] += r.site_id in homes and not (r.resident_id in door
                                                   and r.resident_id in living)
        return {site: (n, reduced) for site, (n, reduced) in out.items()}
    return registry.memo("coverage.per_site", count)
