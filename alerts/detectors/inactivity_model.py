"""Inactivity: "no activity since T", judged against the resident's own routine, in two tiers.

The detector follows where the resident is from the home's sensors (in bed, seated, out
after the main door, or up and about) and learns, from the days it has seen, how long each
of those usually lasts at that hour of day. A silence longer than that usual raises, once
per silence and tier:

* a **check** (``Tier.CHECK``, a warning for the desk, which phones or visits): longer than
  the resident's routine makes likely;
* an **alarm** (``Tier.ALARM``, escalates like other alarms): far beyond any silence the
  routine has shown.

Where the resident is, and the limit of each tier (``CHECK`` and ``ALARM`` below):

* up and about: no activation for longer than the past silences that followed the same
  sensor in the same quarter of the day (or, until there are ten of those, that began
  within an hour of now, widened until there are ten) have gone beyond about once in 20
  days for a check, or ever for an alarm, times a margin, kept between a floor and a
  ceiling. A rate, not a share of the silences: a home whose sensors fire often is judged
  like one whose sensors fire seldom. The ceiling holds from 06:00 to 22:00 in a home with
  a bed sensor (at night, or without one, sleep is a silence like any other and only the
  learned length bounds it). At night (22:00 to 06:00) the limit is also at least what the
  silences that began near this hour give, whatever sensor came last: the last sensor
  before sleep varies from night to night. A silence that began at night (20:00 to 06:00)
  ends at the latest a margin after the latest the resident's day has been seen to start
  (their rise from bed, or their first activity after a night), as in bed;
* seated: longer than a margin times the longest past session, kept between bounds;
* in bed: still in bed a while after the latest morning rise seen so far, or a daytime bed
  session a margin longer than the longest daytime one seen;
* out (the main door, then five minutes of silence): not back after a margin times the
  longest absence seen, kept between 3 h and a day for a check, two days for an alarm
  (residents stay away overnight). They are back when the main door opens again (so a
  collapse just inside the door on coming home is judged as up and about, not as going
  out again; the door firing again within five minutes as they shut it, before anything
  else stirs, is the same return) or when two other sensors fire within ten minutes; one
  sensor firing on its own while they are out (a pet, the sun on a PIR) is not them.
  Left: a door opened without going out, then a collapse within five minutes, looks like
  going out; coming in and going straight out again looks like being home.

Several bed mats (or seats) count as one bed (seat): the resident leaves it when the last
is released, or when a door, a cupboard or an appliance is used (a mat that stays pressed
while the resident is elsewhere, stuck or with something left on it, then no longer keeps
them "in bed"). Before three days of history the detector uses defaults (up and about: a
check after 60 min, an alarm after 8 h, both 8 h at night; seated 6 h, rise by 11:00,
out 8 h). The clock starts at construction: a home that was already silent when the
process started counts. The constants are the same for every home.
"""

from __future__ import annotations

import bisect
import enum
import heapq
import itertools
from dataclasses import dataclass
from typing import NamedTuple

import msgspec

from alerts.detectors.snapshot import check, durations
from telemetry.clock import DAY_MS, MIN_MS
from telemetry.kinds import Kind

AWAY_AFTER_DOOR_MS = 5 * MIN_MS
# While out, a motion sensor or a drawer switch firing on its own is not the resident (a pet,
# the sun, a draught: house B's kitchen PIR fired hundreds of times with nobody home). They
# are back through the main door, or when this many other sensors fire within the window.
RETURN_SENSORS = 2
RETURN_WINDOW_MS = 10 * MIN_MS
LEARN_DAYS = 3
MIN_GAPS = 10  # past silences needed to judge an hour of day
KEEP_LONGEST = 64  # silences kept per hour or per sensor and quarter (enough for 3 years)
BAND_HOURS = 6  # silences after one sensor are learned per quarter of the day
DAY_START, DAY_END = 6, 22  # the hours an up-and-about silence has a ceiling
NIGHT_DEFAULT_MIN = 480.0  # before the routine is learned, a night silence may be sleep
# Activations nobody makes from a bed or a chair: the resident is up.
OUT_OF_BED = frozenset({Kind.DOOR, Kind.APPLIANCE})


class Context(enum.StrEnum):
    ACTIVE = "active"
    SEATED = "seated"
    IN_BED = "in_bed"
    AWAY = "away"


