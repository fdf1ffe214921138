"""Labelled simulator runs through the alert core's detector bank.

The fleet simulator plays homes for some days with injected incidents (its labels are the
ground truth); every reading goes through the same ``DetectorBank`` the central process
runs, with its timers ticked every ``step_s`` of simulated time. An incident counts as
detected when a signal of one of its expected conditions, for its resident (or its device,
for device health), starts between the incident's start and ``GRACE_MS`` after its end.
Every other raised condition is a false alarm. No network, no database: the pipeline
downstream (dedup, escalation) is tested on its own.
"""

from __future__ import annotations

import collections
from typing import Any

import msgspec
import numpy as np

from alerts.detectors.bank import DetectorBank
from alerts.model import Condition, Signal
from firmware_stubs import incidents as inc
from firmware_stubs import site_registry
from firmware_stubs.engine import Fleet
from firmware_stubs.gateway_level import GatewayRenderer
from firmware_stubs.routine import Profiles
from telemetry.clock import DAY_MS

GRACE_MS = 15 * 60_000
START_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC

EXPECTED: dict[inc.IncidentKind, frozenset[Condition]] = {
    inc.IncidentKind.FALL: frozenset({Condition.FALL}),
    inc.IncidentKind.SOS: frozenset({Condition.SOS}),
    inc.IncidentKind.NIGHT_WANDERING: frozenset({Condition.NIGHT_WANDERING,
                                                 Condition.BED_EXIT_NIGHT}),
    inc.IncidentKind.INACTIVITY: frozenset({Condition.INACTIVITY,
                                            Condition.INACTIVITY_CHECK}),
    inc.IncidentKind.TACHYCARDIA: frozenset({Condition.HEART_RATE_HIGH,
                                             Condition.HEART_RATE_ABOVE_USUAL}),
    inc.IncidentKind.BRADYCARDIA: frozenset({Condition.HEART_RATE_LOW}),
    inc.IncidentKind.DESATURATION: frozenset({Condition.SPO2_LOW}),
    inc.IncidentKind.FEVER: frozenset({Condition.SKIN_TEMPERATURE_HIGH,
                                       Condition.SKIN_TEMPERATURE_ABOVE_USUAL}),
    inc.IncidentKind.BATTERY_DRAIN: frozenset({Condition.LOW_BATTERY}),
    inc.IncidentKind.DROPOUT: frozenset({Condition.DEVICE_SILENT}),
    inc.IncidentKind.HEATING_FAILURE: frozenset({Condition.ROOM_TEMPERATURE_ANOMALY}),
}
# Data faults the centre cannot tell from a real value: not expected to alert, not counted.
NO_ALERT = frozenset({inc.IncidentKind.STUCK_AT, inc.IncidentKind.NOISE})


class RunResult(msgspec.Struct):
    homes: int
    days: float
    readings: int
    incidents: dict[str, list[int]]  # kind -> [injected, detected]
    false_alarms: dict[str, int]  # condition -> count
    false_alarms_per_resident_day: float
    missed: list[str]


def run(homes: int, days: float, seed: int, incidents: list[inc.Incident],
        step_s: float = 10.0, start_ms: int = START_MS, warmup_days: float = 3.0) -> RunResult:
    """Scored from ``start_ms``; the bank runs ``warmup_days`` before it, as a centre that
    has been running does (it knows who is in bed, and the residents' usual levels), and
    what it raises then is not scored."""
    first_ms = start_ms - int(warmup_days * DAY_MS)
    fleet = Fleet(homes, seed, first_ms, incidents)
    renderer = GatewayRenderer(homes)
    bank = DetectorBank(site_registry.registry(homes, seed), first_ms)
    signals: list[Signal] = []
    readings = 0
    step_ms = int(step_s * 1000)
    end_ms = start_ms + int(days * DAY_MS)
    for t in range(first_ms, end_ms, step_ms):
        batch = renderer.readings(fleet.step(t, t + step_ms))
        out = bank.observe(batch) + bank.tick(t + step_ms)
        if t >= start_ms:
            readings += len(batch)
            signals += out
    return score(homes, days, readings, incidents, signals)


def _subject_of(incident: inc.Incident, condition: Condition) -> str:
    if condition in (Condition.DEVICE_SILENT, Condition.LOW_BATTERY):
        return f"{incident.gateway_id}/{incident.device_id}"
    return incident.resident_id


