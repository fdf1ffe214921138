"""Life-safety events of one resident: fall, SOS, water leak, tamper, and the night rules.

* A fall report (``FallStatus.FALL``) opens a fall at once. A ``MAYBE_FALL`` (a radar's
  first stage, a wearable's lower tier) is a question: it is confirmed when nothing cancels
  it within ``confirm_s`` (the radar saying ``NONE`` again, the resident getting into bed
  or a chair, or answering the home unit's "are you all right?"), and dropped otherwise.
* An SOS opens at once. The resident's answer within ``sos_cancel_s`` of the press
  cancels it (pressed by mistake): the desk still sees it, resolved as cancelled.
* Night rules (night as the resident's schedule says, local time): leaving the bed and not
  returning within ``bed_return_s``; a door opened by a resident at risk of wandering.
"""

from __future__ import annotations

from typing import NamedTuple

from alerts.detectors.base import Timer
from alerts.model import Condition, Signal
from telemetry.clock import DAY_MS
from telemetry.kinds import FallStatus, Kind
from telemetry.reading import Reading

_SIMPLE = {Kind.SOS: Condition.SOS, Kind.WATER_LEAK: Condition.WATER_LEAK,
           Kind.TAMPER: Condition.TAMPER}
_SETTLED = frozenset({Kind.BED_OCCUPANCY, Kind.SEAT_OCCUPANCY})


class NightSchedule(NamedTuple):
    """Night from ``start_min`` to ``end_min`` after local midnight (may wrap midnight),
    at the site's UTC offset (the registry's: ``registry.time``)."""

    utc_offset_min: int
    start_min: int = 22 * 60
    end_min: int = 6 * 60

    @classmethod
    def parse(cls, text: str, utc_offset_min: int) -> NightSchedule:
        """``"22:00-06:00"``. Raises ValueError."""
        start, end = (part.strip() for part in text.split("-"))

        def minutes(hhmm: str) -> int:
            hours, mins = hhmm.split(":")
            value = int(hours) * 60 + int(mins)
            if not 0 <= value < 24 * 60:
                raise ValueError(f"not a time of day: {hhmm}")
            return value
        return cls(utc_offset_min, minutes(start), minutes(end))

    def is_night(self, t_ms: int) -> bool:
        minute = ((t_ms + self.utc_offset_min * 60_000) % DAY_MS) // 60_000
        if self.start_min <= self.end_min:
            return self.start_min <= minute < self.end_min
        return minute >= self.start_min or minute < self.end_min


EVENT_KINDS = frozenset({Kind.FALL, Kind.SOS, Kind.WATER_LEAK, Kind.TAMPER,
                         Kind.BED_OCCUPANCY, Kind.SEAT_OCCUPANCY, Kind.DOOR, Kind.ANSWER})
CANCELLED = "cancelled by the resident"


