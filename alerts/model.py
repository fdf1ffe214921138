"""What the alert core speaks of: conditions, severities, the signal a detector emits,
and the alert, its timeline, its notices and silences as the store keeps them.

One place for each fact about a condition: its severity and whether it may clear by itself
(a heart rate back in range) or needs a person to resolve it (a fall stays open until the
desk has looked, even if the resident got up). The enums' values are the words written in
the store and sent to the desk: never rename, only add.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import NamedTuple

import msgspec


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ALARM = 3
    CRITICAL = 4


class Condition(enum.StrEnum):
    """Wire and database strings: never rename, only add."""

    FALL = "fall"
    SOS = "sos"
    WATER_LEAK = "water_leak"
    TAMPER = "tamper"
    BED_EXIT_NIGHT = "bed_exit_night"
    NIGHT_WANDERING = "night_wandering"
    HEART_RATE_HIGH = "heart_rate_high"
    HEART_RATE_LOW = "heart_rate_low"
    RESPIRATION_HIGH = "respiration_high"
    RESPIRATION_LOW = "respiration_low"
    SPO2_LOW = "spo2_low"
    SKIN_TEMPERATURE_HIGH = "skin_temperature_high"
    HEART_RATE_ABOVE_USUAL = "heart_rate_above_usual"
    SKIN_TEMPERATURE_ABOVE_USUAL = "skin_temperature_above_usual"
    VITALS_ANOMALY = "vitals_anomaly"
    INACTIVITY = "inactivity"  # the alarm tier: far beyond any silence the routine showed
    INACTIVITY_CHECK = "inactivity_check"  # longer than the routine makes likely: desk only
    # the resident was asked at home before a check, and answered (or moved) in time: on
    # the timeline, opened and resolved at once, never on the desk's queue
    INACTIVITY_ANSWERED = "inactivity_answered"
    # a possible fall the resident answered in time ("I am all right"): the same
    POSSIBLE_FALL_ANSWERED = "possible_fall_answered"
    DEVICE_SILENT = "device_silent"
    NO_VITAL_SIGNS = "no_vital_signs"  # in bed, breathing seen, then none: at once
    LOW_BATTERY = "low_battery"
    GATEWAY_OFFLINE = "gateway_offline"
    ROOM_TEMPERATURE_ANOMALY = "room_temperature_anomaly"
    RADIO_OFFLINE = "radio_offline"  # a gateway's radio (its Zigbee coordinator) is down
    LINK_TEST_MISSED = "link_test_missed"  # a gateway's daily test alarm did not arrive
    CHECKIN_MISSED = "checkin_missed"  # a resident's daily check-in did not come in time
    VISIT_DUE = "visit_due"  # a visit fell due and is not made yet: the visitor reminded
    VISIT_OVERDUE = "visit_overdue"  # a resident at home not visited within their interval
    VISIT_NOT_FOUND = "visit_not_found"  # a visitor did not find the resident at home
    ROUND_MISSED = "round_missed"  # a care home's round not done in time (subject: site)
    NOBODY_ON_DUTY = "nobody_on_duty"  # alarms wait at a care home with nobody on duty
    # requests the desk enters for a resident (by phone): never escalated, never paged
    REQUEST_MEAL = "request_meal"
    REQUEST_CLEANING = "request_cleaning"
    REQUEST_HEALTH_VISIT = "request_health_visit"
    REQUEST_ACCOMPANY = "request_accompany"  # to hospital, to an appointment
    REQUEST_REPAIR = "request_repair"
    REQUEST_OTHER = "request_other"


REQUESTS: frozenset[Condition] = frozenset(c for c in Condition
                                           if c.value.startswith("request_"))

# Opened and resolved in one go, for the timeline: the desk is told only of its end (a
# check the resident answered at home never pops up on the queue, even for a moment).
TIMELINE_ONLY: frozenset[Condition] = frozenset({Condition.INACTIVITY_ANSWERED,
                                                Condition.POSSIBLE_FALL_ANSWERED})

# A person's own call for help or fall is never muted by a silence on their whole site or
# gateway (maintenance on a floor, a fire drill): only by one on the resident.
NEVER_SILENCED_WIDE: frozenset[Condition] = frozenset({Condition.FALL, Condition.SOS})


class Profile(NamedTuple):
    severity: Severity
    self_clearing: bool  # resolves when the detector says the condition is over


PROFILES: dict[Condition, Profile] = {
    Condition.FALL: Profile(Severity.CRITICAL, False),
    Condition.SOS: Profile(Severity.CRITICAL, False),
    Condition.WATER_LEAK: Profile(Severity.ALARM, False),
    Condition.TAMPER: Profile(Severity.WARNING, False),
    Condition.BED_EXIT_NIGHT: Profile(Severity.ALARM, True),
    Condition.NIGHT_WANDERING: Profile(Severity.ALARM, False),
    Condition.HEART_RATE_HIGH: Profile(Severity.ALARM, True),
    Condition.HEART_RATE_LOW: Profile(Severity.ALARM, True),
    Condition.RESPIRATION_HIGH: Profile(Severity.ALARM, True),
    Condition.RESPIRATION_LOW: Profile(Severity.CRITICAL, True),
    Condition.SPO2_LOW: Profile(Severity.ALARM, True),
    Condition.SKIN_TEMPERATURE_HIGH: Profile(Severity.WARNING, True),
    Condition.HEART_RATE_ABOVE_USUAL: Profile(Severity.WARNING, True),
    Condition.SKIN_TEMPERATURE_ABOVE_USUAL: Profile(Severity.WARNING, True),
    Condition.VITALS_ANOMALY: Profile(Severity.INFO, True),
    Condition.INACTIVITY: Profile(Severity.ALARM, True),
    # the desk phones or visits; a check never texts the family or calls rescue
    Condition.INACTIVITY_CHECK: Profile(Severity.WARNING, True),
    Condition.INACTIVITY_ANSWERED: Profile(Severity.INFO, True),
    Condition.POSSIBLE_FALL_ANSWERED: Profile(Severity.INFO, True),
    Condition.DEVICE_SILENT: Profile(Severity.WARNING, True),
    Condition.NO_VITAL_SIGNS: Profile(Severity.CRITICAL, False),
    Condition.LOW_BATTERY: Profile(Severity.INFO, True),
    Condition.GATEWAY_OFFLINE: Profile(Severity.WARNING, True),
    Condition.ROOM_TEMPERATURE_ANOMALY: Profile(Severity.WARNING, False),
    # like a gateway offline: the desk acts on it; a technical fault never calls rescue
    Condition.RADIO_OFFLINE: Profile(Severity.WARNING, True),
    # a link fault: the desk phones the home or sends a technician; the next test ends it
    Condition.LINK_TEST_MISSED: Profile(Severity.WARNING, True),
    # the desk phones the resident; the family is texted if nobody at the desk takes it
    # (the policy's own steps); the late check-in ends it
    Condition.CHECKIN_MISSED: Profile(Severity.WARNING, True),
    # its visitor is texted a reminder (the policy's steps); the visit recorded ends it
    Condition.VISIT_DUE: Profile(Severity.INFO, True),
    # the desk sends someone; the visit recorded ends it
    Condition.VISIT_OVERDUE: Profile(Severity.WARNING, True),
    # an alarm: the family texted, then rescue, as the policy's alarm steps say
    Condition.VISIT_NOT_FOUND: Profile(Severity.ALARM, False),
    # the desk (and whoever supervises the site) sees it; the rounds done end it
    Condition.ROUND_MISSED: Profile(Severity.WARNING, True),
    Condition.NOBODY_ON_DUTY: Profile(Severity.WARNING, True),
    **{c: Profile(Severity.INFO, False) for c in REQUESTS},  # a request: closed by a person
}


class Signal(NamedTuple):
    """A detector's verdict: a condition began (``active``) or ended for a subject.

    ``subject`` is a resident id, or for device and gateway health the device's
    ``gateway/device`` or the gateway id; ``site_id`` and ``gateway_id`` say where.
    """

    condition: Condition
    subject: str
    active: bool
    t_ms: int
    site_id: str
    gateway_id: str
    detail: str = ""
    device_id: str = ""
    # ended because the resident cancelled it (an SOS pressed by mistake): resolved as
    # such if nobody at the desk has taken it yet
    cancelled: bool = False


LOCAL_NODE = "local"  # the one node of a single-process deployment


class AlertState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class EscalationState(enum.StrEnum):
    PENDING = "pending"  # a timer: due at ``due_ms``
    DONE = "done"  # taken: its notice is in the outbox
    CANCELLED = "cancelled"  # acknowledged, resolved, or flapping before it was due


class NoticeState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # handed to the provider; if we die here, the outcome is unknown
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TimelineEvent(enum.StrEnum):
    """What a line of an alert's timeline says happened (the desk shows these words)."""

    OPENED = "opened"
    REOPENED = "reopened"
    SILENCED = "silenced"  # a silence matched when it opened: no escalation
    CONDITION_ENDED = "condition_ended"
    NOTICE_QUEUED = "notice_queued"
    DELIVERED = "delivered"
    NOT_DELIVERED = "not_delivered"
    FAMILY_MESSAGE = "family_message"  # an SMS reply that is not a yes
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    TAKEN = "taken"  # a desk user has it: the answer
    REASSIGNED = "reassigned"
    RETURNED = "returned"  # back to the queue (its owner signed out, or gave it back)
    DISPATCHED = "dispatched"  # a responder was sent
    ON_THE_WAY = "on_the_way"
    ARRIVED = "arrived"
    CANNOT_COME = "cannot_come"
    NOT_ARRIVED = "not_arrived"  # not confirmed on site within the plan's time
    ACK_TIMEOUT = "ack_timeout"  # taken or acknowledged, then neither dispatched nor closed
    RESPONDER_MESSAGE = "responder_message"  # a responder's SMS that is not a reply code
    REFUSED = "refused"  # a reply or an action that could not apply, and why
    REQUESTED = "requested"  # a request entered on the desk


