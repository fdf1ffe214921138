"""The one home of a site's local time: its UTC offset from the registry's time zone."""

from __future__ import annotations

import datetime
import zoneinfo


def utc_offset_min(timezone: str, at_ms: int) -> int:
    """The UTC offset of ``timezone`` at ``at_ms``, in minutes (fixed for a process's
    life: our sites' zones have no daylight saving time)."""
    zone = zoneinfo.ZoneInfo(timezone)
    at = datetime.datetime.fromtimestamp(at_ms / 1000, tz=datetime.UTC)
    offset = at.astimezone(zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0
