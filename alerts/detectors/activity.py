"""Inactivity through the detector interface (the learned routine lives in
``alerts.detectors.inactivity_model``), in two tiers: a check for the desk when the silence
outlasts the resident's usual, an alarm when it goes far beyond any silence seen; both
cleared by the next sign of life.

Where the home unit can ask (``prompt_s`` > 0), a check is held back from the desk while
the resident is asked (``asking``: the centre's command path plays the question): their
answer, or any sign of life, within ``prompt_s`` closes it on the timeline as
``INACTIVITY_ANSWERED`` (opened and resolved at once, never on the desk's queue); no answer
sends the check to the desk at once. An alarm is never held. What is being asked is part of
the snapshot: a restart in the middle still sends the unanswered check on."""

from __future__ import annotations

import msgspec

from alerts.detectors import snapshot
from alerts.detectors.base import Timer
from alerts.detectors.inactivity_model import Event, InactivityDetector, InactivityState, Tier
from alerts.model import Condition, Signal
from telemetry.kinds import Kind
from telemetry.reading import Reading

ACTIVITY_KINDS = frozenset({Kind.MOTION, Kind.DOOR, Kind.BED_OCCUPANCY, Kind.SEAT_OCCUPANCY,
                            Kind.PRESENCE, Kind.APPLIANCE})
ASKED_KINDS = ACTIVITY_KINDS | {Kind.ANSWER}  # the answer to the home unit's question too
CONDITION_OF = {Tier.CHECK: Condition.INACTIVITY_CHECK, Tier.ALARM: Condition.INACTIVITY}


class InactivityRuleState(msgspec.Struct, forbid_unknown_fields=True):
    routine: InactivityState
    open: list[Condition]  # raised and not yet ended by a sign of life
    asking_ms: int | None = None  # a check held back while the resident is asked, since
    asked: str = ""  # the held check's detail


class InactivityRule:
    """Inactivity of one resident: checked every slow sweep."""

    timer = Timer.SLOW
    armed = False
    learned_as = "inactivity"
    learned_version = 1  # of ``InactivityRuleState``

    def __init__(self, resident_id: str, site_id: str, gateway_id: str, start_ms: int, *,
                 main_door: str, utc_offset_ms: int, prompt_s: float = 0.0) -> None:
        self.resident_id = resident_id
        self._where = (site_id, gateway_id)
        self._detector = InactivityDetector(resident_id, start_ms, main_door=main_door,
                                            utc_offset_ms=utc_offset_ms)
        self._open: list[Condition] = []
        self.prompt_s = prompt_s
        self.asking_ms: int | None = None  # a check held back while the resident is asked
        self._asked = ""

    @property
    def kinds(self) -> frozenset[Kind]:
        return ASKED_KINDS if self.prompt_s > 0 else ACTIVITY_KINDS

    def observe(self, reading: Reading) -> list[Signal]:
        if reading.kind is Kind.ANSWER:
            return self._answered(reading, "the resident answered") \
                if self.asking_ms is not None and reading.value > 0 else []
        if reading.kind not in ACTIVITY_KINDS:
            return []
        taken = self._detector.observe(Event(reading.device_time_ms, reading.device_id,
                                             reading.kind, reading.value))
        if not taken:
            return []
        out = [] if self.asking_ms is None else \
            self._answered(reading, f"activity again ({reading.kind.value})")
        if not self._open:
            return out
        ended, self._open = self._open, []
        return out + [Signal(condition, self.resident_id, False, reading.device_time_ms,
                             *self._where, f"activity again ({reading.kind.value})",
                             reading.device_id) for condition in ended]

    def _answered(self, r: Reading, why: str) -> list[Signal]:
        """The held check closes: opened and resolved at once, for the timeline."""
        asked_ms, self.asking_ms = self.asking_ms, None
        assert asked_ms is not None
        what = Condition.INACTIVITY_ANSWERED
        return [Signal(what, self.resident_id, True, asked_ms, *self._where, self._asked),
                Signal(what, self.resident_id, False, r.device_time_ms, *self._where, why,
                       r.device_id)]

    def tick(self, now_ms: int) -> list[Signal]:
        out = []
        if self.asking_ms is not None and now_ms - self.asking_ms >= self.prompt_s * 1000:
            self.asking_ms = None  # nobody answered: the check goes to the desk now
            self._open.append(Condition.INACTIVITY_CHECK)
            out.append(Signal(Condition.INACTIVITY_CHECK, self.resident_id, True, now_ms,
                              *self._where, f"{self._asked}; no answer at home within "
                              f"{self.prompt_s:.0f} s"))
        for alert in self._detector.check(now_ms):
            condition = CONDITION_OF[alert.tier]
            minutes = (now_ms - alert.silent_since_ms) / 60_000
            detail = f"no activity for {minutes:.0f} min ({alert.context.value})"
            if condition is Condition.INACTIVITY_CHECK and self.prompt_s > 0:
                self.asking_ms = now_ms  # asked first; the desk only if unanswered
                self._asked = detail
                continue
            self._open.append(condition)
            out.append(Signal(condition, self.resident_id, True, now_ms, *self._where, detail))
        return out

    def snapshot(self) -> bytes:
        return snapshot.encode(InactivityRuleState(self._detector.state(), list(self._open),
                                                   self.asking_ms, self._asked))

    def restore(self, body: bytes) -> None:
        state = snapshot.decode(body, InactivityRuleState)
        snapshot.check(set(state.open) <= set(CONDITION_OF.values()), "not an inactivity")
        self._detector.load(state.routine)
        self._open = list(state.open)
        # a check held while asking: the question is on the command path already (and
        # without a prompt device now, it goes to the desk at the next sweep)
        self.asking_ms = state.asking_ms
        self._asked = state.asked
