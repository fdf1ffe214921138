"""What a detector learned, kept across restarts and takeovers: the one contract and codec.

A detector that learns a resident's routine or usual levels (``Learner``) gives its state
as bytes (``snapshot``) and takes it back (``restore``); a fleet detector does the same per
subject (``FleetLearner``, the subject ``FLEET`` for what it learned of everybody). The
bytes are MessagePack of a ``msgspec.Struct`` (plain numbers, strings and lists, never a
pickled object), stored beside the detector's name and the version of its state
(``learned_as``, ``learned_version``). A snapshot that cannot be taken back is refused with
a reason (``Refused``) and the detector learns afresh: a version this code does not know,
bytes that do not decode or hold impossible values, a resident no longer in the registry.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from typing import Protocol, TypeVar, runtime_checkable

import msgspec

from alerts.errors import AlertsError
from alerts.model import Snapshot as Snapshot  # the stored row

FLEET = ""  # the subject of what a fleet detector learned of everybody

S = TypeVar("S", bound=msgspec.Struct)


class Refused(enum.StrEnum):
    VERSION = "version"  # written by another version of the detector
    CORRUPT = "corrupt"  # does not decode, or holds impossible values
    UNKNOWN = "unknown"  # its resident (or detector) is not watched here any more


class SnapshotError(AlertsError):
    def __init__(self, reason: Refused, detail: str) -> None:
        super().__init__(f"snapshot refused ({reason.value}): {detail}")
        self.reason = reason


@runtime_checkable
class Learner(Protocol):
    """A per-resident detector whose state outlives the process."""

    learned_as: str
    learned_version: int

    def snapshot(self) -> bytes: ...

    def restore(self, body: bytes) -> None:
        """Take the state of ``snapshot`` back; ``SnapshotError`` leaves it unchanged."""
        ...


@runtime_checkable
class FleetLearner(Protocol):
    """A fleet detector whose state outlives the process, per subject."""

    learned_as: str
    learned_version: int

    def learned_subjects(self) -> Iterable[str]: ...

    def snapshot_of(self, subject: str) -> bytes | None: ...

    def restore_of(self, subject: str, body: bytes) -> None:
        """As ``Learner.restore``, for one subject."""
        ...


def encode(state: msgspec.Struct) -> bytes:
    return msgspec.msgpack.encode(state)


def decode(body: bytes, kind: type[S]) -> S:
    """``body`` as a ``kind`` (``SnapshotError``: it is not one)."""
    try:
        return msgspec.msgpack.decode(body, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SnapshotError(Refused.CORRUPT, str(exc)[:200]) from exc


def check(ok: bool, what: str) -> None:
    """Refuse a decoded state whose values could not have been learned."""
    if not ok:
        raise SnapshotError(Refused.CORRUPT, what)


def durations(values: Iterable[float]) -> bool:
    """Whether every value is a finite length of time (not negative)."""
    return all(math.isfinite(v) and v >= 0 for v in values)
