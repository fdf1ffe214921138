"""The detector bank of an alert node of several: one ``DetectorBank`` per partition of
gateways the node owns, built when its lease is gained (from that partition's part of the
registry, so a resident whose home is silent is watched from the first second) and dropped
when it is lost. Readings and gateway status go to the bank of the gateway's partition;
the timers run over every bank. What the detectors learned (usual levels, routines) is
taken back from the store's snapshots before a partition's first reading (``add``'s
``prepare``) and written by the node that lets it go; the open alerts, timers and notices
are in the shared store and carry on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator

from alerts.detectors.bank import SLOW_CHUNK, DetectorBank
from alerts.detectors.base import Detector
from alerts.detectors.health import DeviceHealth
from alerts.model import Alert, Signal, Snapshot
from registry import Registry
from telemetry.reading import Reading
from telemetry.topics import partition_of


class PartitionBank:
    def __init__(self, registry: Registry, partitions: int, *, confirm_fall_s: float = 60.0,
                 bed_return_s: float = 1800.0, sos_cancel_s: float = 30.0,
                 prompt_s: float = 0.0, no_vitals_s: float = 180.0) -> None:
        self.registry = registry
        self.partitions = partitions
        self._options = {"confirm_fall_s": confirm_fall_s, "bed_return_s": bed_return_s,
                         "sos_cancel_s": sos_cancel_s, "prompt_s": prompt_s,
                         "no_vitals_s": no_vitals_s}
        self._members: dict[int, set[str]] = defaultdict(set)
        for gateway_id in registry.gateways:
            self._members[partition_of(gateway_id, partitions)].add(gateway_id)
        self.banks: dict[int, DetectorBank] = {}
        self.health = _Health(self)

    def add(self, part: int, now_ms: int, open_alerts: list[Alert],
            prepare: Callable[[DetectorBank], object] | None = None) -> None:
        """Watch partition ``part`` from ``now_ms`` (its lease was gained), taking up the
        device health ``open_alerts`` (the store's) say of its gateways; ``prepare`` is
        given the new bank before it is watched (what its detectors learned)."""
        if part not in self.banks:
            bank = DetectorBank(self.registry.only(self._members[part]), now_ms,
                                fleet_subject=f"partition-{part}", **self._options)
            bank.health.restore([a for a in open_alerts
                                 if partition_of(a.gateway_id, self.partitions) == part])
            if prepare is not None:
                prepare(bank)
            self.banks[part] = bank

    def enrol(self, registry: Registry, now_ms: int) -> tuple[int, int, int]:
        """The registry changed: each partition held watches its share as it is now
        (``DetectorBank.enrol``); a new gateway joins its partition. Totals."""
        self.registry = registry
        self._members = defaultdict(set)
        for gateway_id in registry.gateways:
            self._members[partition_of(gateway_id, self.partitions)].add(gateway_id)
        totals = (0, 0, 0)
        for part, bank in list(self.banks.items()):
            counts = bank.enrol(registry, now_ms, self._members[part])
            totals = (totals[0] + counts[0], totals[1] + counts[1], totals[2] + counts[2])
        return totals

    def drop(self, part: int) -> DetectorBank | None:
        """Stop watching ``part`` (its lease was lost or handed over); its bank."""
        return self.banks.pop(part, None)

    def learned(self, taken_ms: int, chunk: int = SLOW_CHUNK) -> Iterator[list[Snapshot]]:
        """As ``DetectorBank.learned``, over the partitions still held."""
        for part, bank in list(self.banks.items()):
            for rows in bank.learned(taken_ms, chunk):
                if self.banks.get(part) is not bank:
                    break  # let go meanwhile: its last snapshot was written then
                yield rows

    def asking(self) -> list[tuple[str, str, int]]:
        """As ``DetectorBank.asking``, over the partitions held."""
        return [row for bank in list(self.banks.values()) for row in bank.asking()]

    def bank_of(self, gateway_id: str) -> DetectorBank | None:
        return self.banks.get(partition_of(gateway_id, self.partitions))

    def __len__(self) -> int:
        return sum(len(bank) for bank in self.banks.values())

    def watched(self) -> list[str]:
        """The residents of the partitions held here."""
        return [rid for bank in list(self.banks.values()) for rid in bank.watched()]

    def detectors_of(self, resident_id: str) -> list[Detector]:
        """The detectors watching ``resident_id`` here (none if its partition is not)."""
        for bank in list(self.banks.values()):
            if found := bank.detectors_of(resident_id):
                return found
        return []

    def observe(self, readings: list[Reading]) -> list[Signal]:
        by_part: dict[int, list[Reading]] = defaultdict(list)
        for r in readings:
            by_part[partition_of(r.gateway_id, self.partitions)].append(r)
        out: list[Signal] = []
        for part, mine in by_part.items():
            bank = self.banks.get(part)
            if bank is not None:  # else handed over meanwhile: its new owner has them
                out += bank.observe(mine)
        return out

    def gateway_status(self, gateway_id: str, site_id: str, online: bool,
                       t_ms: int) -> list[Signal]:
        bank = self.bank_of(gateway_id)
        return [] if bank is None else bank.gateway_status(gateway_id, site_id, online, t_ms)

    def tick(self, now_ms: int) -> list[Signal]:
        out: list[Signal] = []
        for bank in list(self.banks.values()):
            out += bank.tick(now_ms)
        return out

    def fast_tick(self, now_ms: int) -> list[Signal]:
        out: list[Signal] = []
        for bank in list(self.banks.values()):
            out += bank.fast_tick(now_ms)
        return out

    def slow_tick(self, now_ms: int, chunk: int = SLOW_CHUNK) -> Iterator[list[Signal]]:
        for bank in list(self.banks.values()):
            yield from bank.slow_tick(now_ms, chunk)

    def unlocked(self, now_ms: int) -> list[Signal]:
        out: list[Signal] = []
        for bank in list(self.banks.values()):
            out += bank.unlocked(now_ms)
        return out


class _Health:
    """The device health the desk's resident page reads, from the bank that has it."""

    def __init__(self, owner: PartitionBank) -> None:
        self._owner = owner

    def devices_of(self, gateway_id: str) -> list[DeviceHealth]:
        bank = self._owner.bank_of(gateway_id)
        return [] if bank is None else bank.health.devices_of(gateway_id)

    def gateway_offline(self, gateway_id: str) -> bool:
        bank = self._owner.bank_of(gateway_id)
        return bank is not None and bank.health.gateway_offline(gateway_id)

    def radio_down(self, gateway_id: str) -> bool:
        bank = self._owner.bank_of(gateway_id)
        return bank is not None and bank.health.radio_down(gateway_id)
