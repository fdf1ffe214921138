"""Inactivity: "no activity since T", judged against the resident's own routine.

The detector follows where the resident is from the home's sensors (in bed, seated, out
after the main door, or up and about) and learns, from the days it has seen, how long each
of those usually lasts at that hour of day. It alarms when the current silence is longer
than the resident's own usual for that context and hour, with a margin:

* up and about: no activation for longer than the 99th percentile of past silences that
  began within an hour of now, times 1.25, kept between 30 and 120 minutes;
* seated: seated longer than 1.25 times the longest past session, kept between 2 and 8 h;
* in bed: still in bed 45 minutes after the latest morning rise seen so far, or a daytime
  bed session 1.25 times longer than the longest daytime one seen;
* out (the main door, then five minutes of silence): not back after 1.25 times the
  longest absence seen, kept between 3 and 12 h (without a presence sensor, a fall just
  inside the door looks like going out; this bounds how long that can go unnoticed).

Before three days of history it uses defaults (60 min, 6 h, rise by 11:00). The clock
starts at construction: a home that was already silent when the process started counts.
"""

from __future__ import annotations

import bisect
import enum
from typing import NamedTuple

from telemetry.kinds import Kind

MIN_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
AWAY_AFTER_DOOR_MS = 5 * MIN_MS
LEARN_DAYS = 3


class Context(enum.StrEnum):
    ACTIVE = "active"
    SEATED = "seated"
    IN_BED = "in_bed"
    AWAY = "away"


class Event(NamedTuple):
    """One sensor change of the resident's home (from a Reading)."""

    t_ms: int
    device_id: str
    kind: Kind
    value: float


class InactivityAlert(NamedTuple):
    resident_id: str
    context: Context
    silent_since_ms: int
    raised_ms: int
    limit_ms: int