def score(homes: int, days: float, readings: int, incidents: list[inc.Incident],
          signals: list[Signal]) -> RunResult:
    raised = [s for s in signals if s.active]
    used: set[int] = set()
    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    missed: list[str] = []
    for incident in incidents:
        if incident.incident in NO_ALERT:
            continue
        expected = EXPECTED[incident.incident]
        counts[incident.incident.value][0] += 1
        hits = [i for i, s in enumerate(raised)
                if s.condition in expected and s.subject == _subject_of(incident, s.condition)
                and incident.start_ms <= s.t_ms <= incident.end_ms + GRACE_MS]
        if hits:
            counts[incident.incident.value][1] += 1
        else:
            missed.append(f"{incident.incident.value} {incident.resident_id} "
                          f"at {incident.start_ms}")
        used.update(hits)
    # Alarms during a data fault or after a real incident (e.g. inactivity during a fall)
    # are not counted as false: they are about something that did happen.
    spans = [(i.resident_id, i.start_ms, i.end_ms + GRACE_MS) for i in incidents]
    false: collections.Counter[str] = collections.Counter()
    resident_of_gateway = {x.gateway_id: x.resident_id for x in incidents}
    for i, s in enumerate(raised):
        if i in used:
            continue
        resident = s.subject.split("/")[0]
        resident = resident_of_gateway.get(resident, resident)
        if any(r == resident and lo <= s.t_ms <= hi for r, lo, hi in spans):
            continue
        false[s.condition.value] += 1
    return RunResult(homes, days, readings, dict(counts), dict(false),
                     sum(false.values()) / (homes * days), missed)


def labelled(homes: int, days: float, seed: int, per_home_day: float,
             kinds: tuple[inc.IncidentKind, ...] = inc.ALL_KINDS) -> RunResult:
    risk = Profiles(seed, homes).wandering_risk
    planned = inc.schedule(np.random.default_rng([seed, 5]), homes, START_MS,
                           int(np.ceil(days)), per_home_day, kinds, wandering_risk=risk)
    end = START_MS + int(days * DAY_MS)
    planned = [i for i in planned if i.end_ms + GRACE_MS <= end]
    return run(homes, days, seed, planned)


METHOD = """Labelled simulator runs through the alert core's detector bank (`evaluation/
alert_runs.py`). The fleet simulator plays homes with injected incidents at random
plausible hours (its labels are the ground truth); every reading goes through the same
`DetectorBank` the central process runs, its timers ticked every 10 s of simulated time.
The bank runs three simulated days before the scored period (a centre that has been running
knows who is in bed and each resident's usual levels); nothing raised then is scored. An
incident is detected when one of its expected conditions starts for its resident (its
device, for device health) between the incident's start and 15 min after its end. Every
other condition raised is a false alarm, except during or just after an incident of the
same resident. Stuck-at and noise faults are not expected to alert. The simulator is ours:
these figures say the detectors do what they are built to do on the incidents we model,
not how they fare on real homes (see the other sections for real data)."""


def evaluate(labelled_homes: int = 20, labelled_days: float = 3.0, normal_homes: int = 10,
             normal_days: float = 7.0, seed: int = 2) -> dict[str, Any]:
    hit = labelled(labelled_homes, labelled_days, seed, per_home_day=1.0)
    normal = run(normal_homes, normal_days, seed, [])
    rows = ["| incident | injected | detected |", "|---|---|---|"]
    for kind, (n, found) in sorted(hit.incidents.items()):
        rows.append(f"| {kind} | {n} | {found} |")
    injected = sum(n for n, _ in hit.incidents.values())
    detected = sum(found for _, found in hit.incidents.values())
    rows.append(f"| **all** | {injected} | {detected} |")
    table = "\n".join(rows) + (
        f"\n\nLabelled run: {labelled_homes} homes x {labelled_days:g} days, one incident "
        f"per home and day; other alarms: {hit.false_alarms or 'none'} "
        f"({hit.false_alarms_per_resident_day:.3f} per resident-day)."
        f"\n\nNormal run without incidents: {normal_homes} homes x {normal_days:g} days "
        f"({normal.readings:,} readings): {sum(normal.false_alarms.values())} alarms "
        f"{normal.false_alarms or ''} = {normal.false_alarms_per_resident_day:.3f} per "
        f"resident-day.")
    summary = {"incidents": injected, "detected": detected,
               "detection_rate": round(detected / max(injected, 1), 3),
               "labelled_false_alarms_per_resident_day":
                   round(hit.false_alarms_per_resident_day, 3),
               "normal_false_alarms_per_resident_day":
                   round(normal.false_alarms_per_resident_day, 3),
               "normal_resident_days": normal_homes * normal_days,
               "missed": hit.missed}
    return {"method": METHOD, "table": table, "summary": summary}
