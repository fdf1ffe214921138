"""The simulated fleet: residents' routines, incidents and periodic streams, step by step.

``Fleet.step(t0, t1)`` returns every observation of every home in ``[t0, t1)`` as columns,
sorted by home and time. Renderers turn them into device payloads or gateway envelopes.
The result depends only on the seed, the home count, the start time and the step
boundaries, never on the wall clock.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from firmware_stubs import incidents as inc
from firmware_stubs.routine import Event, Profiles, day_events
from firmware_stubs.vitals import KIND_CODE, Samples, VitalsModel, affects_vitals
from telemetry.clock import DAY_MS
from telemetry.kinds import Kind

_BED = KIND_CODE[Kind.BED_OCCUPANCY]


class Fleet:
    def __init__(
        self,
        homes: int,
        seed: int,
        start_ms: int,
        incidents: list[inc.Incident],
    ) -> None:
        self.homes = homes
        self.seed = seed
        self.start_ms = start_ms
        self.profiles = Profiles(seed, homes)
        self.incidents = sorted(incidents, key=lambda i: (i.start_ms, i.home_index))
        self._by_home: dict[int, list[inc.Incident]] = defaultdict(list)
        for incident in self.incidents:
            self._by_home[incident.home_index].append(incident)
        self._vital_incidents = [i for i in self.incidents if affects_vitals(i)]
        self._vitals = VitalsModel(self.profiles, homes, np.random.default_rng([seed, 11]))
        self.in_bed = np.zeros(homes, dtype=bool)
        self._plans: list[list[Event]] = [[] for _ in range(homes)]
        self._pos = np.zeros(homes, dtype=np.int64)
        self._next_day = np.full(homes, start_ms // DAY_MS - 1, dtype=np.int64)
        self._next_t = np.full(homes, np.iinfo(np.int64).min, dtype=np.int64)
        # Replay the routine up to the start silently, so bed state is right at t0.
        self._events(start_ms - 2 * DAY_MS, start_ms, emit=False)

    def incidents_of(self, home: int) -> list[inc.Incident]:
        return self._by_home.get(home, [])

    def step(self, t0_ms: int, t1_ms: int) -> Samples:
        """Every observation with ``t0_ms <= t < t1_ms``, sorted by (home, time)."""
        events = self._events(t0_ms, t1_ms, emit=True)
        active = [i for i in self._vital_incidents if i.start_ms < t1_ms and i.end_ms > t0_ms]
        vitals = self._vitals.window(t0_ms, t1_ms, self.in_bed, active)
        cols = [np.concatenate(pair) for pair in zip(events, vitals, strict=True)]
        merged = Samples(*cols)
        order = np.lexsort((merged.t_ms, merged.home))
        return Samples(*(col[order] for col in merged))

    def _events(self, t0_ms: int, t1_ms: int, *, emit: bool) -> Samples:
        home_col: list[int] = []
        slot_col: list[int] = []
        kind_col: list[int] = []
        value_col: list[float] = []
        t_col: list[int] = []
        for home in np.flatnonzero(self._next_t < t1_ms).tolist():
            plan, pos = self._plans[home], int(self._pos[home])
            while True:
                if pos >= len(plan):
                    day = int(self._next_day[home])
                    self._next_day[home] = day + 1
                    plan = day_events(self.profiles, home, day, self.incidents_of(home))
                    self._plans[home], pos = plan, 0
                    if not plan:
                        continue
                event = plan[pos]
                if event.t_ms >= t1_ms:
                    break
                pos += 1
                code = KIND_CODE[event.kind]
                if code == _BED:
                    self.in_bed[home] = event.value > 0
                if emit and event.t_ms >= t0_ms:
                    home_col.append(home)
                    slot_col.append(event.slot)
                    kind_col.append(code)
                    value_col.append(event.value)
                    t_col.append(event.t_ms)
            self._pos[home] = pos
            self._next_t[home] = plan[pos].t_ms
        return Samples(
            np.asarray(home_col, dtype=np.int64),
            np.asarray(slot_col, dtype=np.int64),
            np.asarray(kind_col, dtype=np.int64),
            np.asarray(value_col, dtype=np.float64),
            np.asarray(t_col, dtype=np.int64),
        )