class EventRules:
    """The event rules of one resident."""

    kinds = EVENT_KINDS
    timer = Timer.FAST

    def __init__(self, resident_id: str, *, night: NightSchedule, wandering_risk: bool,
                 confirm_s: float = 60.0, bed_return_s: float = 1800.0,
                 sos_cancel_s: float = 30.0) -> None:
        self.resident_id = resident_id
        self.night = night
        self.wandering_risk = wandering_risk
        self.confirm_s = confirm_s
        self.bed_return_s = bed_return_s
        self.sos_cancel_s = sos_cancel_s
        self._sos: Reading | None = None  # the last press, while it may still be cancelled
        self._maybe_fall: dict[str, Reading] = {}  # device -> its unconfirmed report
        self._bed_left: Reading | None = None
        self._bed_alarm = False

    def _signal(self, condition: Condition, r: Reading, detail: str,
                active: bool = True, t_ms: int | None = None) -> Signal:
        return Signal(condition, self.resident_id, active, r.device_time_ms
                      if t_ms is None else t_ms, r.site_id, r.gateway_id, detail, r.device_id)

    def observe(self, reading: Reading) -> list[Signal]:
        kind, on = reading.kind, reading.value > 0
        if kind is Kind.FALL:
            return self._fall(reading)
        if kind is Kind.ANSWER:
            return self._answer(reading) if on else []
        if kind is Kind.SOS and on:
            self._sos = reading
        simple = _SIMPLE.get(kind)
        if simple is not None:
            return [self._signal(simple, reading, kind.value, active=on)] \
                if on or simple is Condition.WATER_LEAK else []
        out: list[Signal] = []
        if kind in _SETTLED and on:
            self._maybe_fall.clear()  # got into bed or a chair: not lying on the floor
        if kind is Kind.BED_OCCUPANCY:
            out += self._bed(reading, on)
        elif kind is Kind.DOOR and on and self.wandering_risk \
                and self.night.is_night(reading.device_time_ms):
            out.append(self._signal(Condition.NIGHT_WANDERING, reading, "door opened at night"))
        return out

    def _fall(self, r: Reading) -> list[Signal]:
        status = int(r.value)
        if status == FallStatus.FALL:
            self._maybe_fall.pop(r.device_id, None)
            return [self._signal(Condition.FALL, r, "fall reported")]
        if status == FallStatus.MAYBE_FALL:
            self._maybe_fall.setdefault(r.device_id, r)
        else:
            self._maybe_fall.pop(r.device_id, None)  # the radar withdrew it
        return []

    def _answer(self, r: Reading) -> list[Signal]:
        """The resident answered the home unit: not lying on the floor (each possible fall
        withdrawn goes on the timeline); a press just made by mistake is cancelled."""
        out: list[Signal] = []
        for maybe in self._maybe_fall.values():
            what = Condition.POSSIBLE_FALL_ANSWERED
            out += [self._signal(what, maybe, "possible fall reported, asked at home"),
                    self._signal(what, r, "the resident answered", active=False)]
        self._maybe_fall.clear()
        pressed, self._sos = self._sos, None
        if pressed is not None and 0 <= r.device_time_ms - pressed.device_time_ms \
                <= self.sos_cancel_s * 1000:
            out.append(Signal(Condition.SOS, self.resident_id, False, r.device_time_ms,
                              pressed.site_id, pressed.gateway_id, CANCELLED,
                              pressed.device_id, cancelled=True))
        return out

    def _bed(self, r: Reading, occupied: bool) -> list[Signal]:
        if occupied:
            self._bed_left = None
            if self._bed_alarm:
                self._bed_alarm = False
                return [self._signal(Condition.BED_EXIT_NIGHT, r, "back in bed", active=False)]
        elif self._bed_left is None and self.night.is_night(r.device_time_ms) \
                and self.night.is_night(r.device_time_ms + int(self.bed_return_s * 1000)):
            self._bed_left = r  # (getting up just before the night ends is a morning)
        return []

    @property
    def armed(self) -> bool:
        """A timer is running (an unconfirmed fall, a night bed exit)."""
        return bool(self._maybe_fall) or (self._bed_left is not None and not self._bed_alarm)

    def tick(self, now_ms: int) -> list[Signal]:
        out: list[Signal] = []
        confirm_ms = self.confirm_s * 1000
        for device, r in list(self._maybe_fall.items()):
            if now_ms - r.device_time_ms >= confirm_ms:
                del self._maybe_fall[device]
                out.append(self._signal(Condition.FALL, r, f"possible fall not withdrawn "
                                        f"within {self.confirm_s:.0f} s", t_ms=now_ms))
        left = self._bed_left
        if left is not None and not self._bed_alarm \
                and now_ms - left.device_time_ms >= self.bed_return_s * 1000:
            self._bed_alarm = True
            out.append(self._signal(Condition.BED_EXIT_NIGHT, left,
                                    f"out of bed for {self.bed_return_s / 60:.0f} min at night",
                                    t_ms=now_ms))
        return out
