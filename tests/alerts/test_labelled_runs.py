"""Labelled simulator runs through the detector bank: each injected incident raises the
right alert for the right resident, and ordinary days raise (almost) nothing."""

from __future__ import annotations

from evaluation import alert_runs
from firmware_stubs import incidents as inc

HOUR = 3_600_000
MIN = 60_000
DAY0 = alert_runs.START_MS  # the scored day starts at 00:00 UTC (the simulated homes' time)
SEED = 3  # home 2 is the one resident at risk of wandering with this seed


def test_every_injected_incident_raises_its_alert() -> None:
    planned = [
        inc.make(inc.IncidentKind.FALL, 0, DAY0 + 10 * HOUR, 30 * MIN),
        inc.make(inc.IncidentKind.SOS, 1, DAY0 + 15 * HOUR, MIN),
        inc.make(inc.IncidentKind.NIGHT_WANDERING, 2, DAY0 + 2 * HOUR, 30 * MIN),
        inc.make(inc.IncidentKind.INACTIVITY, 3, DAY0 + 10 * HOUR, 240 * MIN),
        inc.make(inc.IncidentKind.BRADYCARDIA, 4, DAY0 + 12 * HOUR, 40 * MIN),
        inc.make(inc.IncidentKind.DESATURATION, 5, DAY0 + 13 * HOUR, 30 * MIN),
        inc.make(inc.IncidentKind.BATTERY_DRAIN, 6, DAY0 + 6 * HOUR, 300 * MIN),
        inc.make(inc.IncidentKind.DROPOUT, 7, DAY0 + 9 * HOUR, 60 * MIN),
        inc.make(inc.IncidentKind.FEVER, 8, DAY0 + 14 * HOUR, 180 * MIN),
        inc.make(inc.IncidentKind.HEATING_FAILURE, 9, DAY0 + 8 * HOUR, 480 * MIN),
    ]
    result = alert_runs.run(10, 1.0, SEED, planned, warmup_days=2.0)
    assert result.missed == []
    assert {kind: n for kind, (n, _) in result.incidents.items()} == \
        {i.incident.value: 1 for i in planned}
    # nothing else raised on this day of ten homes
    assert result.false_alarms == {}


def test_ordinary_days_raise_almost_nothing() -> None:
    result = alert_runs.run(6, 2.0, SEED, [], warmup_days=1.0)
    assert result.readings > 300_000  # about 33k readings per home and day
    assert result.false_alarms_per_resident_day <= 0.1, result.false_alarms
