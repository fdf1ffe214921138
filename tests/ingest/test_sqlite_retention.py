"""The embedded store's retention round reads only what it rolls up: its cost does not
grow with the raw readings it keeps (it scanned every one of them each round, and a
month's soak slowed day by day as its store grew)."""

from __future__ import annotations

from pathlib import Path

from ingest.store.sqlite import SqliteStore
from telemetry.clock import DAY_MS, HOUR_MS
from telemetry.kinds import Kind
from tests.support.readings import T0, reading


def _steps_of_a_round(store: SqliteStore, now_ms: int) -> int:
    """SQLite's virtual-machine steps (in hundreds) of one retention round."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    store._db.set_progress_handler(count, 100)
    try:
        store.apply_retention(now_ms=now_ms, raw_keep_ms=DAY_MS)
    finally:
        store._db.set_progress_handler(None, 100)
    return steps[0]


def test_a_retention_round_does_not_read_the_raw_readings_it_keeps(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    try:
        now = T0 + 2 * DAY_MS
        old = [reading(Kind.HEART_RATE, 60.0, T0 + k * 60_000) for k in range(200)]
        store.write(old)  # a day and more before now: rolled up by the round
        recent = [reading(Kind.HEART_RATE, 70.0, now - HOUR_MS + k * 10) for k in range(2_000)]
        store.write(recent)
        small = _steps_of_a_round(store, now)
        store.write(old)  # as much to roll up again ...
        store.write([reading(Kind.HEART_RATE, 70.0, now - HOUR_MS + 30_000 + k * 10)
                     for k in range(40_000)])  # ... and twenty times as much kept
        large = _steps_of_a_round(store, now)
        assert large < 2 * small + 20, (small, large)
    finally:
        store.close()
