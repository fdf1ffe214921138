"""A deterministic daily routine per resident, as the device events it causes.

Each resident has a seeded profile (usual wake and sleep times, resting vitals, whether
they go out, night toilet visits, wandering risk). ``day_events`` turns one day of that
routine, with the incidents that touch it, into time-ordered device events.
"""

from __future__ import annotations

import random
from typing import NamedTuple

import numpy as np

from firmware_stubs.incidents import Incident, IncidentKind
from firmware_stubs.layout import SLOT
from telemetry.clock import DAY_MS, MIN_MS, SECOND_MS
from telemetry.kinds import FallStatus, Kind

MOTION_HOLD_MS = 90 * SECOND_MS  # Aqara RTCGQ11LM default occupancy_timeout


class Event(NamedTuple):
    t_ms: int
    slot: int
    kind: Kind
    value: float


class Profiles:
    """Per-resident parameters as arrays (index = home index), fixed by the seed."""

    def __init__(self, seed: int, homes: int) -> None:
        rng = np.random.default_rng([seed, 7])
        self.seed = seed
        self.hr_base = rng.normal(70.0, 7.0, homes).clip(55, 90)
        self.rr_base = rng.normal(15.0, 2.0, homes).clip(11, 20)
        self.spo2_base = rng.normal(96.5, 1.0, homes).clip(93.5, 99)
        self.skin_base = rng.normal(33.5, 0.4, homes).clip(32.5, 34.5)
        self.wake_min = rng.normal(6.75 * 60, 30, homes).clip(5 * 60, 8.5 * 60)
        self.sleep_min = rng.normal(21.75 * 60, 30, homes).clip(20 * 60, 23.5 * 60)
        self.goes_out = rng.uniform(0.0, 0.7, homes)
        self.night_visits = rng.uniform(0.3, 2.0, homes)
        self.living_alone = rng.uniform(size=homes) < 0.3
        self.wandering_risk = rng.uniform(size=homes) < 0.2


def day_events(
    profiles: Profiles, home: int, day: int, incidents: list[Incident]
) -> list[Event]:
    """The device events of home ``home`` from its wake-up on ``day`` to its next wake-up.

    ``day`` counts days since the epoch (UTC midnight). Incidents of this home that overlap
    the period change what happens.
    """
    rnd = random.Random(profiles.seed * 1_000_003 + home * 10_007 + day)
    midnight = day * DAY_MS
    wake = midnight + int((profiles.wake_min[home] + rnd.uniform(-20, 20)) * MIN_MS)
    sleep = midnight + int((profiles.sleep_min[home] + rnd.uniform(-20, 20)) * MIN_MS)
    next_wake = wake + DAY_MS
    ev: list[Event] = []
    bed, bedroom, bathroom = SLOT["bed-mat"], SLOT["bedroom-pir"], SLOT["bathroom-pir"]
    radar, living, door = SLOT["bathroom-radar"], SLOT["living-pir"], SLOT["front-door"]
    vitals, living_radar = SLOT["bed-vitals"], SLOT["living-fall"]

    def motion(slot: int, t: int) -> None:
        ev.append(Event(t, slot, Kind.MOTION, 1.0))
        ev.append(Event(t + MOTION_HOLD_MS, slot, Kind.MOTION, 0.0))
        if slot == living:  # the living room's fall radar sees someone there too
            ev.append(Event(t, living_radar, Kind.PRESENCE, 1.0))
            ev.append(Event(t + 5 * MIN_MS, living_radar, Kind.PRESENCE, 0.0))

    def bathroom_visit(t: int, minutes: float) -> None:
        motion(bathroom, t)
        ev.append(Event(t, radar, Kind.PRESENCE, 1.0))
        ev.append(Event(t + int(minutes * MIN_MS), radar, Kind.PRESENCE, 0.0))

    def get_up(t: int) -> None:
        ev.append(Event(t, bed, Kind.BED_OCCUPANCY, 0.0))
        ev.append(Event(t, vitals, Kind.PRESENCE, 0.0))
        motion(bedroom, t + 5 * SECOND_MS)

    def lie_down(t: int) -> None:
        motion(bedroom, t - 60 * SECOND_MS)
        ev.append(Event(t, bed, Kind.BED_OCCUPANCY, 1.0))
        ev.append(Event(t, vitals, Kind.PRESENCE, 1.0))

    get_up(wake)
    bathroom_visit(wake + 3 * MIN_MS, rnd.uniform(3, 8))
    out_start = out_end = -1
    if rnd.random() < profiles.goes_out[home]:
        out_start = midnight + int(rnd.uniform(9.5, 15) * 60 * MIN_MS)
        out_end = out_start + int(rnd.uniform(45, 150) * MIN_MS)
        for t in (out_start, out_end):
            ev.append(Event(t, door, Kind.DOOR, 1.0))
            ev.append(Event(t + 20 * SECOND_MS, door, Kind.DOOR, 0.0))
    t = wake + 15 * MIN_MS
    while t < sleep - 10 * MIN_MS:
        if not out_start - 5 * MIN_MS <= t <= out_end + MIN_MS:
            if rnd.random() < 0.15:
                bathroom_visit(t, rnd.uniform(2, 8))
            else:
                motion(living, t)
        t += int(rnd.uniform(10, 40) * MIN_MS)
    lie_down(sleep)
    for _ in range(np.random.default_rng([profiles.seed, home, day]).poisson(
            profiles.night_visits[home])):
        at = int(rnd.uniform(sleep + 60 * MIN_MS, next_wake - 60 * MIN_MS))
        get_up(at)
        bathroom_visit(at + 30 * SECOND_MS, rnd.uniform(3, 8))
        lie_down(at + int(rnd.uniform(6, 12) * MIN_MS))
    for incident in incidents:
        if incident.end_ms > wake and incident.start_ms < next_wake:
            ev = _apply(ev, incident)
    ev = [e for e in ev if wake <= e.t_ms < next_wake]
    ev.sort()
    return ev


