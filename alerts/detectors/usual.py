"""Departure from the resident's own normal: resting heart rate above their usual for the
hour of day, vectorised over residents in micro-batches.

Per resident and hour of day, a slow running mean is the usual; per resident, a fast one
(time constant a third of ``window_s``) is the recent level. The condition trips when the
recent level is ``ratio`` times the usual for this hour (after ``learn_samples`` for that
hour) and clears under ``clear_ratio``. While the recent level departs, the usual does not
learn, so a long departure does not become the new normal.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from alerts.conditions import Condition, Signal
from telemetry.kinds import Kind
from telemetry.reading import Reading

SAMPLE_S = 5.0  # the heart-rate period of the devices we know


class UsualHeartRate:
    def __init__(self, *, ratio: float = 1.25, clear_ratio: float = 1.15,
                 window_s: float = 900.0, learn_samples: int = 2000,
                 utc_offset_min: int = 480, capacity: int = 1024) -> None:
        self.ratio = ratio
        self.clear_ratio = clear_ratio
        self.window_s = window_s
        self.learn_samples = learn_samples
        self.utc_offset_min = utc_offset_min
        self._alpha = 3 * SAMPLE_S / window_s  # 95 % of a step within the window
        self._index: dict[str, int] = {}
        self._where: list[tuple[str, str]] = []
        self._usual = np.zeros((capacity, 24))
        self._count = np.zeros((capacity, 24))
        self._recent = np.zeros(capacity)
        self._recent_n = np.zeros(capacity)
        self._open = np.zeros(capacity, dtype=bool)

    def _slot(self, r: Reading) -> int:
        slot = self._index.get(r.resident_id or "")
        if slot is None:
            slot = self._index[r.resident_id or ""] = len(self._where)
            self._where.append((r.site_id, r.gateway_id))
            if slot >= len(self._recent):
                self._grow()
        return slot

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

    def observe(self, reading: Reading) -> list[Signal]:
        return self.observe_batch([reading])

    def observe_batch(self, readings: list[Reading]) -> list[Signal]:
        hr = [r for r in readings if r.kind is Kind.HEART_RATE and r.resident_id]
        if not hr:
            return []
        slots = np.fromiter((self._slot(r) for r in hr), dtype=np.int64, count=len(hr))
        values = np.fromiter((r.value for r in hr), dtype=np.float64, count=len(hr))
        times = np.fromiter((r.device_time_ms for r in hr), dtype=np.int64, count=len(hr))
        size = len(self._where)
        n = np.bincount(slots, minlength=size)
        total = np.bincount(slots, weights=values, minlength=size)
        touched = np.nonzero(n)[0]
        k = n[touched].astype(np.float64)
        mean = total[touched] / k
        last_t = np.zeros(size, dtype=np.int64)
        last_t[slots] = times  # the last reading of each resident in the batch wins
        hours = ((last_t[touched] // 60_000 + self.utc_offset_min) // 60) % 24
        fresh = self._recent_n[touched] == 0
        step = 1.0 - (1.0 - self._alpha) ** k
        self._recent[touched] = np.where(fresh, mean, self._recent[touched]
                                         + step * (mean - self._recent[touched]))
        self._recent_n[touched] += k
        usual = self._usual[touched, hours]
        count = self._count[touched, hours]
        # Learn only from ordinary values: not while open, not while the recent level is
        # already departing (else a rise teaches the usual to rise with it).
        learning = ~self._open[touched] & ((count == 0) | (self._recent[touched]
                                                         <= self.clear_ratio * usual))
        horizon = 3.0 * self.learn_samples  # a plain mean first, then a moving one
        learn_step = np.where(count < horizon, k / (count + k),
                              1.0 - (1.0 - 1.0 / horizon) ** k)
        self._usual[touched, hours] = np.where(learning, usual + learn_step * (mean - usual),
                                               usual)
        self._count[touched, hours] = count + np.where(learning, k, 0.0)
        known = (count >= self.learn_samples) & \
            (self._recent_n[touched] >= self.window_s / SAMPLE_S)
        recent = self._recent[touched]
        trip = known & ~self._open[touched] & (recent > self.ratio * usual)
        clear = self._open[touched] & (recent < self.clear_ratio * usual)
        out: list[Signal] = []
        if trip.any() or clear.any():
            names = list(self._index)
            for i in np.nonzero(trip | clear)[0]:
                slot = int(touched[i])
                active = bool(trip[i])
                self._open[slot] = active
                site_id, gateway_id = self._where[slot]
                out.append(Signal(Condition.HEART_RATE_ABOVE_USUAL, names[slot], active,
                                  int(last_t[slot]), site_id, gateway_id,
                                  f"recent {recent[i]:.0f} bpm, usual {usual[i]:.0f} bpm "
                                  f"at this hour"))
        return out

    def tick(self, now_ms: int) -> list[Signal]:
        return []
