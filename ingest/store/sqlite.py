"""The embedded default store: SQLite in WAL mode, no server.

Raw points keep (gateway, seq) as their primary key, so a replayed reading is stored once.
Older raw points are rolled up into hourly aggregates (min, sum, max, count), which
``buckets`` reads for any part of the range the raw table no longer covers.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from ingest.store.base import Bucket, Point, StoreError
from telemetry.clock import HOUR_MS
from telemetry.kinds import Kind
from telemetry.reading import Reading

BUSY_TIMEOUT_S = 30.0
# Measured with ``eldercare bench ingest``: at the defaults (a 2 MB page cache, a WAL
# checkpointed every 1,000 pages) the writer spent most of its time re-reading index pages
# and checkpointing; these roughly double its rate. Commits stay as durable as before.
CACHE_KIB = 64 * 1024
CHECKPOINT_PAGES = 20_000  # about 80 MB of WAL between checkpoints

_SCHEMA = """
CREATE TABLE IF NOT EXISTS raw (
    gateway TEXT NOT NULL, seq INTEGER NOT NULL,
    resident TEXT NOT NULL, kind TEXT NOT NULL, device TEXT NOT NULL,
    t INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (gateway, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS raw_series ON raw (resident, kind, t);
CREATE INDEX IF NOT EXISTS raw_time ON raw (t);
CREATE TABLE IF NOT EXISTS hourly (
    resident TEXT NOT NULL, kind TEXT NOT NULL, hour INTEGER NOT NULL,
    minimum REAL NOT NULL, total REAL NOT NULL, maximum REAL NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (resident, kind, hour)
) WITHOUT ROWID;
"""


class SqliteStore:
    def __init__(self, path: Path) -> None:
        try:
            # several ingest processes may share the file: wait for the write lock
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                       timeout=BUSY_TIMEOUT_S)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._db.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        self._lock = threading.Lock()

    def write(self, readings: Sequence[Reading]) -> int:
        rows = [(r.gateway_id, r.seq, r.resident_id or "", r.kind.value, r.device_id,
                 r.device_time_ms, r.value) for r in readings]
        with self._lock:
            try:
                self._db.execute("BEGIN")
                before = self._db.total_changes
                self._db.executemany("INSERT OR IGNORE INTO raw VALUES (?,?,?,?,?,?,?)", rows)
                new = self._db.total_changes - before
                self._db.execute("COMMIT")
            except Exception as exc:  # not only sqlite3.Error: an int past 2**63 raises
                # OverflowError; whatever it was, the transaction must not stay open
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StoreError(f"cannot write {len(rows)} readings: "
                                 f"{type(exc).__name__}: {exc}") from exc
        return new

    def recent_keys(self, since_ms: int, limit: int) -> list[tuple[str, int]]:
        """(gateway, seq) of the newest raw points from ``since_ms`` on, at most ``limit``
        (dedup warm-up: an index range, not a scan of the whole table)."""
        with self._lock:
            newest = self._db.execute("SELECT gateway, seq FROM raw WHERE t >= ? ORDER BY t "
                                      "DESC LIMIT ?", (since_ms, limit)).fetchall()
        return newest[::-1]  # oldest first, as they came: the dedup forgets the oldest

    def count(self) -> int:
        with self._lock:
            n: int = self._db.execute("SELECT COUNT(*) FROM raw").fetchone()[0]
            return n

    def latest(self, resident_id: str, kind: Kind) -> Point | None:
        with self._lock:
            row = self._db.execute(
                "SELECT t, value FROM raw WHERE resident = ? AND kind = ? ORDER BY t DESC "
                "LIMIT 1", (resident_id, kind.value)).fetchone()
        return Point(row[0], row[1]) if row else None

    def buckets(self, resident_id: str, kind: Kind, start_ms: int, end_ms: int,
                bucket_ms: int) -> list[Bucket]:
        if bucket_ms <= 0 or end_ms <= start_ms:
            raise ValueError("need bucket_ms > 0 and end_ms > start_ms")
        key = (resident_id, kind.value)
        with self._lock:
            raw = self._db.execute(
                "SELECT (t - ?) / ? AS b, MIN(value), SUM(value), MAX(value), COUNT(*) "
                "FROM raw WHERE resident = ? AND kind = ? AND t >= ? AND t < ? GROUP BY b",
                (start_ms, bucket_ms, *key, start_ms, end_ms)).fetchall()
            rolled = self._db.execute(
                "SELECT (hour - ?) / ? AS b, MIN(minimum), SUM(total), MAX(maximum), SUM(n) "
                "FROM hourly WHERE resident = ? AND kind = ? AND hour >= ? AND hour < ? "
                "GROUP BY b", (start_ms, bucket_ms, *key, start_ms, end_ms)).fetchall()
        merged: dict[int, list[float]] = {}
        for b, lo, total, hi, n in [*raw, *rolled]:
            if b in merged:
                m = merged[b]
                m[0], m[1], m[2], m[3] = min(m[0], lo), m[1] + total, max(m[2], hi), m[3] + n
            else:
                merged[b] = [lo, total, hi, n]
        return [Bucket(start_ms + b * bucket_ms, lo, total / n, hi, int(n))
                for b, (lo, total, hi, n) in sorted(merged.items())]

    def apply_retention(self, now_ms: int, raw_keep_ms: int,
                        rollup_keep_ms: int | None = None) -> int:
        cutoff = (now_ms - raw_keep_ms) // HOUR_MS * HOUR_MS  # whole hours only
        with self._lock:
            try:
                self._db.execute("BEGIN")
                # By the time index: for the GROUP BY the planner took the series index
                # and scanned every raw row, each round (a soak's days grew slower as its
                # store grew; an hourly round on a large store held the writers back).
                self._db.execute(
                    "INSERT INTO hourly SELECT resident, kind, t / ? * ? AS h, MIN(value), "
                    "SUM(value), MAX(value), COUNT(*) FROM raw INDEXED BY raw_time "
                    "WHERE t < ? GROUP BY resident, kind, h "
                    "ON CONFLICT (resident, kind, hour) DO UPDATE "
                    "SET minimum = MIN(minimum, excluded.minimum), total = total + "
                    "excluded.total, maximum = MAX(maximum, excluded.maximum), "
                    "n = n + excluded.n", (HOUR_MS, HOUR_MS, cutoff))
                removed = self._db.execute("DELETE FROM raw WHERE t < ?", (cutoff,)).rowcount
                if rollup_keep_ms is not None:
                    self._db.execute("DELETE FROM hourly WHERE hour < ?",
                                     (now_ms - rollup_keep_ms,))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StoreError(f"retention failed: {exc}") from exc
        return removed

    def erase_resident(self, resident_id: str) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.execute("DELETE FROM raw WHERE resident = ?", (resident_id,))
                self._db.execute("DELETE FROM hourly WHERE resident = ?", (resident_id,))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StoreError(f"erase failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()