_RESTING = frozenset({Kind.MOTION, Kind.PRESENCE, Kind.DOOR})


def _quiet(ev: list[Event], start: int, end: int) -> list[Event]:
    """Drop the routine's activity in [start, end): only returns to rest are kept."""
    return [
        e for e in ev
        if not start <= e.t_ms < end or (e.kind in _RESTING and e.value == 0.0)
    ]


def _apply(ev: list[Event], incident: Incident) -> list[Event]:
    s, e = incident.start_ms, incident.end_ms
    kind = incident.incident
    if kind is IncidentKind.FALL:
        radar, bathroom = SLOT["bathroom-radar"], SLOT["bathroom-pir"]
        ev = _quiet(ev, s - 2 * MIN_MS, e)
        ev += [
            Event(s - 60 * SECOND_MS, bathroom, Kind.MOTION, 1.0),
            Event(s - 60 * SECOND_MS + MOTION_HOLD_MS, bathroom, Kind.MOTION, 0.0),
            Event(s - 60 * SECOND_MS, radar, Kind.PRESENCE, 1.0),
            Event(s, radar, Kind.FALL, float(FallStatus.MAYBE_FALL)),
            Event(s + 8 * SECOND_MS, radar, Kind.FALL, float(FallStatus.FALL)),
            Event(e, radar, Kind.FALL, float(FallStatus.NONE)),
            Event(e + 2 * MIN_MS, radar, Kind.PRESENCE, 0.0),
        ]
    elif kind is IncidentKind.SOS:
        ev.append(Event(s, SLOT["sos-button"], Kind.SOS, 1.0))
    elif kind is IncidentKind.NIGHT_WANDERING:
        bed, door, bedroom = SLOT["bed-mat"], SLOT["front-door"], SLOT["bedroom-pir"]
        ev = _quiet(ev, s, e)
        ev = [x for x in ev if not (s <= x.t_ms < e and x.slot == bed)]
        ev += [
            Event(s, bed, Kind.BED_OCCUPANCY, 0.0),
            Event(s + 10 * SECOND_MS, bedroom, Kind.MOTION, 1.0),
            Event(s + 10 * SECOND_MS + MOTION_HOLD_MS, bedroom, Kind.MOTION, 0.0),
            Event(s + 2 * MIN_MS, door, Kind.DOOR, 1.0),
            Event(s + 2 * MIN_MS + 30 * SECOND_MS, door, Kind.DOOR, 0.0),
            Event(e - 60 * SECOND_MS, door, Kind.DOOR, 1.0),
            Event(e - 30 * SECOND_MS, door, Kind.DOOR, 0.0),
            Event(e - 10 * SECOND_MS, bedroom, Kind.MOTION, 1.0),
            Event(e, bed, Kind.BED_OCCUPANCY, 1.0),
            Event(e - 10 * SECOND_MS + MOTION_HOLD_MS, bedroom, Kind.MOTION, 0.0),
        ]
    elif kind is IncidentKind.INACTIVITY:
        bed = SLOT["bed-mat"]
        ev = _quiet(ev, s, e)
        ev = [x for x in ev if not (s <= x.t_ms < e and x.slot == bed)]
    elif kind is IncidentKind.DROPOUT:
        slot = SLOT[incident.device_id]
        ev = [x for x in ev if not (s <= x.t_ms < e and x.slot == slot)]
        # The broker sends the device's last will once its keepalive runs out.
        ev.append(Event(s + 90 * SECOND_MS, slot, Kind.AVAILABILITY, 0.0))
        ev.append(Event(e, slot, Kind.AVAILABILITY, 1.0))
    return ev
