"""Multivariate vital-sign anomaly: an IsolationForest over per-resident normalised windows.

Each resident's vital signs are summed over windows of ``window_s`` (mean heart rate,
respiration, SpO2, skin temperature, and the heart rate's spread); each window is put in
units of that resident's own running mean and deviation, so the model sees "how unusual
for this person", not "how unusual for anyone". Windows are collected for all residents,
the forest is fitted on the first ``train_windows`` of them (and refitted every
``refit_windows``), and closed windows are scored in one batch per ``tick``: one
``score_samples`` call for every resident at once, in a thread of its own and outside
the lock the readings take (``collect`` hands windows over, ``score`` does the model's
work), never on the path of a fall. A window scoring below the training set's
``quantile`` twice in a row raises ``VITALS_ANOMALY`` (a notice for the desk, severity
info); two ordinary windows clear it.

Kept across restarts: each resident's running mean and deviation and run of unusual
windows (``snapshot_of(resident)``), and, under ``FLEET``, the windows kept for training
and those the model was fitted on (the forest is fitted again from them on restore: the
same seed and data give the same forest; no model object is stored).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator

import msgspec
import numpy as np
import numpy.typing as npt

from alerts.detectors import snapshot
from alerts.detectors.base import FleetBase
from alerts.model import Condition, Signal
from telemetry.kinds import Kind
from telemetry.reading import Reading

FEATURES = (Kind.HEART_RATE, Kind.RESPIRATION_RATE, Kind.SPO2, Kind.SKIN_TEMPERATURE)
_INDEX = {kind: i for i, kind in enumerate(FEATURES)}
N = len(FEATURES) + 1  # + the heart rate's spread


class _Window:
    __slots__ = ("count", "gateway_id", "site_id", "square_hr", "start_ms", "sums")

    def __init__(self, start_ms: int, site_id: str, gateway_id: str) -> None:
        self.start_ms = start_ms
        self.site_id, self.gateway_id = site_id, gateway_id
        self.sums = [0.0] * len(FEATURES)
        self.count = [0] * len(FEATURES)
        self.square_hr = 0.0


class _Norm:
    __slots__ = ("mean", "n", "var")

    def __init__(self) -> None:
        self.mean = np.zeros(N)
        self.var = np.ones(N)
        self.n = 0


class NormState(msgspec.Struct, forbid_unknown_fields=True):
    mean: list[float]
    var: list[float]
    n: int
    low: int  # > 0: unusual windows in a row; < 0: usual ones
    flagged: bool


class ModelState(msgspec.Struct, forbid_unknown_fields=True):
    training: list[list[float]]  # windows kept for the next fit
    fitted_on: list[list[float]]  # the windows the forest was fitted on (none: not yet)
    since_fit: int


def _rows(rows: list[list[float]]) -> bool:
    return all(len(r) == N and all(math.isfinite(v) for v in r) for r in rows)


class VitalsAnomaly(FleetBase):
    kinds = frozenset(FEATURES)
    learned_as = "vitals-anomaly"
    learned_version = 1  # of ``NormState`` and ``ModelState``

    def __init__(self, *, window_s: float = 300.0, train_windows: int = 2000,
                 refit_windows: int = 50_000, quantile: float = 0.001, seed: int = 0) -> None:
        self.window_ms = int(window_s * 1000)
        self.train_windows = train_windows
        self.refit_windows = refit_windows
        self.quantile = quantile
        self.seed = seed
        self._open: dict[str, _Window] = {}
        self._closed: list[tuple[str, _Window]] = []
        self._ready: list[tuple[str, _Window]] = []
        self._handover = threading.Lock()
        self._norm: dict[str, _Norm] = {}
        self._training: list[npt.NDArray[np.float64]] = []
        self._since_fit = 0
        self._model: object | None = None
        self._fitted_on: npt.NDArray[np.float64] | None = None
        self._fit_pending: npt.NDArray[np.float64] | None = None  # restored, not fitted yet
        self._threshold = -np.inf
        self._low: dict[str, int] = {}  # consecutive unusual windows
        self._flagged: set[str] = set()
        self.scored = 0

    @property
    def trained(self) -> bool:
        return self._model is not None

    def observe(self, reading: Reading) -> list[Signal]:
        index = _INDEX.get(reading.kind)
        if index is None or not reading.resident_id:
            return []
        resident, t = reading.resident_id, reading.device_time_ms
        window = self._open.get(resident)
        if window is None or t >= window.start_ms + self.window_ms:
            if window is not None:
                self._closed.append((resident, window))
            window = self._open[resident] = _Window(t - t % self.window_ms, reading.site_id,
                                                    reading.gateway_id)
        window.sums[index] += reading.value
        window.count[index] += 1
        if index == 0:
            window.square_hr += reading.value * reading.value
        return []

    def _vector(self, resident: str, w: _Window) -> npt.NDArray[np.float64] | None:
        if w.count[0] < 3:
            return None  # no heart rate this window: nothing to say
        raw = np.full(N, np.nan)
        for i in range(len(FEATURES)):
            if w.count[i]:
                raw[i] = w.sums[i] / w.count[i]
        raw[-1] = np.sqrt(max(0.0, w.square_hr / w.count[0] - raw[0] ** 2))
        norm = self._norm.setdefault(resident, _Norm())
        known = ~np.isnan(raw)
        if norm.n == 0:
            norm.mean = np.where(known, raw, 0.0)
        z = np.where(known, (raw - norm.mean) / np.sqrt(norm.var + 1e-6), 0.0)
        alpha = max(1.0 / (norm.n + 1), 1.0 / 288)  # about a day of windows
        delta = np.where(known, raw - norm.mean, 0.0)
        norm.mean = norm.mean + alpha * delta
        norm.var = (1 - alpha) * (norm.var + alpha * delta * delta) if norm.n else norm.var
        norm.n += 1
        return z if norm.n > 12 else None  # an hour of windows before it means anything

    def slow_chunks(self, now_ms: int) -> Iterator[list[Signal]]:
        self.collect(now_ms)
        return iter(())

    def unlocked(self, now_ms: int) -> list[Signal]:
        return self.score(now_ms)

    def collect(self, now_ms: int) -> None:
        """Hand finished windows over to ``score`` (cheap; with the readings' lock held)."""
        for resident, window in list(self._open.items()):
            if now_ms >= window.start_ms + 2 * self.window_ms:  # went quiet: close it
                self._closed.append((resident, window))
                del self._open[resident]
        closed, self._closed = self._closed, []
        with self._handover:
            self._ready += closed

    def score(self, now_ms: int) -> list[Signal]:
        """Normalise, fit when due and score the collected windows in one batch. Touches
        nothing ``observe`` does, so the caller runs it without the readings' lock."""
        if self._fit_pending is not None:
            pending, self._fit_pending = self._fit_pending, None
            self._fit_on(pending)
        with self._handover:  # collect and score may run in different threads
            ready, self._ready = self._ready, []
        rows, owners = [], []
        for resident, window in ready:
            z = self._vector(resident, window)
            if z is not None:
                rows.append(z)
                owners.append((resident, window))
        if not rows:
            return []
        batch = np.vstack(rows)
        self._training += rows
        self._since_fit += len(rows)
        if (self._model is None and len(self._training) >= self.train_windows) or \
                (self._model is not None and self._since_fit >= self.refit_windows):
            self._fit()
        if self._model is None:
            return []
        scores = self._model.score_samples(batch)  # type: ignore[attr-defined]
        self.scored += len(scores)
        out: list[Signal] = []
        for (resident, window), score in zip(owners, scores, strict=True):
            unusual = score < self._threshold
            run = self._low.get(resident, 0)  # > 0: unusual windows in a row; < 0: usual
            self._low[resident] = max(run, 0) + 1 if unusual else max(min(run, 0) - 1, -2)
            if self._low[resident] >= 2 and resident not in self._flagged:
                self._flagged.add(resident)
                out.append(Signal(Condition.VITALS_ANOMALY, resident, True, now_ms,
                                  window.site_id, window.gateway_id,
                                  f"vital signs unusual for this resident (score {score:.3f})"))
            elif self._low[resident] <= -2 and resident in self._flagged:
                self._flagged.discard(resident)
                out.append(Signal(Condition.VITALS_ANOMALY, resident, False, now_ms,
                                  window.site_id, window.gateway_id, "vital signs as usual"))
        return out

    def _fit(self) -> None:
        self._fit_on(np.vstack(self._training[-self.refit_windows:]))
        self._training = self._training[-self.train_windows:]
        self._since_fit = 0

    def _fit_on(self, data: npt.NDArray[np.float64]) -> None:
        from sklearn.ensemble import IsolationForest

        model = IsolationForest(n_estimators=100, random_state=self.seed).fit(data)
        self._threshold = float(np.quantile(model.score_samples(data), self.quantile))
        self._model = model
        self._fitted_on = data

    # --- kept across restarts ------------------------------------------------------------

    def learned_subjects(self) -> Iterable[str]:
        return [snapshot.FLEET, *list(self._norm)]

    def snapshot_of(self, subject: str) -> bytes | None:
        if subject == snapshot.FLEET:
            fitted = self._fitted_on if self._fit_pending is None else self._fit_pending
            return snapshot.encode(ModelState(
                [row.tolist() for row in list(self._training)],
                [] if fitted is None else fitted.tolist(), self._since_fit))
        norm = self._norm.get(subject)
        if norm is None:
            return None
        return snapshot.encode(NormState(norm.mean.tolist(), norm.var.tolist(), norm.n,
                                         self._low.get(subject, 0), subject in self._flagged))

    def restore_of(self, subject: str, body: bytes) -> None:
        if subject == snapshot.FLEET:
            model = snapshot.decode(body, ModelState)
            snapshot.check(_rows(model.training) and _rows(model.fitted_on)
                           and model.since_fit >= 0, "a window out of shape")
            self._training = [np.asarray(row, dtype=np.float64) for row in model.training]
            self._since_fit = model.since_fit
            if model.fitted_on:  # fitted by the model's thread (seconds; not the caller's)
                self._fit_pending = np.asarray(model.fitted_on, dtype=np.float64)
            return
        state = snapshot.decode(body, NormState)
        snapshot.check(len(state.mean) == N and len(state.var) == N and state.n >= 0
                       and all(math.isfinite(v) for v in state.mean)
                       and snapshot.durations(state.var), "a norm out of shape")
        norm = self._norm[subject] = _Norm()
        norm.mean, norm.var = np.asarray(state.mean), np.asarray(state.var)
        norm.n = state.n
        self._low[subject] = state.low
        if state.flagged:
            self._flagged.add(subject)
