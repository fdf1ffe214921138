"""The detectors follow the registry as it changes, without a restart: a resident admitted
with their devices is watched from then on (their main door known to the inactivity
rule), a resident whose record or devices changed is watched anew with what their
detectors had learned, a discharged resident is dropped, and a removed device is no
longer expected (no "device silent" alarm for a sensor taken down)."""

from __future__ import annotations

import msgspec

import registry
from alerts.detectors.activity import InactivityRule
from alerts.detectors.bank import DetectorBank
from alerts.detectors.partition_bank import PartitionBank
from alerts.model import Condition
from registry import Device, Gateway, Resident
from registry.model import Change, device_key, put
from telemetry import topics
from telemetry.kinds import Kind, unit_of
from telemetry.reading import Reading
from tests.support.readings import T0

HOUR_MS = 3_600_000
NEW = Resident("res-00002", "site-001", "flat-3", "Test Resident N")
NEW_GW = Gateway("gw-00002", "site-001")
NEW_DEVICES = [Device("front-door", "gw-00002", "res-00002"),
               Device("living-pir", "gw-00002", "res-00002")]


def _motion(device: Device, t_ms: int, seq: int) -> Reading:
    return Reading("site-001", device.gateway_id, device.device_id, Kind.MOTION, 1.0,
                   unit_of(Kind.MOTION), t_ms, t_ms, seq, device.resident_id)


def _silent(signals: list[object]) -> set[str]:
    return {s.subject for s in signals  # type: ignore[attr-defined]
            if s.condition is Condition.DEVICE_SILENT and s.active}  # type: ignore[attr-defined]


def test_an_admitted_resident_is_watched_and_a_discharged_one_dropped() -> None:
    reg = registry.load(registry.SAMPLE)
    bank = DetectorBank(reg, T0)
    assert bank.detectors_of(NEW.resident_id) == []
    reg.apply([put(NEW), put(NEW_GW), *(put(d) for d in NEW_DEVICES)])
    assert bank.enrol(reg, T0 + HOUR_MS) == (1, 0, 0)
    rules = [d for d in bank.detectors_of(NEW.resident_id) if isinstance(d, InactivityRule)]
    assert rules and rules[0]._detector.main_door == "front-door"
    assert bank.observe([_motion(NEW_DEVICES[1], T0 + HOUR_MS + 1000, 1)]) == []

    reg.apply([Change("device", device_key("gw-00002", d.device_id), None)
               for d in NEW_DEVICES] + [Change("resident", NEW.resident_id, None)])
    assert bank.enrol(reg, T0 + 2 * HOUR_MS) == (0, 0, 1)
    assert bank.detectors_of(NEW.resident_id) == []
    later = bank.tick(T0 + 72 * HOUR_MS)  # three days on: the removed sensors are not missed
    assert not {s for s in _silent(later) if s.startswith("gw-00002/")}
    assert "gw-00000/front-door" in _silent(later)  # the others still are


def test_a_resident_watched_anew_keeps_what_their_detectors_learned() -> None:
    reg = registry.load(registry.SAMPLE)
    bank = DetectorBank(reg, T0)
    door = reg.devices[("gw-00000", "front-door")]
    bank.observe([_motion(door, T0 + i * 600_000, i) for i in range(1, 30)])
    before = {d.learned_as: d.snapshot() for d in bank.detectors_of("res-00000")
              if isinstance(d, InactivityRule)}
    moved = msgspec.structs.replace(reg.residents["res-00000"], room="room-201")
    reg.apply([put(moved)])
    assert bank.enrol(reg, T0 + 6 * HOUR_MS) == (0, 1, 0)
    after = {d.learned_as: d.snapshot() for d in bank.detectors_of("res-00000")
             if isinstance(d, InactivityRule)}
    assert after == before and after
    assert bank.enrol(reg, T0 + 7 * HOUR_MS) == (0, 0, 0)  # nothing changed: untouched


def test_a_node_watches_what_its_partitions_gain() -> None:
    reg = registry.load(registry.SAMPLE)
    bank = PartitionBank(reg, 2)
    part = topics.partition_of(NEW_GW.gateway_id, 2)
    bank.add(part, T0, [])
    reg.apply([put(NEW), put(NEW_GW), *(put(d) for d in NEW_DEVICES)])
    added, _, _ = bank.enrol(reg, T0 + 1000)
    assert added == 1 and bank.detectors_of(NEW.resident_id)
    assert bank.bank_of(NEW_GW.gateway_id) is bank.banks[part]


def test_a_record_the_detectors_cannot_take_is_refused_and_the_others_still_watched(
        ) -> None:
    reg = registry.load(registry.SAMPLE)
    bank = DetectorBank(reg, T0)
    bad = msgspec.structs.replace(NEW, night="25:00-06:00")
    reg.apply([put(bad), put(NEW_GW), *(put(d) for d in NEW_DEVICES)])
    assert bank.enrol(reg, T0 + HOUR_MS) == (0, 0, 0)
    assert bank.refused_records == 1 and bank.detectors_of(NEW.resident_id) == []
    assert bank.detectors_of("res-00000")  # the others go on
