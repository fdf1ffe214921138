"""A local spool in front of a store that can be unreachable (InfluxDB over the network).

``write`` goes to the store; when the store fails, the batch goes to the spool (SQLite,
synchronous commit) instead, so it is durable either way and ingest can acknowledge it.
While anything is spooled, new batches queue behind it (order is kept), and ``replay``
(called by a background thread every ``retry_s``) drains the spool into the store, oldest
first, deleting each batch only after the store took it. Reads go to the store: what is
still spooled is not visible in charts until the store is back.

A batch the store refuses for good (``StoreError.permanent``: a malformed point, a field
type conflict) is never spooled to be refused forever with everything queued behind it:
it is halved until each refused reading stands alone, the rest is written, and the refused
readings go to the ``refused`` table with the store's reason, counted. ``status`` gives the
spool's depth, the age of its oldest batch and what was refused.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import msgspec

from ingest.store.base import Bucket, Point, StoreError
from ingest.store.influx import InfluxStore
from runtime import backoff as retry_policy
from telemetry.clock import Clock, SystemClock
from telemetry.kinds import Kind
from telemetry.reading import Reading

log = logging.getLogger(__name__)
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(list[Reading]).decode


class SpooledStore:
    def __init__(self, store: InfluxStore, path: Path, retry_s: float = 2.0,
                 clock: Clock | None = None) -> None:
        self.store = store
        self.retry_s = retry_s
        self._backoff = retry_policy.spool_replay(retry_s)
        self.clock = clock or SystemClock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS spool (batch_id INTEGER PRIMARY KEY, "
                         "readings INTEGER NOT NULL, body BLOB NOT NULL)")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(spool)")}
        if "spooled_ms" not in columns:  # a spool from before this column
            self._db.execute("ALTER TABLE spool ADD COLUMN spooled_ms INTEGER NOT NULL "
                             "DEFAULT 0")
        self._db.execute("CREATE TABLE IF NOT EXISTS refused (refused_id INTEGER PRIMARY "
                         "KEY, t_ms INTEGER NOT NULL, reason TEXT NOT NULL, "
                         "readings INTEGER NOT NULL, body BLOB NOT NULL)")
        self._lock = threading.Lock()
        self.spooled_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spool-replay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def pending(self) -> int:
        """Readings waiting in the spool."""
        with self._lock:
            n: int = self._db.execute("SELECT COALESCE(SUM(readings), 0) FROM spool"
                                      ).fetchone()[0]
            return n

    def status(self) -> dict[str, float | int | None]:
        """What an operator watches: readings spooled, the oldest batch's age, and the
        readings the store refused for good (kept in the ``refused`` table)."""
        with self._lock:
            depth, oldest = self._db.execute(
                "SELECT COALESCE(SUM(readings), 0), MIN(spooled_ms) FROM spool").fetchone()
            refused = self._db.execute("SELECT COALESCE(SUM(readings), 0) FROM refused"
                                       ).fetchone()[0]
        age = None if oldest is None else (self.clock.now_ms() - oldest) / 1000
        return {"spool_readings": depth, "spool_oldest_age_s": age,
                "store_refused_readings": refused}

    def write(self, readings: Sequence[Reading]) -> int:
        with self._lock:
            if not self._has_spooled():
                try:
                    return self.store.write(readings)
                except StoreError as exc:
                    try:
                        if exc.permanent:
                            return self._isolate(list(readings), exc)
                    except StoreError as again:
                        exc = again  # unreachable while isolating: spool it all
                    log.warning("store unreachable, spooling: %s", exc)
            try:
                self._db.execute("INSERT INTO spool (readings, body, spooled_ms) "
                                 "VALUES (?, ?, ?)", (len(readings), _encode(list(readings)),
                                                      self.clock.now_ms()))
            except sqlite3.Error as exc:  # neither store nor spool: do not acknowledge
                raise StoreError(f"spool write failed: {exc}") from exc
            self.spooled_total += len(readings)
            return len(readings)

    def _isolate(self, readings: list[Reading], exc: StoreError) -> int:
        """The store refused ``readings`` for good: write the halves that it takes and keep
        each reading it refuses alone in ``refused``. Raises a transient StoreError."""
        if len(readings) == 1:
            log.error("the store refused a reading for good; kept in the spool's refused "
                      "table: %s", exc)
            try:
                self._db.execute("INSERT INTO refused (t_ms, reason, readings, body) "
                                 "VALUES (?, ?, 1, ?)",
                                 (self.clock.now_ms(), str(exc)[:300], _encode(readings)))
            except sqlite3.Error as db_exc:
                raise StoreError(f"spool write failed: {db_exc}") from db_exc
            return 0
        written = 0
        middle = len(readings) // 2
        for half in (readings[:middle], readings[middle:]):
            try:
                written += self.store.write(half)
            except StoreError as refused:
                if not refused.permanent:
                    raise
                written += self._isolate(half, refused)
        return written

    def _has_spooled(self) -> bool:
        return self._db.execute("SELECT 1 FROM spool LIMIT 1").fetchone() is not None

    def replay(self, max_batches: int = 50) -> int:
        """Move spooled batches into the store, oldest first. Returns readings moved."""
        moved = 0
        for _ in range(max_batches):
            with self._lock:
                row = self._db.execute("SELECT batch_id, body FROM spool ORDER BY batch_id "
                                       "LIMIT 1").fetchone()
                if row is None:
                    return moved
                readings = _decode(row[1])
                try:
                    try:
                        self.store.write(readings)
                    except StoreError as exc:
                        if not exc.permanent:
                            raise
                        self._isolate(readings, exc)
                except StoreError:
                    return moved  # still down; try again later
                self._db.execute("DELETE FROM spool WHERE batch_id = ?", (row[0],))
                moved += len(readings)
        return moved

    def _run(self) -> None:
        delay = self.retry_s
        while not self._stop.wait(delay):
            try:
                moved = self.replay()
                if moved:
                    log.info("spool replayed into the store")
                with self._lock:  # nothing moved and something left: the store refuses
                    away = not moved and self._has_spooled()
            except Exception:  # keep replaying; the cause is in the log
                log.exception("spool replay failed")
                away = True
            if away:
                delay = self._backoff.next_delay()
            else:
                self._backoff.reset()
                delay = self.retry_s

    # --- reads go to the store ------------------------------------------------------

    def latest(self, resident_id: str, kind: Kind) -> Point | None:
        return self.store.latest(resident_id, kind)

    def buckets(self, resident_id: str, kind: Kind, start_ms: int, end_ms: int,
                bucket_ms: int) -> list[Bucket]:
        return self.store.buckets(resident_id, kind, start_ms, end_ms, bucket_ms)

    def apply_retention(self, now_ms: int, raw_keep_ms: int,
                        rollup_keep_ms: int | None = None) -> int:
        return self.store.apply_retention(now_ms, raw_keep_ms, rollup_keep_ms)

    def recent_keys(self, since_ms: int, limit: int) -> list[tuple[str, int]]:
        return self.store.recent_keys(since_ms, limit)

    def erase_resident(self, resident_id: str) -> None:
        """In the store (what the spool holds is minutes old, never a discharged
        resident's past the retention period)."""
        self.store.erase_resident(resident_id)

    def count(self) -> int:
        return self.store.count()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        with self._lock:
            self._db.close()
        self.store.close()
