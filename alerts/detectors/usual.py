"""Departure from the resident's own normal, vectorised over residents in micro-batches:
heart rate 25 % above their usual for the hour of day, skin temperature 1.5 °C above it
(a fever shows on the wrist as a rise from the wearer's own level, far below any fixed
core-temperature limit).

Per resident and hour of day, a slow running mean is the usual; per resident, a fast one
(time constant a third of ``window_s``) is the recent level. The condition trips when the
recent level passes ``usual * ratio + delta`` for this hour (after ``learn_days`` of
samples at that hour) and clears under ``usual * clear_ratio + clear_delta``. While the
recent level departs, the usual does not learn, so a long departure does not become the
new normal.

What it learned of a resident (the usual per hour and its sample count, the recent level,
whether the condition is open) is kept across restarts (``snapshot_of``/``restore_of``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from alerts.detectors import snapshot
from alerts.detectors.base import FleetBase
from alerts.model import Condition, Signal
from telemetry.kinds import Kind
from telemetry.reading import Reading

BATCH = 4096  # readings per vectorised update (the bank flushes the rest every fast tick)


class UsualState(msgspec.Struct, forbid_unknown_fields=True):
    site_id: str
    gateway_id: str
    usual: list[float]  # by local hour of day
    count: list[float]  # samples learned at each hour
    recent: float
    recent_n: float
    open: bool


class UsualLevel(FleetBase):
    """Args:
        sample_s: the usual period of the kind's readings (sets the averaging weights).
        learn_days: days of samples at an hour before that hour's usual is trusted.
    """

    def __init__(self, kind: Kind, condition: Condition, *, ratio: float = 1.0,
                 delta: float = 0.0, clear_ratio: float = 1.0, clear_delta: float = 0.0,
                 sample_s: float = 5.0, window_s: float = 900.0, learn_days: float = 2.0,
                 unit: str = "", offsets: Mapping[str, int], capacity: int = 1024) -> None:
        self.kind, self.condition = kind, condition
        self.kinds = frozenset({kind})
        self.learned_as = f"usual-{kind.value}"
        self.learned_version = 1  # of ``UsualState``
        self.batch_size = BATCH
        self.ratio, self.delta = ratio, delta
        self.clear_ratio, self.clear_delta = clear_ratio, clear_delta
        self.sample_s = sample_s
        self.window_s = window_s
        self.learn_samples = learn_days * 3600 / sample_s
        self.unit = unit
        self.offsets = offsets  # site -> UTC offset in minutes (the registry's)
        self._alpha = min(1.0, 3 * sample_s / window_s)  # 95 % of a step within the window
        self._index: dict[str, int] = {}
        self._where: list[tuple[str, str]] = []
        self._usual = np.zeros((capacity, 24))
        self._count = np.zeros((capacity, 24))
        self._recent = np.zeros(capacity)
        self._recent_n = np.zeros(capacity)
        self._open = np.zeros(capacity, dtype=bool)
        self._offset = np.zeros(capacity, dtype=np.int64)  # each resident's site's

    def _slot(self, r: Reading) -> int:
        slot = self._index.get(r.resident_id or "")
        if slot is None:
            slot = self._new_slot(r.resident_id or "", r.site_id, r.gateway_id)
        return slot

    def _new_slot(self, resident_id: str, site_id: str, gateway_id: str) -> int:
        slot = self._index[resident_id] = len(self._where)
        self._where.append((site_id, gateway_id))
        if slot >= len(self._recent):
            self._grow()
        self._offset[slot] = self.offsets[site_id]
        return slot

    def learned_subjects(self) -> Iterable[str]:
        return list(self._index)

    def snapshot_of(self, subject: str) -> bytes | None:
        slot = self._index.get(subject)
        if slot is None:
            return None
        site_id, gateway_id = self._where[slot]
        return snapshot.encode(UsualState(
            site_id, gateway_id, self._usual[slot].tolist(), self._count[slot].tolist(),
            float(self._recent[slot]), float(self._recent_n[slot]), bool(self._open[slot])))

    def restore_of(self, subject: str, body: bytes) -> None:
        state = snapshot.decode(body, UsualState)
        snapshot.check(len(state.usual) == 24 and len(state.count) == 24,
                       "not 24 hours of usual levels")
        snapshot.check(all(math.isfinite(v) for v in [*state.usual, state.recent])
                       and snapshot.durations([*state.count, state.recent_n]),
                       "a level or a count out of range")
        if state.site_id not in self.offsets:
            raise snapshot.SnapshotError(snapshot.Refused.UNKNOWN, "a site not watched here")
        slot = self._index.get(subject)
        if slot is None:
            slot = self._new_slot(subject, state.site_id, state.gateway_id)
        self._usual[slot], self._count[slot] = state.usual, state.count
        self._recent[slot], self._recent_n[slot] = state.recent, state.recent_n
        self._open[slot] = state.open

    def _grow(self) -> None:
        def bigger(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            out = np.zeros((a.shape[0] * 2, *a.shape[1:]), dtype=a.dtype)
            out[: a.shape[0]] = a
            return out
        self._usual, self._count = bigger(self._usual), bigger(self._count)
        self._recent, self._recent_n = bigger(self._recent), bigger(self._recent_n)
        grown = np.zeros(len(self._open) * 2, dtype=bool)
        grown[: len(self._open)] = self._open
        self._open = grown
        offsets = np.zeros(len(self._offset) * 2, dtype=np.int64)
        offsets[: len(self._offset)] = self._offset
        self._offset = offsets

    def observe(self, reading: Reading) -> list[Signal]:
        return self.observe_batch([reading])

    def observe_batch(self, readings: list[Reading]) -> list[Signal]:
        hr = [r for r in readings if r.kind is self.kind and r.resident_id]
        if not hr:
            return []
        slots = np.fromiter((self._slot(r) for r in hr), dtype=np.int64, count=len(hr))
        values = np.fromiter((r.value for r in hr), dtype=np.float64, count=len(hr))
        times = np.fromiter((r.device_time_ms for r in hr), dtype=np.int64, count=len(hr))
        # Per touched resident only (never per all residents: batches may be small).
        touched, inverse, counts = np.unique(slots, return_inverse=True, return_counts=True)
        k = counts.astype(np.float64)
        mean = np.bincount(inverse, weights=values, minlength=len(touched)) / k
        last_of = np.zeros(len(touched), dtype=np.int64)
        last_of[inverse] = times  # the last reading of each resident in the batch wins
        hours = ((last_of // 60_000 + self._offset[touched]) // 60) % 24
        fresh = self._recent_n[touched] == 0
        step = 1.0 - (1.0 - self._alpha) ** k
        self._recent[touched] = np.where(fresh, mean, self._recent[touched]
                                         + step * (mean - self._recent[touched]))
        self._recent_n[touched] += k
        usual = self._usual[touched, hours]
        count = self._count[touched, hours]
        # Learn only from ordinary values: not while open, not while the recent level is
        # already departing (else a rise teaches the usual to rise with it).
        clear_level = usual * self.clear_ratio + self.clear_delta
        learning = ~self._open[touched] & ((count == 0) | (self._recent[touched]
                                                         <= clear_level))
        horizon = 3.0 * self.learn_samples  # a plain mean first, then a moving one
        learn_step = np.where(count < horizon, k / (count + k),
                              1.0 - (1.0 - 1.0 / horizon) ** k)
        self._usual[touched, hours] = np.where(learning, usual + learn_step * (mean - usual),
                                               usual)
        self._count[touched, hours] = count + np.where(learning, k, 0.0)
        known = (count >= self.learn_samples) & \
            (self._recent_n[touched] >= self.window_s / self.sample_s)
        recent = self._recent[touched]
        trip = known & ~self._open[touched] & (recent > usual * self.ratio + self.delta)
        clear = self._open[touched] & (recent < clear_level)
        out: list[Signal] = []
        if trip.any() or clear.any():
            names = list(self._index)
            for i in np.nonzero(trip | clear)[0]:
                slot = int(touched[i])
                active = bool(trip[i])
                self._open[slot] = active
                site_id, gateway_id = self._where[slot]
                out.append(Signal(self.condition, names[slot], active,
                                  int(last_of[i]), site_id, gateway_id,
                                  f"recent {recent[i]:.1f} {self.unit}, usual "
                                  f"{usual[i]:.1f} {self.unit} at this hour"))
        return out


def usual_heart_rate(**kwargs: Any) -> UsualLevel:
    """Resting heart rate 25 % above the usual for the hour over about 15 minutes."""
    return UsualLevel(Kind.HEART_RATE, Condition.HEART_RATE_ABOVE_USUAL, ratio=1.25,
                      clear_ratio=1.15, sample_s=5.0, unit="bpm", **kwargs)


def usual_skin_temperature(**kwargs: Any) -> UsualLevel:
    """Wrist skin temperature 1.5 °C above the usual for the hour over about 15 minutes."""
    return UsualLevel(Kind.SKIN_TEMPERATURE, Condition.SKIN_TEMPERATURE_ABOVE_USUAL,
                      delta=1.5, clear_delta=0.8, sample_s=60.0, unit="degC",
                      **kwargs)
