"""Periodic streams (vital signs, room temperature, battery), vectorised over all homes."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from firmware_stubs.incidents import Incident, IncidentKind
from firmware_stubs.layout import DEVICES, SLOT
from firmware_stubs.routine import Profiles
from telemetry.clock import DAY_MS
from telemetry.kinds import SPECS, Kind

ROOM_COLD_C = 12.0  # where a room without heating settles (a winter flat, indoors)
COOLING_MS = 6 * 3_600_000  # the time constant of its cooling


class Stream(NamedTuple):
    slot: int
    kind: Kind
    period_ms: int
    only_in_bed: bool


STREAMS: tuple[Stream, ...] = (
    Stream(SLOT["wristband"], Kind.HEART_RATE, 5_000, False),
    Stream(SLOT["wristband"], Kind.SPO2, 60_000, False),
    Stream(SLOT["wristband"], Kind.SKIN_TEMPERATURE, 60_000, False),
    Stream(SLOT["bed-vitals"], Kind.HEART_RATE, 5_000, True),
    Stream(SLOT["bed-vitals"], Kind.RESPIRATION_RATE, 5_000, True),
    Stream(SLOT["front-door"], Kind.ROOM_TEMPERATURE, 600_000, False),
    *(
        Stream(slot, Kind.BATTERY, 3_000_000, False)
        for slot, device in enumerate(DEVICES)
        if device.battery_powered
    ),
)

KINDS: tuple[Kind, ...] = tuple(Kind)
KIND_CODE: dict[Kind, int] = {kind: code for code, kind in enumerate(KINDS)}


class Samples(NamedTuple):
    """Columns of observations; one row each."""

    home: np.ndarray  # int64
    slot: np.ndarray  # int64
    kind: np.ndarray  # int64 code into KINDS
    value: np.ndarray  # float64
    t_ms: np.ndarray  # int64

    @staticmethod
    def empty() -> Samples:
        z = np.zeros(0, dtype=np.int64)
        return Samples(z, z, z, np.zeros(0), z)


_VITAL_EFFECT = {
    IncidentKind.TACHYCARDIA, IncidentKind.BRADYCARDIA, IncidentKind.DESATURATION,
    IncidentKind.FEVER, IncidentKind.STUCK_AT, IncidentKind.NOISE, IncidentKind.DROPOUT,
    IncidentKind.BATTERY_DRAIN, IncidentKind.HEATING_FAILURE,
}


def affects_vitals(incident: Incident) -> bool:
    return incident.incident in _VITAL_EFFECT


class VitalsModel:
    """Generates every periodic stream of every home for a time window."""

    def __init__(self, profiles: Profiles, homes: int, rng: np.random.Generator) -> None:
        self._p = profiles
        self._rng = rng
        self._homes = np.arange(homes, dtype=np.int64)
        self._phase = [
            rng.integers(0, stream.period_ms, homes, dtype=np.int64) for stream in STREAMS
        ]
        self._battery_start = rng.uniform(60, 100, (homes, len(DEVICES)))

    def window(
        self, t0_ms: int, t1_ms: int, in_bed: np.ndarray, incidents: list[Incident]
    ) -> Samples:
        """All samples with t0 <= t < t1, given who is in bed and which incidents run."""
        parts: list[Samples] = []
        for stream, phase in zip(STREAMS, self._phase, strict=True):
            period = stream.period_ms
            k0 = -((phase - t0_ms) // period)  # ceil((t0 - phase) / period)
            k1 = -((phase - t1_ms) // period)
            n = k1 - k0
            if stream.only_in_bed:
                n = np.where(in_bed, n, 0)
            total = int(n.sum())
            if total == 0:
                continue
            home = np.repeat(self._homes, n)
            first = np.repeat(k0 - np.cumsum(n) + n, n)  # k0 minus rows before this home
            k = first + np.arange(total)
            t = phase[home] + k * period
            value = self._values(stream, home, t, in_bed)
            slot = np.full(total, stream.slot, dtype=np.int64)
            kind = np.full(total, KIND_CODE[stream.kind], dtype=np.int64)
            sample = Samples(home, slot, kind, value, t)
            parts.append(_apply_incidents(sample, incidents, self._rng))
        if not parts:
            return Samples.empty()
        return Samples(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))

    def _values(
        self, stream: Stream, home: np.ndarray, t: np.ndarray, in_bed: np.ndarray
    ) -> np.ndarray:
        p, rng = self._p, self._rng
        hours = (t % DAY_MS) / 3_600_000.0
        circ = np.cos(2 * np.pi * (hours - 16.0) / 24.0)
        asleep = in_bed[home].astype(np.float64)
        n = len(home)
        kind = stream.kind
        if kind is Kind.HEART_RATE:
            v = p.hr_base[home] + 4 * circ - 6 * asleep + rng.normal(0, 2.5, n)
        elif kind is Kind.RESPIRATION_RATE:
            v = p.rr_base[home] + 0.8 * circ - 1.5 * asleep + rng.normal(0, 1.0, n)
        elif kind is Kind.SPO2:
            v = p.spo2_base[home] + rng.normal(0, 0.7, n)
        elif kind is Kind.SKIN_TEMPERATURE:
            v = p.skin_base[home] + 0.3 * circ + rng.normal(0, 0.15, n)
        elif kind is Kind.ROOM_TEMPERATURE:
            v = 21.5 + 1.5 * circ + rng.normal(0, 0.2, n)
        else:  # battery: slow drain of half a percent a day
            v = self._battery_start[home, stream.slot] - 0.5 * (t / DAY_MS % 60)
        spec = SPECS[kind]
        out: np.ndarray = np.round(np.clip(v, spec.low, spec.high), 1)
        return out


def _apply_incidents(
    s: Samples, incidents: list[Incident], rng: np.random.Generator
) -> Samples:
    keep: np.ndarray | None = None
    value = s.value
    for incident in incidents:
        slot = SLOT[incident.device_id]
        mask = (
            (s.home == incident.home_index)
            & (s.t_ms >= incident.start_ms)
            & (s.t_ms < incident.end_ms)
        )
        kind = incident.incident
        code = s.kind
        if kind is IncidentKind.DROPOUT or kind is IncidentKind.STUCK_AT \
                or kind is IncidentKind.NOISE or kind is IncidentKind.BATTERY_DRAIN:
            mask &= s.slot == slot
        if not mask.any():
            continue
        if value is s.value:
            value = s.value.copy()
        hr = mask & (code == KIND_CODE[Kind.HEART_RATE])
        if kind is IncidentKind.TACHYCARDIA:
            value[hr] += 45
        elif kind is IncidentKind.BRADYCARDIA:
            value[hr] = 38 + rng.normal(0, 1.5, int(hr.sum()))
        elif kind is IncidentKind.DESATURATION:
            m = mask & (code == KIND_CODE[Kind.SPO2])
            value[m] = 85 + rng.normal(0, 1.0, int(m.sum()))
        elif kind is IncidentKind.FEVER:
            value[mask & (code == KIND_CODE[Kind.SKIN_TEMPERATURE])] += 2.5
        elif kind is IncidentKind.STUCK_AT:
            value[hr] = 72.0
        elif kind is IncidentKind.NOISE:
            value[hr] += rng.normal(0, 20, int(hr.sum()))
        elif kind is IncidentKind.BATTERY_DRAIN:
            # drained to 3 % over the first half, then dead until replaced at the end: a
            # battery does not recover by itself, and a device reporting every 50 min must
            # be able to say so (draining to the very end hid it between two reports)
            m = mask & (code == KIND_CODE[Kind.BATTERY])
            half = (incident.end_ms - incident.start_ms) / 2
            frac = np.minimum(1.0, (s.t_ms[m] - incident.start_ms) / half)
            value[m] = value[m] * (1 - frac) + 3 * frac
        elif kind is IncidentKind.HEATING_FAILURE:
            m = mask & (code == KIND_CODE[Kind.ROOM_TEMPERATURE])
            cooled = np.exp(-(s.t_ms[m] - incident.start_ms) / COOLING_MS)
            value[m] = ROOM_COLD_C + (value[m] - ROOM_COLD_C) * cooled
        elif kind is IncidentKind.DROPOUT:
            keep = ~mask if keep is None else keep & ~mask
    if value is not s.value:
        for kind_code, reading_kind in enumerate(KINDS):
            in_kind = s.kind == kind_code
            if in_kind.any():
                spec = SPECS[reading_kind]
                value[in_kind] = np.round(np.clip(value[in_kind], spec.low, spec.high), 1)
    s = s._replace(value=value)
    if keep is not None:
        s = Samples(*(col[keep] for col in s))
    return s
