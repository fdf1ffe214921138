"""The one home of a site's local time: its UTC offset, its local day and wall-clock
times, from the registry's time zone (``zoneinfo``: a zone with daylight saving time gets
the day's own offset)."""

from __future__ import annotations

import datetime
import functools
import re
import zoneinfo

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@functools.cache
def zone(timezone: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(timezone)


def utc_offset_min(timezone: str, at_ms: int) -> int:
    """The UTC offset of ``timezone`` at ``at_ms``, in minutes (the night rules keep it
    for a process's life; the schedules use ``local_day`` and ``at_local``)."""
    at = datetime.datetime.fromtimestamp(at_ms / 1000, tz=datetime.UTC)
    offset = at.astimezone(zone(timezone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def minute_of_day(text: str) -> int:
    """``"HH:MM"`` (00:00-23:59) as minutes after midnight; ``ValueError`` saying why."""
    found = _HHMM.match(text)
    if found is None:
        raise ValueError(f"{text!r} is not a time of day (HH:MM, 00:00-23:59)")
    return int(found[1]) * 60 + int(found[2])


def local_day(timezone: str, at_ms: int) -> datetime.date:
    """The date on the site's calendar at ``at_ms``."""
    return datetime.datetime.fromtimestamp(at_ms / 1000, tz=zone(timezone)).date()


def at_local(timezone: str, day: datetime.date, minute: int) -> int:
    """The instant (UTC ms) the site's clocks show ``minute`` after midnight on ``day``
    (a wall time skipped by a change to summer time falls after the change)."""
    wall = datetime.datetime.combine(day, datetime.time(minute // 60, minute % 60),
                                     tzinfo=zone(timezone))
    return int(wall.timestamp() * 1000)
