"""The detector bank: one set of detectors per resident, one health monitor for all devices.

Built from the registry at start, so a resident whose home was already silent when the
process started is watched from the first second. ``observe`` routes each reading to its
resident's detectors by kind; ``tick`` is split into a fast part (unconfirmed falls, bed
exits: every second) and a slow part (inactivity, device silence: every ``slow_every_s``).
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterator

from alerts.conditions import Signal
from alerts.detectors.activity import ACTIVITY_KINDS, InactivityRule
from alerts.detectors.events import EventRules, NightSchedule
from alerts.detectors.health import HealthMonitor
from alerts.detectors.multivariate import VitalsAnomaly
from alerts.detectors.room import RoomTemperature
from alerts.detectors.usual import usual_heart_rate, usual_skin_temperature
from alerts.detectors.vitals import VITAL_KINDS, VitalRules, overrides_from
from registry import Registry
from telemetry.kinds import Kind
from telemetry.reading import Reading

USUAL_BATCH = 4096  # readings per vectorised update (flushed at least every fast tick)
EVENT_KINDS = frozenset({Kind.FALL, Kind.SOS, Kind.WATER_LEAK, Kind.TAMPER,
                         Kind.BED_OCCUPANCY, Kind.SEAT_OCCUPANCY, Kind.DOOR})


def utc_offset_min(timezone: str, at_ms: int) -> int:
    """The site's UTC offset at ``at_ms`` (fixed for the process's life: our sites' zones
    have no daylight saving time)."""
    zone = zoneinfo.ZoneInfo(timezone)
    at = datetime.datetime.fromtimestamp(at_ms / 1000, tz=datetime.UTC)
    offset = at.astimezone(zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


class _Resident:
    __slots__ = ("events", "inactivity", "vitals")

    def __init__(self, events: EventRules, vitals: VitalRules,
                 inactivity: InactivityRule) -> None:
        self.events = events
        self.vitals = vitals
        self.inactivity = inactivity


class DetectorBank:
    def __init__(self, registry: Registry, start_ms: int, *, confirm_fall_s: float = 60.0,
                 bed_return_s: float = 1800.0, slow_every_s: float = 30.0) -> None:
        self.health = HealthMonitor()
        self.usual = [usual_heart_rate(), usual_skin_temperature()]
        self._usual_pending: list[Reading] = []  # micro-batch for the vectorised detectors
        self.multivariate = VitalsAnomaly()
        self.room = RoomTemperature()
        self.slow_every_ms = int(slow_every_s * 1000)
        self._next_slow_ms = start_ms
        self._residents: dict[str, _Resident] = {}
        self._armed: set[str] = set()  # residents with a fast timer running
        offsets = {s.site_id: utc_offset_min(s.timezone, start_ms)
                   for s in registry.sites.values()}
        doors: dict[str, tuple[str, str]] = {}  # resident -> (gateway, first door-ish device)
        for d in registry.devices.values():
            if d.resident_id and "door" in d.device_id and d.resident_id not in doors:
                doors[d.resident_id] = (d.gateway_id, d.device_id)
        any_gateway: dict[str, str] = {d.resident_id: d.gateway_id
                                       for d in registry.devices.values() if d.resident_id}
        for d in registry.devices.values():
            site_id = registry.gateways[d.gateway_id].site_id
            self.health.expect(site_id, d.gateway_id, d.device_id, start_ms)
        for r in registry.residents.values():
            offset = offsets[r.site_id]
            gateway, door = doors.get(r.resident_id, (any_gateway.get(r.resident_id, ""), ""))
            self._residents[r.resident_id] = _Resident(
                EventRules(r.resident_id, night=NightSchedule.parse(r.night, offset),
                           wandering_risk=r.wandering_risk, confirm_s=confirm_fall_s,
                           bed_return_s=bed_return_s),
                VitalRules(r.resident_id, overrides_from(r.limits)),
                InactivityRule(r.resident_id, r.site_id, gateway, start_ms, main_door=door,
                               utc_offset_ms=offset * 60_000))

    def __len__(self) -> int:
        return len(self._residents)

    def observe(self, readings: list[Reading]) -> list[Signal]:
        out: list[Signal] = []
        health = self.health.observe
        for r in readings:
            out += health(r)
            resident = self._residents.get(r.resident_id) if r.resident_id else None
            if resident is None:
                continue
            kind = r.kind
            if kind in VITAL_KINDS:
                out += resident.vitals.observe(r)
                self.multivariate.observe(r)
                self._usual_pending.append(r)
                continue
            if kind in EVENT_KINDS:
                out += resident.events.observe(r)
                self._armed.add(r.resident_id)  # type: ignore[arg-type]
            if kind in ACTIVITY_KINDS:
                out += resident.inactivity.observe(r)
            elif kind is Kind.ROOM_TEMPERATURE:
                out += self.room.observe(r)
        if len(self._usual_pending) >= USUAL_BATCH:
            out += self._flush_usual()
        return out

    def _flush_usual(self) -> list[Signal]:
        batch, self._usual_pending = self._usual_pending, []
        out: list[Signal] = []
        for usual in self.usual:
            out += usual.observe_batch(batch)
        return out

    def gateway_status(self, gateway_id: str, site_id: str, online: bool,
                       t_ms: int) -> list[Signal]:
        return self.health.gateway_status(gateway_id, site_id, online, t_ms)

    def tick(self, now_ms: int) -> list[Signal]:
        """Fast and (when due) slow timers in one call."""
        out = self.fast_tick(now_ms)
        for chunk in self.slow_tick(now_ms):
            out += chunk
        return out + self.multivariate.score(now_ms)

    def fast_tick(self, now_ms: int) -> list[Signal]:
        """Unconfirmed falls, night bed exits, the pending micro-batch: cheap, every second."""
        out: list[Signal] = self._flush_usual() if self._usual_pending else []
        for resident_id in list(self._armed):
            events = self._residents[resident_id].events
            out += events.tick(now_ms)
            if not events.armed:
                self._armed.discard(resident_id)
        return out

    def slow_tick(self, now_ms: int, chunk: int = 2000) -> Iterator[list[Signal]]:
        """Inactivity, device silence and the multivariate windows, when due, in chunks of
        residents: a caller holding a lock can let urgent work in between chunks. The
        multivariate model scores (and fits) in ``multivariate.score``, which the caller
        runs without the lock."""
        if now_ms < self._next_slow_ms:
            return
        self._next_slow_ms = now_ms + self.slow_every_ms
        residents = list(self._residents.values())
        for lo in range(0, len(residents), chunk):
            out: list[Signal] = []
            for resident in residents[lo:lo + chunk]:
                out += resident.inactivity.tick(now_ms)
            yield out
        yield from self.health.tick_chunks(now_ms)
        self.multivariate.collect(now_ms)  # scored by the caller, outside its lock
        yield []
