"""The store interface every backend implements (embedded SQLite, InfluxDB)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from ingest.errors import IngestError
from telemetry.kinds import Kind
from telemetry.reading import Reading


class StoreError(IngestError):
    """The store could not do what was asked (unreachable, full, corrupt).

    ``permanent``: the store refused this very data (a malformed point, a field type
    conflict) and will refuse it again however often it is sent; otherwise a retry may pass.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Bucket(NamedTuple):
    """Aggregates of one time bucket of a series, for charts."""

    start_ms: int
    minimum: float
    mean: float
    maximum: float
    samples: int


class Point(NamedTuple):
    time_ms: int
    value: float


class Store(Protocol):
    def write(self, readings: Sequence[Reading]) -> int:
        """Store a batch; returns how many were new ((gateway, seq) seen before are not)."""
        ...

    def latest(self, resident_id: str, kind: Kind) -> Point | None:
        """The newest value of a resident's signal."""
        ...

    def buckets(self, resident_id: str, kind: Kind, start_ms: int, end_ms: int,
                bucket_ms: int) -> list[Bucket]:
        """min / mean / max / count per bucket over [start_ms, end_ms)."""
        ...

    def apply_retention(self, now_ms: int, raw_keep_ms: int,
                        rollup_keep_ms: int | None = None) -> int:
        """Roll raw points older than ``raw_keep_ms`` into hourly aggregates and delete
        them; delete aggregates older than ``rollup_keep_ms`` (None: keep them); returns
        how many raw points were removed."""
        ...

    def erase_resident(self, resident_id: str) -> None:
        """Delete every reading of a resident, raw and rolled up (a data-protection erase
        after their discharge)."""
        ...

    def recent_keys(self, since_ms: int, limit: int) -> list[tuple[str, int]]:
        """(gateway, seq) of at most ``limit`` of the newest points from ``since_ms`` on,
        oldest first, to warm ingest's dedup (may be empty where storage is idempotent by
        itself)."""
        ...

    def close(self) -> None: ...
