"""What ingest accepts of a gateway's message, apart from any broker or store: the topic
parsed, the gateway and each device checked against the registry, the envelope decoded
and validated, replays dropped. Every refusal says why, in the one vocabulary
(``telemetry.refusal``); the caller counts them and keeps them as dead letters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import NamedTuple

import msgspec

from ingest.dedup import Dedup
from registry import Gateway, Registry
from telemetry import codec, health, topics
from telemetry.parts import GATEWAY_PARTS
from telemetry.reading import Reading
from telemetry.refusal import Refusal


class Refused(NamedTuple):
    reason: Refusal
    detail: str


class Accepted(NamedTuple):
    readings: list[Reading]  # new, valid, with the registry's resident
    refused: list[Refused]
    duplicates: int  # valid, but offered before


class Status(NamedTuple):
    gateway: Gateway | None  # None: refused
    online: bool
    refused: Refused | None


UnknownDevice = Callable[[str, str, str, float, int], None]


class Acceptor:
    """Thread-safe: the lanes of the consumer share it (and its dedup)."""

    def __init__(self, registry: Registry, dedup: Dedup,
                 on_unknown: UnknownDevice | None = None) -> None:
        """``on_unknown``: told of each reading of a device the registry does not know
        from a gateway it does (gateway, device, kind, value, time): a device to pair."""
        self.registry = registry
        self.on_unknown = on_unknown
        self.dedup = dedup
        self._lock = threading.Lock()  # the dedup's
        self._ids_of: object = None  # the registry's device table the ids were taken from
        self._ids: set[str] = set()

    def _device_ids(self) -> set[str]:
        """Every device id the registry knows, behind any gateway (taken again when the
        registry changed: ``Registry.apply`` swaps its tables)."""
        devices = self.registry.devices
        if devices is not self._ids_of:
            self._ids, self._ids_of = {device_id for _, device_id in devices}, devices
        return self._ids

    def _gateway(self, topic: str) -> Gateway | Refused:
        try:
            parsed = topics.parse_central(topic)
        except topics.TopicError as exc:
            return Refused(Refusal.BAD_TOPIC, str(exc))
        gateway = self.registry.gateways.get(parsed.gateway_id)
        if gateway is None:
            return Refused(Refusal.UNKNOWN_GATEWAY, parsed.gateway_id)
        return gateway

    def status(self, topic: str, raw: bytes) -> Status:
        """A gateway's retained birth (``online``) or last will (``offline``)."""
        gateway = self._gateway(topic)
        if isinstance(gateway, Refused):
            return Status(None, False, gateway)
        if raw not in (health.ONLINE, health.OFFLINE):
            return Status(None, False, Refused(
                Refusal.BAD_STATUS, raw[:40].decode("utf-8", "replace")))
        return Status(gateway, raw == health.ONLINE, None)

    def readings(self, topic: str, raw: bytes, now_ms: int) -> Accepted:
        """The new, valid readings of a readings or urgent envelope."""
        gateway = self._gateway(topic)
        if isinstance(gateway, Refused):
            return Accepted([], [gateway], 0)
        try:
            batch = codec.decode(raw, now_ms=now_ms, expected_gateway_id=gateway.gateway_id)
        except codec.CodecError as exc:
            return Accepted([], [Refused(exc.reason, exc.detail)], 0)
        refused = [Refused(r.reason, f"reading {r.index}: {r.detail}")
                   for r in batch.rejections]
        candidates: list[Reading] = []
        device_of = self.registry.devices.get
        for reading in batch.readings:
            device = device_of((gateway.gateway_id, reading.device_id))
            if device is None and reading.device_id not in GATEWAY_PARTS:
                foreign = reading.device_id in self._device_ids()
                refused.append(Refused(Refusal.FOREIGN_DEVICE if foreign
                                       else Refusal.UNKNOWN_DEVICE, reading.device_id))
                if self.on_unknown is not None:  # known elsewhere or not: new here
                    self.on_unknown(gateway.gateway_id, reading.device_id, reading.kind.value,
                                    reading.value, now_ms)
                continue
            if reading.site_id != gateway.site_id:
                refused.append(Refused(Refusal.SITE_MISMATCH, reading.site_id))
                continue
            resident_id = device.resident_id if device else None  # the registry decides
            if reading.resident_id != resident_id:
                reading = msgspec.structs.replace(reading, resident_id=resident_id)
            candidates.append(reading)
        with self._lock:
            fresh = self.dedup.new_only(candidates)
        return Accepted(fresh, refused, len(candidates) - len(fresh))

    def forget(self, readings: list[Reading]) -> None:
        """Readings whose messages stay unacknowledged: when the broker sends them again,
        they are new."""
        with self._lock:
            self.dedup.forget(readings)
