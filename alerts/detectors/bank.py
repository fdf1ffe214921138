"""The detector bank: one set of detectors per resident (``Detector``), and the fleet
detectors, each one instance for everybody (``FleetDetector``: device health, the usual
levels, the multivariate model, room temperatures).

Built from the registry at start, so a resident whose home was already silent when the
process started is watched from the first second. ``observe`` hands each fleet detector
the readings of its kinds (gathered into larger batches for those that ask) and routes
each reading to its resident's detectors by kind. Time comes in three parts, the same for
every fleet detector: ``fast_tick`` (unconfirmed falls, bed exits, gathered batches: every
second), ``slow_tick`` (inactivity, device silence, the model's windows: every
``slow_every_s``, in chunks) and ``unlocked`` (the model's fitting and scoring, run by the
caller without its lock).

What the detectors learned leaves the bank as snapshots (``learned``, in chunks) and comes
back with ``restore``, which refuses, with a reason, what it cannot take back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping

from alerts.detectors.activity import InactivityRule
from alerts.detectors.base import ALL_KINDS, Detector, FleetDetector, Timer
from alerts.detectors.checkin import CheckInRule
from alerts.detectors.events import EventRules, NightSchedule
from alerts.detectors.health import HealthMonitor
from alerts.detectors.link import LinkTests
from alerts.detectors.multivariate import VitalsAnomaly
from alerts.detectors.room import RoomTemperature
from alerts.detectors.sleep import NO_VITALS_S, BedVitalsRule
from alerts.detectors.snapshot import (
    FLEET,
    FleetLearner,
    Learner,
    Refused,
    Snapshot,
    SnapshotError,
)
from alerts.detectors.usual import usual_heart_rate, usual_skin_temperature
from alerts.detectors.vitals import VitalRules, overrides_from
from alerts.model import Signal
from registry import Registry, Resident
from registry.time import utc_offset_min
from telemetry.kinds import Kind
from telemetry.reading import Reading

log = logging.getLogger(__name__)

SLOW_CHUNK = 250  # residents per chunk of the slow sweep: about 1 ms of the service's lock
RESTORED = "restored"
OTHER = "other"  # a detector named in a snapshot that this bank does not have
NO_HOME = ("", "", False)  # a resident with no device yet


class _Resident:
    """One resident's detectors, and which of them take each kind (shared by every
    resident whose detectors are of the same kinds)."""

    __slots__ = ("detectors", "record", "routes")

    def __init__(self, detectors: list[Detector], routes: dict[Kind, tuple[int, ...]],
                 record: Resident | None = None) -> None:
        self.detectors = detectors
        self.routes = routes
        self.record = record  # the registry's record they were built from


def resident_detectors(r: Resident, *, offset_min: int, start_ms: int, gateway: str,
                       main_door: str, confirm_fall_s: float, bed_return_s: float,
                       timezone: str = "Asia/Shanghai",
                       sos_cancel_s: float = 30.0, prompt_s: float = 0.0,
                       no_vitals_s: float = NO_VITALS_S,
                       heard: Callable[[], int] | None = None) -> list[Detector]:
    """The detectors one resident is watched by, in the order their signals are raised.
    ``prompt_s``: the home has a prompt device; a check waits that long for the
    resident's answer before it reaches the desk (0: it reaches it at once).
    ``timezone``: their site's (the daily check-in keeps its calendar)."""
    checkin: list[Detector] = [] if r.checkin is None else [
        CheckInRule(r.resident_id, r.site_id, gateway, r.checkin, timezone=timezone,
                    start_ms=start_ms, main_door=main_door)]
    return [EventRules(r.resident_id, night=NightSchedule.parse(r.night, offset_min),
                       wandering_risk=r.wandering_risk, confirm_s=confirm_fall_s,
                       bed_return_s=bed_return_s, sos_cancel_s=sos_cancel_s),
            VitalRules(r.resident_id, overrides_from(r.limits)),
            BedVitalsRule(r.resident_id, no_vitals_s, heard=heard),
            InactivityRule(r.resident_id, r.site_id, gateway, start_ms, main_door=main_door,
                           utc_offset_ms=offset_min * 60_000, prompt_s=prompt_s),
            *checkin]


