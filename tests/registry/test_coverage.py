"""What a resident's devices can detect: the full kit of the sample, a doors-only home
flagged "reduced coverage" (missing living-room motion), an institution's resident with
the same kit not flagged (staff are there), and a bed sensor or bedroom motion for the
night."""

from __future__ import annotations

import registry
from registry import Device, Resident
from registry.coverage import coverage, per_site
from registry.model import put
from telemetry.kinds import Kind

HOME = Resident("res-00050", "site-001", "flat-5", "Test Resident H")
CARE = Resident("res-00051", "site-000", "room-150", "Test Resident I")


def _with(*devices: Device) -> registry.Registry:
    reg = registry.load(registry.SAMPLE)
    reg.apply([put(HOME), put(CARE), *(put(d) for d in devices)])
    return reg


def test_the_sample_residents_have_the_whole_kit() -> None:
    reg = registry.load(registry.SAMPLE)
    for resident_id in reg.residents:
        c = coverage(reg, resident_id)
        assert c.fall and c.inactivity and c.night and c.sos and not c.reduced
        assert c.vitals == ("heart_rate", "respiration_rate", "spo2", "skin_temperature")


def test_a_doors_only_home_is_reduced_coverage_and_a_care_home_room_is_not() -> None:
    reg = _with(Device("front-door", "gw-00001", HOME.resident_id, "hall", [Kind.DOOR]),
                Device("door-150", "gw-00000", CARE.resident_id, "", [Kind.DOOR]))
    home, care = coverage(reg, HOME.resident_id), coverage(reg, CARE.resident_id)
    assert home.missing == ("living_motion",) and home.reduced and not home.inactivity
    assert care.missing == ("living_motion",) and not care.reduced
    assert not home.fall and not home.night


def test_motion_in_the_living_room_completes_the_kit_and_the_bedroom_covers_the_night(
        ) -> None:
    reg = _with(Device("front-door", "gw-00001", HOME.resident_id, "hall", [Kind.DOOR]),
                Device("pir-1", "gw-00001", HOME.resident_id, "living", [Kind.MOTION]),
                Device("pir-2", "gw-00001", HOME.resident_id, "bedroom", [Kind.MOTION]),
                Device("pendant-5", "gw-00001", HOME.resident_id, "", [Kind.FALL]))
    c = coverage(reg, HOME.resident_id)
    assert c.inactivity and c.night and c.fall and not c.reduced and c.missing == ()


def test_the_per_site_count_agrees_with_each_resident_s_coverage_and_follows_changes() -> None:
    reg = _with(Device("front-door-5", "gw-00001", "res-00050", "hall", [Kind.DOOR]),
                Device("front-door-6", "gw-00000", "res-00051", "hall", [Kind.DOOR]))
    expected: dict[str, tuple[int, int]] = {}
    for r in reg.residents.values():
        n, reduced = expected.get(r.site_id, (0, 0))
        expected[r.site_id] = (n + 1, reduced + coverage(reg, r.resident_id).reduced)
    assert per_site(reg) == expected
    assert expected["site-001"][1] == 1  # the doors-only home
    reg.apply([put(Device("living-pir-5", "gw-00001", "res-00050", "living", [Kind.MOTION]))])
    assert per_site(reg)["site-001"][1] == 0  # a new version: worked out again
