"""A local spool in front of a store that can be unreachable (InfluxDB over the network).

``write`` goes to the store; when the store fails, the batch goes to the spool (SQLite,
synchronous commit) instead, so it is durable either way and ingest can acknowledge it.
While anything is spooled, new batches queue behind it (order is kept), and ``replay``
(called by a background thread every ``retry_s``) drains the spool into the store, oldest
first, deleting each batch only after the store took it. Reads go to the store: what is
still spooled is not visible in charts until the store is back.
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
from telemetry.kinds import Kind
from telemetry.reading import Reading

log = logging.getLogger(__name__)
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(list[Reading]).decode


class SpooledStore:
    def __init__(self, store: InfluxStore, path: Path, retry_s: float = 2.0) -> None:
        self.store = store
        self.retry_s = retry_s
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS spool (batch_id INTEGER PRIMARY KEY, "
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

    def write(self, readings: Sequence[Reading]) -> int:
        with self._lock:
            if not self._has_spooled():
                try:
                    return self.store.write(readings)
                except StoreError as exc:
                    log.warning("store unreachable, spooling: %s", exc)
            try:
                self._db.execute("INSERT INTO spool (readings, body) VALUES (?, ?)",
                                 (len(readings), _encode(list(readings))))
            except sqlite3.Error as exc:  # neither store nor spool: do not acknowledge
                raise StoreError(f"spool write failed: {exc}") from exc
            self.spooled_total += len(readings)
            return len(readings)

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
                    self.store.write(readings)
                except StoreError:
                    return moved  # still down; try again later
                self._db.execute("DELETE FROM spool WHERE batch_id = ?", (row[0],))
                moved += len(readings)
        return moved

    def _run(self) -> None:
        while not self._stop.wait(self.retry_s):
            try:
                if self.replay():
                    log.info("spool replayed into the store")
            except Exception:  # keep replaying; the cause is in the log
                log.exception("spool replay failed")

    # --- reads go to the store ------------------------------------------------------

    def latest(self, resident_id: str, kind: Kind) -> Point | None:
        return self.store.latest(resident_id, kind)

    def buckets(self, resident_id: str, kind: Kind, start_ms: int, end_ms: int,
                bucket_ms: int) -> list[Bucket]:
        return self.store.buckets(resident_id, kind, start_ms, end_ms, bucket_ms)

    def apply_retention(self, now_ms: int, raw_keep_ms: int,
                        rollup_keep_ms: int | None = None) -> int:
        return self.store.apply_retention(now_ms, raw_keep_ms, rollup_keep_ms)

    def recent_keys(self, since_ms: int) -> list[tuple[str, int]]:
        return self.store.recent_keys(since_ms)

    def count(self) -> int:
        return self.store.count()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        with self._lock:
            self._db.close()
        self.store.close()
