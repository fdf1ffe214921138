"""Injected incidents and device faults, with the ground-truth labels written for them."""

from __future__ import annotations

import enum
from typing import IO

import msgspec
import numpy as np

from firmware_stubs import layout
from telemetry.clock import DAY_MS, HOUR_MS, MIN_MS


class IncidentKind(enum.StrEnum):
    FALL = "fall"
    SOS = "sos"
    NIGHT_WANDERING = "night_wandering"
    INACTIVITY = "inactivity"
    TACHYCARDIA = "tachycardia"
    BRADYCARDIA = "bradycardia"
    DESATURATION = "desaturation"
    FEVER = "fever"
    BATTERY_DRAIN = "battery_drain"
    DROPOUT = "dropout"
    STUCK_AT = "stuck_at"
    NOISE = "noise"
    HEATING_FAILURE = "heating_failure"  # the room cools towards 12 °C


# The device whose output shows the incident (faults act on it; events come from it).
DEVICE_OF: dict[IncidentKind, str] = {
    IncidentKind.FALL: "bathroom-radar",
    IncidentKind.SOS: "sos-button",
    IncidentKind.NIGHT_WANDERING: "front-door",
    IncidentKind.INACTIVITY: "living-pir",
    IncidentKind.TACHYCARDIA: "wristband",
    IncidentKind.BRADYCARDIA: "wristband",
    IncidentKind.DESATURATION: "wristband",
    IncidentKind.FEVER: "wristband",
    IncidentKind.BATTERY_DRAIN: "bedroom-pir",
    IncidentKind.DROPOUT: "wristband",
    IncidentKind.STUCK_AT: "wristband",
    IncidentKind.NOISE: "wristband",
    IncidentKind.HEATING_FAILURE: "front-door",  # the contact that reports the room's air
}

# (earliest hour of day, latest hour of day, shortest minutes, longest minutes)
_WHEN: dict[IncidentKind, tuple[float, float, int, int]] = {
    IncidentKind.FALL: (8, 20, 20, 40),
    IncidentKind.SOS: (8, 21, 1, 1),
    IncidentKind.NIGHT_WANDERING: (1, 4, 20, 40),
    IncidentKind.INACTIVITY: (9, 15, 180, 300),
    IncidentKind.TACHYCARDIA: (9, 20, 20, 60),
    IncidentKind.BRADYCARDIA: (9, 20, 20, 60),
    IncidentKind.DESATURATION: (0, 23, 15, 45),
    IncidentKind.FEVER: (10, 20, 120, 240),
    IncidentKind.BATTERY_DRAIN: (0, 23, 120, 360),
    IncidentKind.DROPOUT: (0, 23, 30, 120),
    IncidentKind.STUCK_AT: (0, 23, 30, 90),
    IncidentKind.NOISE: (0, 23, 30, 90),
    IncidentKind.HEATING_FAILURE: (0, 23, 360, 600),
}

ALL_KINDS: tuple[IncidentKind, ...] = tuple(IncidentKind)


class Incident(msgspec.Struct, frozen=True):
    """One injected incident; its JSON line is the ground-truth label."""

    incident: IncidentKind
    home_index: int
    site_id: str
    gateway_id: str
    resident_id: str
    device_id: str
    start_ms: int
    end_ms: int

    def active(self, t_ms: int) -> bool:
        return self.start_ms <= t_ms < self.end_ms


def make(kind: IncidentKind, home_index: int, start_ms: int, duration_ms: int) -> Incident:
    """An incident of ``kind`` in home ``home_index`` from ``start_ms``."""
    return Incident(
        incident=kind,
        home_index=home_index,
        site_id=layout.site_id(home_index),
        gateway_id=layout.gateway_id(home_index),
        resident_id=layout.resident_id(home_index),
        device_id=DEVICE_OF[kind],
        start_ms=start_ms,
        end_ms=start_ms + duration_ms,
    )


def schedule(
    rng: np.random.Generator,
    homes: int,
    start_ms: int,
    days: int,
    per_home_day: float,
    kinds: tuple[IncidentKind, ...] = ALL_KINDS,
    wandering_risk: np.ndarray | None = None,
) -> list[Incident]:
    """Random incidents at ``per_home_day`` per home and day, at plausible hours.

    Night wandering is only given to residents with ``wandering_risk``.
    """
    out: list[Incident] = []
    first_day = start_ms // DAY_MS
    for day in range(first_day, first_day + days + 1):
        counts = rng.poisson(per_home_day, size=homes)
        for home in np.flatnonzero(counts):
            for _ in range(int(counts[home])):
                kind = kinds[int(rng.integers(len(kinds)))]
                if (
                    kind is IncidentKind.NIGHT_WANDERING
                    and wandering_risk is not None
                    and not wandering_risk[home]
                ):
                    kind = IncidentKind.SOS
                lo, hi, shortest, longest = _WHEN[kind]
                at = day * DAY_MS + int(rng.uniform(lo, hi) * HOUR_MS)
                minutes = int(rng.integers(shortest, longest + 1))
                if at >= start_ms:
                    out.append(make(kind, int(home), at, minutes * MIN_MS))
    out.sort(key=lambda incident: (incident.start_ms, incident.home_index))
    return out


def write_labels(incidents: list[Incident], out: IO[bytes]) -> None:
    """Write one JSON line per incident."""
    encoder = msgspec.json.Encoder()
    for incident in incidents:
        out.write(encoder.encode(incident) + b"\n")


def read_labels(data: bytes) -> list[Incident]:
    decoder = msgspec.json.Decoder(Incident)
    return [decoder.decode(line) for line in data.splitlines() if line.strip()]
