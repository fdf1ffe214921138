"""Read the Ordóñez ADL log (user A) as a stream of sensor changes and activity labels."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import NamedTuple

from alerts.inactivity import Event
from telemetry.kinds import Kind

# sensor type (and name) -> the reading kind the edge would produce for it
KIND_OF: dict[tuple[str, str], Kind] = {
    ("Pressure", "Bed"): Kind.BED_OCCUPANCY,
    ("Pressure", "Seat"): Kind.SEAT_OCCUPANCY,
    ("PIR", ""): Kind.MOTION,
    ("Magnetic", ""): Kind.DOOR,
    ("Flush", ""): Kind.APPLIANCE,
    ("Electric", ""): Kind.APPLIANCE,
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


def _ms(text: str) -> int:
    # Local wall-clock time, treated as UTC: only time of day and durations matter here.
    stamp = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return int(stamp.timestamp() * 1000)


def intervals(folder: Path) -> list[Interval]:
    out = []
    with (folder / "ordonezA_sensor_events.csv").open() as f:
        for row in csv.DictReader(f):
            kind = KIND_OF.get((row["sensor_type"], row["sensor"])) or KIND_OF[
                (row["sensor_type"], "")]
            start, end = _ms(row["start"]), _ms(row["end"])
            out.append(Interval(start, max(start, end), row["sensor"].lower(), kind))
    out.sort()
    return out


def labels(folder: Path) -> list[Label]:
    with (folder / "ordonezA_activities.csv").open() as f:
        return sorted(Label(_ms(r["start"]), max(_ms(r["start"]), _ms(r["end"])), r["activity"])
                      for r in csv.DictReader(f))


def events(items: list[Interval]) -> list[Event]:
    """ON at each start, OFF at each end, in time order (OFF before ON at a tie)."""
    out = [Event(i.start_ms, i.sensor, i.kind, 1.0) for i in items]
    out += [Event(i.end_ms, i.sensor, i.kind, 0.0) for i in items]
    out.sort(key=lambda e: (e.t_ms, e.value))
    return out