class DetectorBank:
    def __init__(self, registry: Registry, start_ms: int, *, confirm_fall_s: float = 60.0,
                 bed_return_s: float = 1800.0, slow_every_s: float = 30.0,
                 fleet_subject: str = FLEET, sos_cancel_s: float = 30.0,
                 prompt_s: float = 0.0, no_vitals_s: float = NO_VITALS_S) -> None:
        """``fleet_subject``: the subject the fleet detectors' own snapshots are kept
        under (a bank of one partition of several has its own)."""
        self.fleet_subject = fleet_subject
        self.health = HealthMonitor()
        offsets = {s.site_id: utc_offset_min(s.timezone, start_ms)
                   for s in registry.sites.values()}
        self._zones = {s.site_id: s.timezone for s in registry.sites.values()}
        self.usual = [usual_heart_rate(offsets=offsets), usual_skin_temperature(offsets=offsets)]
        self.multivariate = VitalsAnomaly()
        self.room = RoomTemperature()
        self.link = LinkTests()
        self.link.expect({g.gateway_id: g.site_id for g in registry.gateways.values()},
                         start_ms)
        self.fleet: list[FleetDetector] = [self.health, *self.usual, self.multivariate,
                                           self.room, self.link]
        self._gathered: list[list[Reading]] = [[] for _ in self.fleet]
        self.slow_every_ms = int(slow_every_s * 1000)
        self._next_slow_ms = start_ms
        self._residents: dict[str, _Resident] = {}
        self._armed: set[str] = set()  # residents with a fast timer running
        self._slow: list[Detector] = []  # every resident's slow-timer detectors
        self._asking: dict[str, InactivityRule] = {}  # whose check may be held (asked)
        # the newest reading this bank has heard of (anyone's): how far the centre's
        # hearing has come (a sleeper's silence is judged against it, not the clock)
        self.heard_ms = start_ms
        self._options = {"confirm_fall_s": confirm_fall_s, "bed_return_s": bed_return_s,
                         "sos_cancel_s": sos_cancel_s, "no_vitals_s": no_vitals_s}
        self._prompt_s = prompt_s  # for the residents whose home has a prompt device
        self._shapes: dict[tuple[tuple[type, frozenset[Kind]], ...],
                           dict[Kind, tuple[int, ...]]] = {}
        # resident -> (gateway, main door, a prompt device at home)
        self._homes: dict[str, tuple[str, str, bool]] = {}
        self.refused_records = 0  # residents ``enrol`` could not watch (logged)
        homes = _homes(registry)
        for d in registry.devices.values():
            site_id = registry.gateways[d.gateway_id].site_id
            self.health.expect(site_id, d.gateway_id, d.device_id, start_ms)
        self._expected = set(registry.devices)  # the registry's devices health expects
        for r in registry.residents.values():
            self._watch(r, offsets[r.site_id], homes.get(r.resident_id, NO_HOME), start_ms)

    def _watch(self, r: Resident, offset_min: int, home: tuple[str, str, bool],
               start_ms: int) -> None:
        gateway, door, asks = home
        detectors = resident_detectors(r, offset_min=offset_min, start_ms=start_ms,
                                       gateway=gateway, main_door=door,
                                       timezone=self._zones.get(r.site_id, "Asia/Shanghai"),
                                       prompt_s=self._prompt_s if asks else 0.0,
                                       heard=self._heard, **self._options)
        self._residents[r.resident_id] = _Resident(detectors,
                                                   _routes(detectors, self._shapes), r)
        self._homes[r.resident_id] = home
        self._slow = [*self._slow, *(d for d in detectors if d.timer is Timer.SLOW)]

    def _unwatch(self, resident_id: str) -> list[Snapshot]:
        """Stop watching a resident; what their detectors had learned."""
        gone = self._residents.pop(resident_id, None)
        self._homes.pop(resident_id, None)
        self._armed.discard(resident_id)
        if gone is None:
            return []
        mine = {id(d) for d in gone.detectors}
        self._slow = [d for d in self._slow if id(d) not in mine]
        return [Snapshot(resident_id, d.learned_as, d.learned_version, 0, d.snapshot())
                for d in gone.detectors if isinstance(d, Learner)]

    def enrol(self, registry: Registry, now_ms: int, gateways: set[str] | None = None
              ) -> tuple[int, int, int]:
        """The registry changed (a resident admitted, moved or discharged, a device paired
        or removed): watch it as it is now, without a restart. A resident new here is
        watched from ``now_ms``; one whose record or home devices changed is watched anew
        with what their detectors had learned; one no longer in ``registry`` (or not in
        behind ``gateways``, this bank's share as ``Registry.only`` gives it) is dropped;
        a new device is expected from ``now_ms``, a removed one no longer. How many
        residents were (added, rewatched, dropped)."""
        expected = {key: d for key, d in registry.devices.items()
                    if gateways is None or d.gateway_id in gateways}
        share = {d.resident_id for d in expected.values()}
        wanted = {r.resident_id: r for r in registry.residents.values()
                  if gateways is None or r.resident_id in share}
        homes = _homes(registry)
        self.link.expect({g.gateway_id: g.site_id for g in registry.gateways.values()
                          if gateways is None or g.gateway_id in gateways}, now_ms)
        for key in self._expected - expected.keys():
            self.health.forget(*key)
        for key, d in expected.items():
            gateway = registry.gateways.get(d.gateway_id)
            if gateway is not None and key not in self._expected:
                self.health.expect(gateway.site_id, d.gateway_id, d.device_id, now_ms)
        self._expected = set(expected)
        added = rewatched = dropped = 0
        for resident_id in [r for r in self._residents if r not in wanted]:
            self._unwatch(resident_id)
            dropped += 1
        self._zones = {s.site_id: s.timezone for s in registry.sites.values()}
        for r in wanted.values():
            site = registry.sites.get(r.site_id)
            offset = utc_offset_min(site.timezone, now_ms) if site else 0
            home = homes.get(r.resident_id, NO_HOME)
            current = self._residents.get(r.resident_id)
            try:
                if current is None:
                    self._watch(r, offset, home, now_ms)
                    added += 1
                elif home != self._homes.get(r.resident_id) or current.record is not r:
                    learned = self._unwatch(r.resident_id)
                    self._watch(r, offset, home, now_ms)
                    self.restore(learned)
                    rewatched += 1
            except ValueError as exc:  # a record the detectors cannot take (a bad night)
                self.refused_records += 1
                log.error("resident %s not watched: %s", r.resident_id, exc)
        return added, rewatched, dropped

    def __len__(self) -> int:
        return len(self._residents)

    def _heard(self) -> int:
        return self.heard_ms

    def asking(self) -> list[tuple[str, str, int]]:
        """The residents whose check is held while the home unit asks them:
        (resident, gateway, since when)."""
        out = []
        for resident_id, rule in list(self._asking.items()):
            if rule.asking_ms is None or resident_id not in self._residents:
                del self._asking[resident_id]  # answered, sent on, or no longer watched
            else:
                out.append((resident_id, self._homes.get(resident_id, NO_HOME)[0],
                            rule.asking_ms))
        return out

    def detectors_of(self, resident_id: str) -> list[Detector]:
        """The detectors watching ``resident_id`` (none if not here)."""
        resident = self._residents.get(resident_id)
        return [] if resident is None else list(resident.detectors)

    def watched(self) -> list[str]:
        """The residents this bank watches."""
        return list(self._residents)

    def subjects(self) -> list[str]:
        """The residents this bank watches, and its fleet subject."""
        return [*self._residents, self.fleet_subject]

    def learned(self, taken_ms: int, chunk: int = SLOW_CHUNK) -> Iterator[list[Snapshot]]:
        """What every detector that learns has learned, as of ``taken_ms``: the
        residents' detectors ``chunk`` residents at a time, then each fleet detector's
        ``chunk`` subjects at a time (a caller holding a lock can let go in between)."""
        residents = list(self._residents.items())
        for lo in range(0, len(residents), chunk):
            yield [Snapshot(resident_id, d.learned_as, d.learned_version, taken_ms,
                            d.snapshot())
                   for resident_id, resident in residents[lo:lo + chunk]
                   for d in resident.detectors if isinstance(d, Learner)]
        for f in self.fleet:
            if not isinstance(f, FleetLearner):
                continue
            subjects = list(f.learned_subjects())
            for lo in range(0, len(subjects), chunk):
                rows = []
                for subject in subjects[lo:lo + chunk]:
                    body = f.snapshot_of(subject)
                    if body is not None:
                        stored = self.fleet_subject if subject == FLEET else subject
                        rows.append(Snapshot(stored, f.learned_as, f.learned_version,
                                             taken_ms, body))
                yield rows

    def restore(self, rows: list[Snapshot]) -> dict[tuple[str, str], int]:
        """Take back what ``rows`` say the detectors had learned (before any reading).
        Each row taken back or refused: counts by (outcome, detector), the outcome
        ``RESTORED`` or a ``Refused`` reason (a detector this bank does not have is
        counted as ``OTHER``); a refused row leaves its detector learning afresh."""
        fleet = {f.learned_as: f for f in self.fleet if isinstance(f, FleetLearner)}
        known = set(fleet) | {d.learned_as for r in self._residents.values()
                              for d in r.detectors if isinstance(d, Learner)}
        counts: dict[tuple[str, str], int] = {}
        for row in rows:
            try:
                self._restore(row, fleet)
                outcome = RESTORED
            except SnapshotError as exc:
                outcome = exc.reason.value
                log.warning("learned state of %s refused (%s): %s", row.detector[:40],
                            exc.reason.value, exc)
            key = (outcome, row.detector if row.detector in known else OTHER)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def _restore(self, row: Snapshot, fleet: Mapping[str, FleetLearner]) -> None:
        if row.detector in fleet:
            target: Learner | FleetLearner = fleet[row.detector]
            if row.subject != self.fleet_subject and row.subject not in self._residents:
                raise SnapshotError(Refused.UNKNOWN, "a resident not watched here")
        else:
            resident = self._residents.get(row.subject)
            if resident is None:
                raise SnapshotError(Refused.UNKNOWN, "a resident not watched here")
            found = [d for d in resident.detectors
                     if isinstance(d, Learner) and d.learned_as == row.detector]
            if not found:
                raise SnapshotError(Refused.UNKNOWN, f"no detector {row.detector[:40]!r}")
            target = found[0]
        if row.version != target.learned_version:
            raise SnapshotError(Refused.VERSION, f"version {row.version}, this code reads "
                                                 f"{target.learned_version}")
        if isinstance(target, FleetLearner):
            target.restore_of(FLEET if row.subject == self.fleet_subject else row.subject,
                              row.body)
        else:
            target.restore(row.body)

    def observe(self, readings: list[Reading]) -> list[Signal]:
        out: list[Signal] = []
        for i, detector in enumerate(self.fleet):
            mine = readings if detector.kinds is ALL_KINDS else \
                [r for r in readings if r.kind in detector.kinds]
            if not mine:
                continue
            if detector.batch_size > 1:
                gathered = self._gathered[i]
                gathered += mine
                if len(gathered) < detector.batch_size:
                    continue
                self._gathered[i], mine = [], gathered
            out += detector.observe_batch(mine)
        for r in readings:
            if r.device_time_ms > self.heard_ms:
                self.heard_ms = r.device_time_ms
            resident = self._residents.get(r.resident_id) if r.resident_id else None
            if resident is None:
                continue
            for i in resident.routes.get(r.kind, ()):
                d = resident.detectors[i]
                out += d.observe(r)
                if d.timer is Timer.FAST:
                    self._armed.add(r.resident_id)  # type: ignore[arg-type]
        return out

    def gateway_status(self, gateway_id: str, site_id: str, online: bool,
                       t_ms: int) -> list[Signal]:
        return self.health.gateway_status(gateway_id, site_id, online, t_ms)

    def tick(self, now_ms: int) -> list[Signal]:
        """All timers in one call (a caller without threads: the evaluation, tests)."""
        out = self.fast_tick(now_ms)
        for chunk in self.slow_tick(now_ms):
            out += chunk
        return out + self.unlocked(now_ms)

    def fast_tick(self, now_ms: int) -> list[Signal]:
        """Every second: gathered batches, the fleet's fast timers, unconfirmed falls,
        night bed exits."""
        out: list[Signal] = []
        for i, detector in enumerate(self.fleet):
            if self._gathered[i]:
                batch, self._gathered[i] = self._gathered[i], []
                out += detector.observe_batch(batch)
            out += detector.fast_tick(now_ms)
        for resident_id in list(self._armed):
            armed = False
            for d in self._residents[resident_id].detectors:
                if d.timer is Timer.FAST:
                    out += d.tick(now_ms)
                    armed = armed or d.armed
            if not armed:
                self._armed.discard(resident_id)
        return out

    def slow_tick(self, now_ms: int, chunk: int = SLOW_CHUNK) -> Iterator[list[Signal]]:
        """Every ``slow_every_s`` (else nothing): the residents' slow detectors
        (inactivity) in chunks of ``chunk``, then each fleet detector's chunks; a caller
        holding a lock can let urgent work in between the chunks."""
        if now_ms < self._next_slow_ms:
            return
        self._next_slow_ms = now_ms + self.slow_every_ms
        slow = self._slow
        for lo in range(0, len(slow), chunk):
            out: list[Signal] = []
            for d in slow[lo:lo + chunk]:
                out += d.tick(now_ms)
                if isinstance(d, InactivityRule) and d.asking_ms is not None:
                    self._asking[d.resident_id] = d
            yield out
        for detector in self.fleet:
            yield from detector.slow_chunks(now_ms)
        yield []

    def unlocked(self, now_ms: int) -> list[Signal]:
        """The fleet's work that needs no lock (fitting and scoring the model)."""
        out: list[Signal] = []
        for detector in self.fleet:
            out += detector.unlocked(now_ms)
        return out