class Tier(enum.StrEnum):
    CHECK = "check"  # the desk phones or visits; no family text, no rescue
    ALARM = "alarm"  # escalates like any other alarm


@dataclass(frozen=True)
class Margins:
    """How far past the resident's usual a tier goes (minutes unless named otherwise)."""

    active_default: float  # before the routine is learned
    active_rate: float  # per day: how often past silences near this hour went beyond
    active_scale: float
    active_floor: float
    active_ceiling: float  # only in a home with a bed sensor
    seat_scale: float
    seat_floor: float
    seat_ceiling: float
    rise_after: float  # after the latest morning rise seen
    nap_scale: float
    bed_floor: float  # no bed limit is shorter than this after the bed was taken
    away_scale: float
    away_floor: float = 180.0
    away_ceiling: float = 720.0

    def scaled(self, factor: float) -> Margins:
        """Every limit of this tier ``factor`` times as long (for the operating curve)."""
        return Margins(self.active_default * factor, self.active_rate,
                       self.active_scale * factor,
                       self.active_floor * factor, self.active_ceiling * factor,
                       self.seat_scale * factor, self.seat_floor * factor,
                       self.seat_ceiling * factor, self.rise_after * factor,
                       self.nap_scale * factor, self.bed_floor * factor,
                       self.away_scale * factor,
                       self.away_floor * factor, self.away_ceiling * factor)


CHECK = Margins(active_default=60.0, active_rate=0.05, active_scale=1.9, active_floor=45.0,
                active_ceiling=180.0, seat_scale=1.25, seat_floor=120.0, seat_ceiling=480.0,
                rise_after=45.0, nap_scale=1.25, bed_floor=60.0, away_scale=1.25,
                away_ceiling=1440.0)
ALARM = Margins(active_default=480.0, active_rate=0.0, active_scale=1.5, active_floor=90.0,
                active_ceiling=210.0, seat_scale=1.5, seat_floor=180.0, seat_ceiling=600.0,
                rise_after=120.0, nap_scale=1.5, bed_floor=120.0, away_scale=1.5,
                away_ceiling=2880.0)


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
    tier: Tier = Tier.ALARM


class _Silences:
    """Past silences of one kind: how many, and the ``KEEP_LONGEST`` longest (minutes,
    ascending). The limits need only the few longest (the rate rule looks about one per
    20 days deep), so memory stays bounded over months of a busy home."""

    __slots__ = ("longest", "n")

    def __init__(self) -> None:
        self.n = 0
        self.longest: list[float] = []

    def add(self, minutes: float) -> None:
        self.n += 1
        bisect.insort(self.longest, minutes)
        if len(self.longest) > KEEP_LONGEST:
            del self.longest[0]


class SilencesState(msgspec.Struct, array_like=True):
    n: int
    longest: list[float]


class InactivityState(msgspec.Struct, forbid_unknown_fields=True):
    """Everything an ``InactivityDetector`` knows: the routine it learned and where the
    resident is in the current silence."""

    start_ms: int
    last_activity_ms: int
    door_at_ms: int | None
    while_away: dict[str, int]
    back_at_ms: int | None
    bed_on: list[str]
    seat_on: list[str]
    bed_since_ms: int | None
    seat_since_ms: int | None
    has_bed: bool
    raised: list[Tier]
    gaps: list[SilencesState]  # by the hour of day they began
    gaps_after: list[tuple[str, int, SilencesState]]  # (sensor, part of the day, silences)
    last_device: str | None
    seat_max_min: float
    bed_day_max_min: float
    latest_rise_min: float | None
    away_max_min: float


def _silences(state: SilencesState) -> _Silences:
    check(len(state.longest) <= KEEP_LONGEST and state.n >= len(state.longest)
          and durations(state.longest) and state.longest == sorted(state.longest),
          "past silences out of shape")
    out = _Silences()
    out.n, out.longest = state.n, list(state.longest)
    return out