class InactivityDetector:
    def __init__(self, resident_id: str, start_ms: int, *, main_door: str = "maindoor",
                 utc_offset_ms: int = 0) -> None:
        self.resident_id = resident_id
        self.main_door = main_door
        self._offset = utc_offset_ms
        self._start = start_ms
        self._last_activity = start_ms
        self._door_at: int | None = None
        self._bed_since: int | None = None
        self._seat_since: int | None = None
        self._alerted = False
        self._gaps: list[list[float]] = [[] for _ in range(24)]  # sorted, minutes
        self._seat_max_min = 0.0
        self._bed_day_max_min = 0.0
        self._latest_rise_min: float | None = None  # minutes after local midnight
        self._away_max_min = 0.0

    # --- what happened -------------------------------------------------------------------

    def observe(self, event: Event) -> None:
        t = event.t_ms
        on = event.value > 0
        # Where the resident was during the silence this event ends (before it changes it).
        was_active = self.context(t) is Context.ACTIVE and self._door_at is None
        if event.kind is Kind.BED_OCCUPANCY:
            if on and self._bed_since is None:
                self._bed_since = t
            elif not on and self._bed_since is not None:
                self._learn_bed(self._bed_since, t)
                self._bed_since = None
        elif event.kind is Kind.SEAT_OCCUPANCY:
            if on and self._seat_since is None:
                self._seat_since = t
            elif not on and self._seat_since is not None:
                self._learn_seat(self._seat_since, t)
                self._seat_since = None
        elif not on:
            return  # a motion sensor or a door falling back to rest is not an activity
        if was_active:
            self._learn_gap(self._last_activity, t)
        elif self._door_at is not None and self.context(t) is Context.AWAY:
            self._away_max_min = max(self._away_max_min, (t - self._door_at) / MIN_MS)
        self._door_at = t if event.device_id == self.main_door else None
        self._last_activity = t
        self._alerted = False

    def _learn_gap(self, since: int, t: int) -> None:
        if t - self._start < 0:
            return
        bisect.insort(self._gaps[self._hour(since)], (t - since) / MIN_MS)

    def _learn_seat(self, since: int, t: int) -> None:
        self._seat_max_min = max(self._seat_max_min, (t - since) / MIN_MS)

    def _learn_bed(self, since: int, t: int) -> None:
        minutes = (t - since) / MIN_MS
        rise = self._minute_of_day(t)
        if self._minute_of_day(since) >= 20 * 60 or self._hour(since) < 6:  # a night
            if 4 * 60 <= rise <= 14 * 60:
                self._latest_rise_min = max(self._latest_rise_min or 0.0, rise)
        else:
            self._bed_day_max_min = max(self._bed_day_max_min, minutes)

    # --- where the resident is, and how long is too long -------------------------------

    def context(self, now_ms: int) -> Context:
        if self._bed_since is not None:
            return Context.IN_BED
        if self._seat_since is not None:
            return Context.SEATED
        if self._door_at is not None and now_ms - self._door_at >= AWAY_AFTER_DOOR_MS:
            return Context.AWAY
        return Context.ACTIVE

    def _learned(self, now_ms: int) -> bool:
        return now_ms - self._start >= LEARN_DAYS * DAY_MS

    def _active_limit_ms(self, hour: int, now_ms: int) -> int:
        near = [g for h in (hour - 1, hour, hour + 1) for g in self._gaps[h % 24]]
        if not self._learned(now_ms) or len(near) < 10:
            return 60 * MIN_MS
        near.sort()
        p99 = near[min(len(near) - 1, int(0.99 * len(near)))]
        return int(min(120.0, max(30.0, 1.25 * p99)) * MIN_MS)

    def check(self, now_ms: int) -> InactivityAlert | None:
        """An alert if the silence up to ``now_ms`` is too long (once per silence)."""
        if self._alerted:
            return None
        context = self.context(now_ms)
        learned = self._learned(now_ms)
        since = self._last_activity
        if context is Context.AWAY:
            away = self._away_max_min if learned and self._away_max_min else 480.0
            limit = int(min(720.0, max(180.0, 1.25 * away)) * MIN_MS)
        elif context is Context.ACTIVE:
            limit = self._active_limit_ms(self._hour(since), now_ms)
        elif context is Context.SEATED:
            assert self._seat_since is not None
            since = max(since, self._seat_since)
            seat = self._seat_max_min if learned and self._seat_max_min else 360.0
            limit = int(min(480.0, max(120.0, 1.25 * seat)) * MIN_MS)
        else:
            assert self._bed_since is not None
            return self._check_bed(now_ms, learned)
        if now_ms - since > limit:
            self._alerted = True
            return InactivityAlert(self.resident_id, context, since, now_ms, limit)
        return None

    def _check_bed(self, now_ms: int, learned: bool) -> InactivityAlert | None:
        assert self._bed_since is not None
        since = self._bed_since
        started = self._minute_of_day(since)
        night = started >= 20 * 60 or started < 6 * 60
        if night:
            rise = self._latest_rise_min if learned and self._latest_rise_min else 11 * 60.0
            deadline_min = rise + 45
            local_midnight = now_ms + self._offset - (now_ms + self._offset) % DAY_MS
            if self._minute_of_day(since) >= 20 * 60 and self._hour(now_ms) >= 20:
                return None  # the same evening: the morning is still to come
            deadline = local_midnight - self._offset + int(deadline_min * MIN_MS)
            limit = deadline - since
        else:
            nap = self._bed_day_max_min if learned and self._bed_day_max_min else 180.0
            limit = int(1.25 * nap * MIN_MS)
        if now_ms - since > limit:
            self._alerted = True
            return InactivityAlert(self.resident_id, Context.IN_BED, since, now_ms, limit)
        return None

    def _minute_of_day(self, t_ms: int) -> float:
        return ((t_ms + self._offset) % DAY_MS) / MIN_MS

    def _hour(self, t_ms: int) -> int:
        return int(self._minute_of_day(t_ms) // 60)