def _homes(registry: Registry) -> dict[str, tuple[str, str, bool]]:
    """Resident -> the gateway of their home, its main door (the first door-ish device
    of theirs; "" if none), and whether a device of theirs answers a prompt (the home unit
    can ask them)."""
    doors: dict[str, tuple[str, str]] = {}
    asks: set[str] = set()
    for d in registry.devices.values():
        if d.resident_id and "door" in d.device_id and d.resident_id not in doors:
            doors[d.resident_id] = (d.gateway_id, d.device_id)
        if d.resident_id and Kind.ANSWER in d.kinds:
            asks.add(d.resident_id)
    any_gateway: dict[str, str] = {d.resident_id: d.gateway_id
                                   for d in registry.devices.values() if d.resident_id}
    return {r: (*doors.get(r, (g, "")), r in asks) for r, g in any_gateway.items()}


def _routes(detectors: list[Detector],
            shapes: dict[tuple[tuple[type, frozenset[Kind]], ...], dict[Kind, tuple[int, ...]]]
            ) -> dict[Kind, tuple[int, ...]]:
    """Kind -> the positions in ``detectors`` of those that take it, in their order: one
    table shared by every resident whose detectors are of the same types and kinds."""
    shape = tuple((type(d), d.kinds) for d in detectors)
    routes = shapes.get(shape)
    if routes is None:
        routes = shapes[shape] = {
            kind: mine for kind in Kind
            if (mine := tuple(i for i, d in enumerate(detectors) if kind in d.kinds))}
    return routes
