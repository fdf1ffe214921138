"""Readings for tests of the alert core: a resident of the sample registry by default."""

from __future__ import annotations

from telemetry.kinds import Kind, unit_of
from telemetry.reading import Reading

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC = 08:00 in Shanghai
_seq = [0]


def reading(kind: Kind, value: float, t_ms: int, *, device_id: str = "bed-vitals",
            resident_id: str | None = "res-00000", gateway_id: str = "gw-00000",
            site_id: str = "site-000") -> Reading:
    _seq[0] += 1
    return Reading(site_id, gateway_id, device_id, kind, value, unit_of(kind), t_ms, t_ms,
                   _seq[0], resident_id)
