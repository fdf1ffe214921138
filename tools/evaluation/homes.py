"""Read a smart-home sensor log (the Ordóñez and van Kasteren layout) as sensor intervals
and activity labels.

A home is a pair of files ``<home>_sensor_events.csv`` (``start,end,sensor,sensor_type,
room``) and ``<home>_activities.csv`` (``start,end,activity``) in one folder; any home in
that layout is accepted. The reading kind of a sensor and the home's main door follow one
rule for every home: pressure mats named for a bed are bed occupancy, other mats seats;
the main door is the door contact in the entrance.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import NamedTuple

import numpy as np

from alerts.detectors.inactivity_model import Event
from telemetry.kinds import Kind

SENSORS = "_sensor_events.csv"
ACTIVITIES = "_activities.csv"

# sensor type -> the reading kind the edge would produce for it
KIND_OF: dict[str, Kind] = {
    "PIR": Kind.MOTION,
    "Magnetic": Kind.DOOR,
    "Flush": Kind.APPLIANCE,
    "Electric": Kind.APPLIANCE,
}


class Interval(NamedTuple):
    start_ms: int
    end_ms: int
    sensor: str
    kind: Kind


class Label(NamedTuple):
    start_ms: int
    end_ms: int
    activity: str


class Home(NamedTuple):
    name: str  # e.g. "ordonezA"
    intervals: list[Interval]
    labels: list[Label]
    main_door: str | None  # the sensor id of the entrance door, if the home has one

    def scored(self) -> tuple[int, int]:
        """The span the activity labels cover (within the log): what is scored. A log may
        run on before or after it (house B: days with stuck sensors and nobody labelling);
        the detector still learns from those, as it would from any day it has seen."""
        start = min(i.start_ms for i in self.intervals)
        end = max(i.end_ms for i in self.intervals)
        if not self.labels:
            return start, end
        return (max(start, min(lb.start_ms for lb in self.labels)),
                min(end, max(lb.end_ms for lb in self.labels)))


def find(root: Path) -> list[Path]:
    """The sensor files of every home in ``root`` or its immediate sub-folders."""
    return sorted([*root.glob(f"*{SENSORS}"), *root.glob(f"*/*{SENSORS}")])


def _ms(text: str) -> int:
    # Local wall-clock time, treated as UTC: only time of day and durations matter here.
    stamp = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return int(stamp.timestamp() * 1000)


def _kind(sensor_type: str, name: str) -> Kind:
    if sensor_type == "Pressure":
        return Kind.BED_OCCUPANCY if "bed" in name.lower() else Kind.SEAT_OCCUPANCY
    return KIND_OF[sensor_type]


def load(sensors: Path) -> Home:
    """The home whose sensor file is ``sensors`` (its activities beside it)."""
    name = sensors.name.removesuffix(SENSORS)
    intervals = []
    door: str | None = None
    with sensors.open() as f:
        for row in csv.DictReader(f):
            kind = _kind(row["sensor_type"], row["sensor"])
            sensor = row["sensor"].lower()
            start, end = _ms(row["start"]), _ms(row["end"])
            intervals.append(Interval(start, max(start, end), sensor, kind))
            if kind is Kind.DOOR and row["room"] == "Entrance":
                door = door or sensor
    intervals.sort()
    with sensors.with_name(name + ACTIVITIES).open() as f:
        labels = sorted(Label(_ms(r["start"]), max(_ms(r["start"]), _ms(r["end"])),
                              r["activity"]) for r in csv.DictReader(f))
    return Home(name, intervals, labels, door)


class Arrays(NamedTuple):
    starts: np.ndarray
    ends: np.ndarray
    rows: list[Interval]


def as_arrays(items: list[Interval]) -> Arrays:
    """The intervals with their starts and ends as arrays, for fast selection."""
    return Arrays(np.array([i.start_ms for i in items], dtype=np.int64),
                  np.array([i.end_ms for i in items], dtype=np.int64), items)


def events(items: list[Interval]) -> list[Event]:
    """ON at each start, OFF at each end, in time order (OFF before ON at a tie)."""
    out = [Event(i.start_ms, i.sensor, i.kind, 1.0) for i in items]
    out += [Event(i.end_ms, i.sensor, i.kind, 0.0) for i in items]
    out.sort(key=lambda e: (e.t_ms, e.value))
    return out