class InactivityDetector:
    def __init__(self, resident_id: str, start_ms: int, *, main_door: str = "maindoor",
                 utc_offset_ms: int = 0,
                 tiers: tuple[tuple[Tier, Margins], ...] = ((Tier.CHECK, CHECK),
                                                            (Tier.ALARM, ALARM))) -> None:
        self.resident_id = resident_id
        self.main_door = main_door
        self.tiers = tiers
        self._offset = utc_offset_ms
        self._start = start_ms
        self._last_activity = start_ms
        self._door_at: int | None = None
        self._while_away: dict[str, int] = {}  # sensor -> last fired, while out
        self._back_at: int | None = None  # when the resident last came back in
        self._bed_on: set[str] = set()
        self._seat_on: set[str] = set()
        self._bed_since: int | None = None
        self._seat_since: int | None = None
        self._has_bed = False
        self._raised: set[Tier] = set()  # the tiers raised for the current silence
        self._gaps = [_Silences() for _ in range(24)]  # by the hour they began
        # (the sensor that was last active, the part of the day) -> silences
        self._gaps_after: dict[tuple[str, int], _Silences] = {}
        self._last_device: str | None = None
        self._seat_max_min = 0.0
        self._bed_day_max_min = 0.0
        self._latest_rise_min: float | None = None  # minutes after local midnight
        self._away_max_min = 0.0

    # --- kept across restarts ------------------------------------------------------------

    def state(self) -> InactivityState:
        return InactivityState(
            self._start, self._last_activity, self._door_at, dict(self._while_away),
            self._back_at, sorted(self._bed_on), sorted(self._seat_on), self._bed_since,
            self._seat_since, self._has_bed, sorted(self._raised),
            [SilencesState(g.n, list(g.longest)) for g in self._gaps],
            [(device, part, SilencesState(g.n, list(g.longest)))
             for (device, part), g in self._gaps_after.items()],
            self._last_device, self._seat_max_min, self._bed_day_max_min,
            self._latest_rise_min, self._away_max_min)

    def load(self, state: InactivityState) -> None:
        """Take ``state`` (of ``state()``) as this detector's: all of it, or nothing
        (``SnapshotError`` if it holds what no detector could have learned)."""
        check(len(state.gaps) == 24, "not 24 hours of past silences")
        check(all(0 <= part < 24 // BAND_HOURS for _, part, _ in state.gaps_after),
              "part of the day out of range")
        check(durations([state.seat_max_min, state.bed_day_max_min, state.away_max_min,
                         state.latest_rise_min or 0.0]), "a longest session out of range")
        gaps = [_silences(g) for g in state.gaps]
        gaps_after = {(device, part): _silences(g) for device, part, g in state.gaps_after}
        self._start, self._last_activity = state.start_ms, state.last_activity_ms
        self._door_at, self._while_away = state.door_at_ms, dict(state.while_away)
        self._back_at = state.back_at_ms
        self._bed_on, self._seat_on = set(state.bed_on), set(state.seat_on)
        self._bed_since, self._seat_since = state.bed_since_ms, state.seat_since_ms
        self._has_bed, self._raised = state.has_bed, set(state.raised)
        self._gaps, self._gaps_after = gaps, gaps_after
        self._last_device = state.last_device
        self._seat_max_min, self._bed_day_max_min = state.seat_max_min, state.bed_day_max_min
        self._latest_rise_min, self._away_max_min = state.latest_rise_min, state.away_max_min

    # --- what happened -------------------------------------------------------------------

    def observe(self, event: Event) -> bool:
        """Take in one sensor change; ``False`` if it is not taken as the resident (a
        sensor falling back to rest, or one sensor alone while they are out)."""
        t = event.t_ms
        on = event.value > 0
        if self._door_at is not None and self.context(t) is Context.AWAY:
            if not self._returned(event):
                return False
            self._while_away.clear()
        # Where the resident was during the silence this event ends (before it changes it).
        context = self.context(t)
        was_active = context is Context.ACTIVE and self._door_at is None
        # A mat pressed or released while another keeps the bed (seat) occupied is a sign
        # of life but does not start a new silence in bed (seated).
        session = ((self._bed_since, self._seat_since), self._door_at)
        if event.kind is Kind.BED_OCCUPANCY:
            self._has_bed = True
            if on and not self._bed_on:
                self._bed_since = t
            (self._bed_on.add if on else self._bed_on.discard)(event.device_id)
            if not on and not self._bed_on and self._bed_since is not None:
                self._learn_bed(self._bed_since, t)
                self._bed_since = None
        elif event.kind is Kind.SEAT_OCCUPANCY:
            if on and not self._seat_on:
                self._seat_since = t
            (self._seat_on.add if on else self._seat_on.discard)(event.device_id)
            if not on and not self._seat_on and self._seat_since is not None:
                self._learn_seat(self._seat_since, t)
                self._seat_since = None
        elif not on:
            return False  # a motion sensor or a door falling back to rest is not activity
        elif event.kind in OUT_OF_BED:
            self._leave_mats()
        if on and event.kind is Kind.SEAT_OCCUPANCY and self._bed_since is not None:
            self._bed_on.clear()
            self._bed_since = None
        elif on and event.kind is Kind.BED_OCCUPANCY and self._seat_on:
            self._seat_on.clear()
            self._seat_since = None
        if was_active:
            self._learn_gap(self._last_activity, t)
            if self._last_device is not None:
                key = (self._last_device, self._hour(self._last_activity) // BAND_HOURS)
                self._gaps_after.setdefault(key, _Silences()).add(
                    (t - self._last_activity) / MIN_MS)
        elif self._door_at is not None and context is Context.AWAY:
            self._away_max_min = max(self._away_max_min, (t - self._door_at) / MIN_MS)
        # The door a resident has just come in by may fire again as they shut it, before
        # anything else: that is the same return, not going out again (or a collapse in
        # the hall would be taken for an absence).
        if event.device_id != self.main_door:
            self._back_at = None
        elif self._door_at is not None and context is Context.AWAY:
            self._back_at = t
        just_back = self._back_at is not None and t - self._back_at < AWAY_AFTER_DOOR_MS
        self._door_at = t if event.device_id == self.main_door and not just_back else None
        self._last_activity = t
        self._last_device = event.device_id
        if (self.context(t) not in (Context.IN_BED, Context.SEATED)
                or session != ((self._bed_since, self._seat_since), self._door_at)):
            self._raised.clear()
        return True

    def _returned(self, event: Event) -> bool:
        """Whether ``event``, while the resident is out, says they are back: the main door
        (its opening, which is also how they would come in and collapse in the hall), or a
        second sensor firing within ``RETURN_WINDOW_MS`` of another."""
        if event.value <= 0:
            return False
        if event.device_id == self.main_door:
            return True
        t = event.t_ms
        self._while_away[event.device_id] = t
        for device, last in list(self._while_away.items()):
            if t - last > RETURN_WINDOW_MS:
                del self._while_away[device]
        return len(self._while_away) >= RETURN_SENSORS

    def _leave_mats(self) -> None:
        """The resident is up: a mat still pressed (stuck, or something left on it) no
        longer says where they are, until a mat is pressed again. Nothing is learned from
        a session that ends so."""
        self._bed_on.clear()
        self._seat_on.clear()
        self._bed_since = self._seat_since = None

    def _learn_gap(self, since: int, t: int) -> None:
        if t - self._start < 0:
            return
        self._gaps[self._hour(since)].add((t - since) / MIN_MS)
        if self._night(since):  # asleep without a bed sensor, or out of bed at night
            self._learn_rise(t)

    def _learn_rise(self, t: int) -> None:
        """The day started at ``t`` after a night: keep the latest such time seen."""
        rise = self._minute_of_day(t)
        if 4 * 60 <= rise <= 14 * 60:
            self._latest_rise_min = max(self._latest_rise_min or 0.0, rise)

    def _learn_seat(self, since: int, t: int) -> None:
        self._seat_max_min = max(self._seat_max_min, (t - since) / MIN_MS)

    def _learn_bed(self, since: int, t: int) -> None:
        minutes = (t - since) / MIN_MS
        if self._night(since):
            self._learn_rise(t)
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

    def _active_limit_min(self, m: Margins, hour: int, now_ms: int) -> float:
        day = DAY_START <= hour < DAY_END
        if not self._learned(now_ms):
            return m.active_default if day else max(m.active_default, NIGHT_DEFAULT_MIN)
        after = self._gaps_after.get((self._last_device or "", hour // BAND_HOURS))
        keyed = (self._from(m, [after], now_ms, hour)
                 if after is not None and after.n >= MIN_GAPS else None)
        if keyed is not None and day:
            return keyed
        # At night the silence after one sensor says little (the last sensor before sleep
        # varies: the bedroom door one night, the toilet the next); the silences that began
        # near this hour, sleep among them, bound it too.
        for width in range(1, 13):  # the hours around, widened until there are enough
            near = [self._gaps[h] for h in {(hour + d) % 24 for d in range(-width, width + 1)}]
            if sum(s.n for s in near) >= MIN_GAPS:
                hourly = self._from(m, near, now_ms, hour)
                return hourly if keyed is None else max(keyed, hourly)
        return m.active_default if keyed is None else keyed

    def _from(self, m: Margins, near: list[_Silences], now_ms: int, hour: int) -> float:
        """The limit from past silences."""
        # the silence the resident has gone beyond, near this hour, about ``active_rate``
        # times a day: a rate, not a share of the silences, so a home whose sensors fire
        # often (many short silences) is judged like one whose sensors fire seldom
        days = max(1.0, (now_ms - self._start) / DAY_MS)
        depth = int(m.active_rate * days)
        longest = heapq.nlargest(depth + 1, itertools.chain.from_iterable(
            s.longest for s in near))
        usual = longest[-1]
        day = DAY_START <= hour < DAY_END
        ceiling = m.active_ceiling if self._has_bed and day else float("inf")
        return min(ceiling, max(m.active_floor, m.active_scale * usual))

    def _limit_min(self, m: Margins, context: Context, since: int, now_ms: int) -> float:
        learned = self._learned(now_ms)
        if context is Context.AWAY:
            away = self._away_max_min if learned and self._away_max_min else 480.0
            return min(m.away_ceiling, max(m.away_floor, m.away_scale * away))
        if context is Context.SEATED:
            seat = self._seat_max_min if learned and self._seat_max_min else 360.0
            return min(m.seat_ceiling, max(m.seat_floor, m.seat_scale * seat))
        limit = self._active_limit_min(m, self._hour(since), now_ms)
        if learned and self._night(since) and self._latest_rise_min:
            # a silence that began at night ends, at the latest, when the resident's day
            # has always started by (as in bed)
            start = self._minute_of_day(since)
            until = (self._latest_rise_min + m.rise_after - start) % (24 * 60)
            limit = min(limit, max(m.active_floor, until))
        return limit

    def _night(self, t_ms: int) -> bool:
        """Whether a session that began at ``t_ms`` began at night (20:00 to 06:00)."""
        return self._minute_of_day(t_ms) >= 20 * 60 or self._hour(t_ms) < 6

    def check(self, now_ms: int) -> list[InactivityAlert]:
        """The tiers the silence up to ``now_ms`` has newly passed (each once per silence,
        the check before the alarm)."""
        context = self.context(now_ms)
        out: list[InactivityAlert] = []
        before = 0  # a later tier never comes before an earlier one
        for tier, margins in self.tiers:
            if context is Context.IN_BED:
                assert self._bed_since is not None
                since, limit = self._bed_since, self._bed_limit_ms(margins, now_ms)
            else:
                since = self._last_activity
                if context is Context.SEATED:
                    assert self._seat_since is not None
                    since = max(since, self._seat_since)
                limit = int(self._limit_min(margins, context, since, now_ms) * MIN_MS)
            if limit is None:
                continue
            limit = before = max(limit, before)
            if tier not in self._raised and now_ms - since > limit:
                self._raised.add(tier)
                out.append(InactivityAlert(self.resident_id, context, since, now_ms, limit,
                                           tier))
        return out

    def _bed_limit_ms(self, m: Margins, now_ms: int) -> int | None:
        assert self._bed_since is not None
        since = self._bed_since
        learned = self._learned(now_ms)
        if self._night(since):
            if self._hour(since) >= 20 and self._hour(now_ms) >= 20:
                return None  # the same evening: the morning is still to come
            rise = self._latest_rise_min if learned and self._latest_rise_min else 11 * 60.0
            local_midnight = now_ms + self._offset - (now_ms + self._offset) % DAY_MS
            deadline = local_midnight - self._offset + int((rise + m.rise_after) * MIN_MS)
            return max(deadline - since, int(m.bed_floor * MIN_MS))
        nap = self._bed_day_max_min if learned and self._bed_day_max_min else 180.0
        return int(max(m.bed_floor, m.nap_scale * nap) * MIN_MS)

    def _minute_of_day(self, t_ms: int) -> float:
        return ((t_ms + self._offset) % DAY_MS) / MIN_MS

    def _hour(self, t_ms: int) -> int:
        return int(self._minute_of_day(t_ms) // 60)
