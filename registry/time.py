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


def wall_clock(timezone: str, at_ms: int) -> str:
    """What the site's clocks show at ``at_ms``: "HH:MM"."""
    at = datetime.datetime.fromtimestamp(at_ms / 1000, tz=zone(timezone))
    return f"{at.hour:02d}:{at.minute:02d}"


def at_local(timezone: str, day: datetime.date, minute: int) -> int:
    """The instant (UTC ms) the site's clocks show ``minute`` after midnight on ``day``
    (a wall time skipped by a change to summer time falls after the change)."""
    wall = datetime.datetime.combine(day, datetime.time(minute // 60, minute % 60),
                                     tzinfo=zone(timezone))
    return int(wall.timestamp() * 1000)


def shift_at(timezone: str, starts: list[str], at_ms: int) -> tuple[int, int] | None:
    """The shift running at ``at_ms`` of a site whose shifts begin at ``starts`` (local
    "HH:MM"): (its start, the next one's start), UTC ms; None without shifts."""
    if not starts:
        return None
    day = local_day(timezone, at_ms)
    minutes = [minute_of_day(s) for s in starts]
    instants = sorted(at_local(timezone, day + datetime.timedelta(days=d), m)
                      for d in (-1, 0, 1) for m in minutes)
    begun = [t for t in instants if t <= at_ms]
    return begun[-1], next(t for t in instants if t > at_ms)


def round_slots(timezone: str, start: str, end: str, every_min: int, from_ms: int,
                to_ms: int) -> list[int]:
    """When rounds from ``start`` to ``end`` (local; past midnight if ``end`` is earlier)
    every ``every_min`` are due, in ``[from_ms, to_ms)``, UTC ms."""
    first, last = minute_of_day(start), minute_of_day(end)
    span = (last - first) % (24 * 60)
    out: list[int] = []
    day = local_day(timezone, from_ms) - datetime.timedelta(days=1)
    while at_local(timezone, day, first) < to_ms:
        for m in range(first, first + span, every_min):
            t = at_local(timezone, day + datetime.timedelta(days=m // (24 * 60)),
                         m % (24 * 60))
            if from_ms <= t < to_ms:
                out.append(t)
        day += datetime.timedelta(days=1)
    return out