class Outcome(enum.StrEnum):
    """How an alarm ended, chosen when it is resolved (the report and the detectors'
    evaluation read it). Never rename, only add."""

    INJURED_HOSPITAL = "injured_hospital"
    INJURED_TREATED = "injured_treated_on_site"
    HELPED_UP = "no_injury_helped_up"
    FALSE_ALARM = "resident_fine_false_alarm"
    DEVICE_FAULT = "device_fault"
    TEST = "test"
    OTHER = "other"  # needs a note
    # how a request ended
    REQUEST_DONE = "request_done"
    REQUEST_PARTLY_DONE = "request_partly_done"
    REQUEST_DECLINED = "request_declined"  # the resident did not want it after all
    REQUEST_CANCELLED = "request_cancelled"
    # set by the system, never chosen on the desk: the resident cancelled an SOS pressed
    # by mistake in time, before anyone at the desk had taken it
    CANCELLED_BY_RESIDENT = "cancelled_by_resident"


REQUEST_OUTCOMES: frozenset[Outcome] = frozenset(o for o in Outcome
                                                 if o.value.startswith("request_"))
# outcomes only the system sets (the desk's list does not offer them, nor may it set them)
SYSTEM_OUTCOMES: frozenset[Outcome] = frozenset({Outcome.CANCELLED_BY_RESIDENT})
# outcomes that say the alarm's event was real (a detector's true positive)
CONFIRMED: frozenset[Outcome] = frozenset({Outcome.INJURED_HOSPITAL, Outcome.INJURED_TREATED,
                                           Outcome.HELPED_UP})


