"""Readings for tests of the alert core: a resident of the sample registry by default."""

from __future__ import annotations

from telemetry import codec
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


def load_envelope(i: int, per: int, now_ms: int) -> bytes:
    """Envelope ``i`` of a load test: ``per`` heart rates, alternately from the sample
    registry's two gateways, with sequence numbers ``i * per + 1`` on."""
    gateway = f"gw-0000{i % 2}"
    readings = [Reading("site-000", gateway, "wristband", Kind.HEART_RATE, 70.0,
                        unit_of(Kind.HEART_RATE), now_ms, now_ms, i * per + k + 1, None)
                for k in range(per)]
    return codec.encode(gateway, "site-000", now_ms, readings)


def load_keys(envelopes: int, per: int) -> set[tuple[str, int]]:
    """The (gateway, seq) of every reading in ``load_envelope(0 .. envelopes - 1)``."""
    return {(f"gw-0000{i % 2}", i * per + k + 1) for i in range(envelopes)
            for k in range(per)}
