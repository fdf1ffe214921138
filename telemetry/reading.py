"""The canonical message: one observation of one device, as it crosses every process boundary."""

from __future__ import annotations

import msgspec

from telemetry.kinds import Kind


class Reading(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One normalised observation.

    Attributes:
        site_id: the site (nursing home or home) the gateway belongs to.
        gateway_id: the gateway that received it; also its MQTT username.
        device_id: the device, unique within its gateway.
        kind: what was observed.
        value: the value in the kind's canonical unit (binary kinds: 1.0 active, 0.0 not).
        unit: the canonical unit of ``kind`` (see ``telemetry.kinds.SPECS``).
        device_time_ms: when the device observed it, UTC milliseconds since the epoch.
        received_time_ms: when the gateway received it, UTC milliseconds since the epoch.
        seq: the gateway's sequence number; (gateway_id, seq) is unique forever. A gateway
            numbers from ``(boot_epoch << 31) + 1`` with a random epoch drawn when its
            outbox is made (``edge_agent.outbox``), so a wiped or replaced gateway never
            repeats a number; 0 <= seq < 2**63 (the codec refuses others).
        resident_id: the resident the gateway believes it is about; the centre checks
            this against its own registry and never trusts it on its own.
    """

    site_id: str
    gateway_id: str
    device_id: str
    kind: Kind
    value: float
    unit: str
    device_time_ms: int
    received_time_ms: int
    seq: int
    resident_id: str | None = None