class DispatchState(enum.StrEnum):
    SENT = "sent"  # asked to go (an SMS, or the desk phoned)
    ON_THE_WAY = "on_the_way"
    ARRIVED = "arrived"
    CANNOT_COME = "cannot_come"
    NOT_ARRIVED = "not_arrived"  # the plan's time passed without an arrival
    CANCELLED = "cancelled"  # the alarm was resolved first

    @property
    def going(self) -> bool:
        """Still expected on site."""
        return self in (DispatchState.SENT, DispatchState.ON_THE_WAY)


class Dispatch(msgspec.Struct, frozen=True):
    """A responder sent to an alarm: who, by whom, and each time it moved on."""

    dispatch_id: int
    alert_id: int
    name: str
    role: str
    phone: str
    language: str
    state: DispatchState
    sent_by: str
    sent_ms: int
    due_ms: int  # confirmed arrived by then, or the desk is warned
    on_way_ms: int | None = None
    arrived_ms: int | None = None
    ended_ms: int | None = None  # cannot come, not arrived or cancelled
    notice_id: int | None = None


class Alert(msgspec.Struct, frozen=True):
    alert_id: int
    condition: Condition
    subject: str
    site_id: str
    gateway_id: str
    device_id: str
    severity: Severity
    state: AlertState
    active: bool
    opened_ms: int
    updated_ms: int
    repeats: int
    flaps: int
    silenced: bool
    detail: str
    acked_by: str | None = None
    acked_ms: int | None = None
    resolved_by: str | None = None
    resolved_ms: int | None = None
    note: str | None = None
    answered_by: str | None = None  # who took it first
    answered_ms: int | None = None  # when: the answer time is this minus opened_ms
    owner: str | None = None  # who has it now (None: in the queue)
    outcome: str | None = None  # an ``Outcome`` once resolved
    follow_up_ms: int | None = None  # taken or acknowledged: re-opened by then unless acted on
    wanted_ms: int | None = None  # a request: when the resident wants it done


class Notice(msgspec.Struct, frozen=True):
    notice_id: int
    alert_id: int
    step: int
    contact: int
    channel: str
    recipient: str
    language: str
    subject: str
    body: str
    payload: str
    state: NoticeState
    attempts: int
    created_ms: int
    next_try_ms: int
    sent_ms: int | None = None
    delivered_ms: int | None = None
    provider_ref: str | None = None
    error: str | None = None


class TimelineEntry(msgspec.Struct, frozen=True):
    alert_id: int
    t_ms: int
    what: str
    who: str
    detail: str


class Silence(msgspec.Struct, frozen=True):
    silence_id: int
    subject: str
    condition: str | None
    until_ms: int
    created_by: str
    reason: str


class Snapshot(NamedTuple):
    """What a detector learned of a subject (a resident, or a fleet detector's everybody),
    as stored: see ``alerts.detectors.snapshot``."""

    subject: str
    detector: str
    version: int
    taken_ms: int
    body: bytes


class Change(enum.StrEnum):
    """What happened to an alert, as the desk's live push tells it."""

    OPENED = "opened"
    UPDATED = "updated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    ESCALATED = "escalated"


class AlertChange(NamedTuple):
    change: Change
    alert: Alert
    at_ms: int
    signal_t_ms: int | None = None  # opened or updated: when the detector saw it


Listener = Callable[[AlertChange], None]
