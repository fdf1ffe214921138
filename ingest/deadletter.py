"""Dead letters: what ingest refused, with the reason, the topic and the raw bytes (capped)."""

from __future__ import annotations

import collections
import sqlite3
import threading
from pathlib import Path

RAW_CAP_BYTES = 4096


class DeadLetters:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS dead_letters (time_ms INTEGER, topic TEXT, "
            "reason TEXT, detail TEXT, raw BLOB, raw_size INTEGER)")
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()

    def add(self, time_ms: int, topic: str, reason: str, detail: str, raw: bytes) -> None:
        with self._lock:
            self.counts[reason] += 1
            self._db.execute("INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?, ?)",
                             (time_ms, topic[:512], reason, detail[:1000],
                              raw[:RAW_CAP_BYTES], len(raw)))

    def reasons(self) -> collections.Counter[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason").fetchall()
        return collections.Counter({reason: n for reason, n in rows})

    def close(self) -> None:
        with self._lock:
            self._db.close()
