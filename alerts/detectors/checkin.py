"""The daily check-in: a resident who has one (``registry.CheckIn``) shows each day,
between ``since`` and ``by`` on the site's clock, that they are well, by one of the rule's
means. None by ``by`` is ``CHECKIN_MISSED`` on the desk (and, by the policy's own steps,
an SMS to the family when nobody at the desk takes it); the check-in that comes late ends
it.

A day is judged only if this detector watched its whole window (a resident admitted, or a
process started without a snapshot, at 08:00 is not judged for a 05:00-10:00 window that
day): what it did not see it cannot call missed. The days checked in and missed are part
of the snapshot, so a restart neither forgets a miss nor raises it twice.
"""

from __future__ import annotations

import datetime

import msgspec

from alerts.detectors import snapshot
from alerts.detectors.base import Timer
from alerts.model import Condition, Signal
from registry import CheckIn
from registry.time import at_local, local_day, minute_of_day, wall_clock
from telemetry.kinds import Kind
from telemetry.reading import Reading

# what each means counts (a reading's value > 0, except getting out of bed: the mat's 0)
MEANS_KINDS: dict[str, frozenset[Kind]] = {
    "answer": frozenset({Kind.ANSWER}),
    "door": frozenset({Kind.DOOR}),
    "activity": frozenset({Kind.ANSWER, Kind.DOOR, Kind.MOTION, Kind.APPLIANCE,
                           Kind.BED_OCCUPANCY}),
}


class CheckInState(msgspec.Struct, forbid_unknown_fields=True):
    watched_from_ms: int  # every reading since then was seen (a day is judged from it)
    done: str = ""  # the last local day checked in (ISO date)
    missed: str = ""  # the local day of a miss raised and not yet ended by a check-in


class CheckInRule:
    """One resident's daily check-in: checked every slow sweep."""

    timer = Timer.SLOW
    armed = False
    learned_as = "checkin"
    learned_version = 1  # of ``CheckInState``

    def __init__(self, resident_id: str, site_id: str, gateway_id: str, rule: CheckIn, *,
                 timezone: str, start_ms: int, main_door: str = "") -> None:
        self.resident_id = resident_id
        self._where = (site_id, gateway_id)
        self._zone = timezone
        self._since = minute_of_day(rule.since)  # (``ValueError``: the registry refuses it)
        self._by = minute_of_day(rule.by)
        self._rule = rule
        self._main_door = main_door  # "door": the main door's (else any door of theirs)
        self.kinds = frozenset().union(*(MEANS_KINDS[m] for m in rule.means))
        self._state = CheckInState(start_ms)
        self._due: tuple[datetime.date, int, int] | None = None  # today, window (UTC ms)

    def _window(self, at_ms: int) -> tuple[datetime.date, int, int]:
        """The local day at ``at_ms`` and its window's start and end (UTC ms)."""
        day = local_day(self._zone, at_ms)
        due = self._due
        if due is None or due[0] != day:
            due = self._due = (day, at_local(self._zone, day, self._since),
                               at_local(self._zone, day, self._by))
        return due

    def _counts(self, r: Reading) -> bool:
        if r.kind not in self.kinds:
            return False
        if r.kind is Kind.BED_OCCUPANCY:
            return r.value <= 0  # got up
        if r.value <= 0:
            return False
        if r.kind is Kind.DOOR and "activity" not in self._rule.means and self._main_door:
            return r.device_id == self._main_door
        return True

    def observe(self, reading: Reading) -> list[Signal]:
        if not self._counts(reading):
            return []
        t = reading.device_time_ms
        day, start, _ = self._window(t)
        if t < start:
            return []  # before the window: the night's trip to the bathroom is not it
        state = self._state
        state.done = day.isoformat()
        if not state.missed:
            return []
        state.missed = ""
        return [Signal(Condition.CHECKIN_MISSED, self.resident_id, False, t, *self._where,
                       f"checked in at {wall_clock(self._zone, t)} ({reading.kind.value})",
                       reading.device_id)]

    def tick(self, now_ms: int) -> list[Signal]:
        day, start, end = self._window(now_ms)
        state = self._state
        today = day.isoformat()
        if now_ms < end or state.done == today or state.missed == today \
                or start < state.watched_from_ms:
            return []
        state.missed = today
        means = ", ".join(self._rule.means)
        return [Signal(Condition.CHECKIN_MISSED, self.resident_id, True, now_ms, *self._where,
                       f"no check-in between {self._rule.since} and {self._rule.by} "
                       f"({means})")]

    def snapshot(self) -> bytes:
        return snapshot.encode(self._state)

    def restore(self, body: bytes) -> None:
        state = snapshot.decode(body, CheckInState)
        for text in (state.done, state.missed):
            try:
                if text:
                    datetime.date.fromisoformat(text)
            except ValueError as exc:
                raise snapshot.SnapshotError(snapshot.Refused.CORRUPT, str(exc)) from exc
        snapshot.check(state.watched_from_ms >= 0, "a negative time")
        # what the snapshot watched counts as watched: the minutes between it and this
        # restart are the one gap (a crash's; a clean stop leaves none)
        self._state = state
