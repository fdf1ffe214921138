"""The gateway's bounded on-disk outbox (SQLite WAL) and its sequence counter.

Every reading is written here, with its per-gateway sequence number, before it is sent, and
deleted only after the central broker's PUBACK.

The centre keeps (gateway, seq) unique forever, so a gateway whose SD card was wiped or
replaced must not count from 1 again (its falls would be dropped as duplicates). A new
outbox therefore draws a random boot epoch and numbers from ``epoch << EPOCH_SHIFT``: each
epoch has 2**31 numbers (68 years at one reading a second), the wire format is unchanged,
and an outbox made before epochs (epoch 0, numbering from 1) carries on as it was.

Two lanes: urgent readings (fall, SOS, leak, tamper) are handed out first and never
dropped; when the stored payload bytes pass the budget, the oldest routine readings are
dropped first and counted.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
from pathlib import Path

import msgspec

from edge_agent.errors import EdgeError
from telemetry.kinds import is_urgent
from telemetry.reading import Reading

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    urgent INTEGER NOT NULL,
    received_time_ms INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_lane ON outbox (urgent, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('dropped', 0);
"""
EPOCH_SHIFT = 31
MAX_EPOCH = 2**31 - 1  # (epoch << 31) + counter stays below 2**62: inside the codec's bound


def new_epoch() -> int:
    """A random boot epoch for a new outbox (1 .. MAX_EPOCH)."""
    return 1 + secrets.randbelow(MAX_EPOCH)

log = logging.getLogger(__name__)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Reading)


class OutboxError(EdgeError):
    """The outbox database cannot be opened or written."""


class Outbox:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        # The local subscriber writes and the uplink reads: one connection, one lock.
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            if self._db.execute("SELECT 1 FROM meta WHERE key = 'next_seq'").fetchone() is None:
                epoch = new_epoch()  # a new (or wiped) outbox: a numbering of its own
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.executemany("INSERT INTO meta VALUES (?, ?)", [
                        ("epoch", epoch), ("next_seq", (epoch << EPOCH_SHIFT) + 1)])
            row = self._db.execute("SELECT COALESCE(SUM(LENGTH(body)), 0) FROM outbox")
            self._bytes: int = row.fetchone()[0]
            self.last_seq: int = self._meta("next_seq") - 1
            row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox WHERE urgent = 1")
            self.last_urgent_seq: int = row.fetchone()[0]
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {path}: {exc}") from exc

    def _meta(self, key: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            value: int = row[0]
            return value

    @property
    def epoch(self) -> int:
        """This outbox's boot epoch (0: made before epochs); sequence numbers start at
        ``(epoch << EPOCH_SHIFT) + 1``."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        return int(row[0]) if row else 0

    @property
    def dropped(self) -> int:
        """Routine readings dropped for want of space, ever."""
        return self._meta("dropped")

    def append(self, readings: list[Reading]) -> list[Reading]:
        """Number ``readings`` (their ``seq`` is replaced) and store them in one transaction.

        Returns the stored readings, with their sequence numbers.
        """
        if not readings:
            return []
        with self._lock:
            return self._append(readings)

    def _append(self, readings: list[Reading]) -> list[Reading]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            first = self.last_seq + 1  # this process is the only writer
            stored = [msgspec.structs.replace(r, seq=first + i) for i, r in enumerate(readings)]
            rows = [(r.seq, int(is_urgent(r.kind, r.value)), r.received_time_ms, _encoder.encode(r))
                    for r in stored]
            self._db.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?)", rows)
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'",
                             (first + len(stored),))
            self._bytes += sum(len(row[3]) for row in rows)
            if self._bytes > self.max_bytes:
                self._shed()
            self._db.execute("COMMIT")
            self.last_seq = stored[-1].seq
            urgent = [row[0] for row in rows if row[1]]
            if urgent:
                self.last_urgent_seq = urgent[-1]
        except sqlite3.Error as exc:
            self._rollback()
            raise OutboxError(f"cannot store readings: {exc}") from exc
        return stored

    def _shed(self) -> None:
        """Drop the oldest routine readings until the payload bytes fit the budget."""
        excess = self._bytes - self.max_bytes
        victims = []
        freed = 0
        for seq, size in self._db.execute(
                "SELECT seq, LENGTH(body) FROM outbox WHERE urgent = 0 ORDER BY seq"):
            if freed >= excess:
                break
            victims.append((seq,))
            freed += size
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", victims)
        self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'",
                         (len(victims),))
        self._bytes -= freed

    def pending(self, limit: int = 500) -> list[Reading]:
        """The next readings to send: urgent ones first, then routine, each oldest first."""
        urgent = self.next_in_lane(urgent=True, after_seq=0, limit=limit)
        return urgent + self.next_in_lane(urgent=False, after_seq=0, limit=limit - len(urgent))

    def next_in_lane(self, *, urgent: bool, after_seq: int, limit: int) -> list[Reading]:
        """Up to ``limit`` stored readings of one lane with ``seq > after_seq``, oldest first."""
        if limit <= 0:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM outbox WHERE urgent = ? AND seq > ? ORDER BY seq LIMIT ?",
                (int(urgent), after_seq, limit)).fetchall()
        return [_decoder.decode(body) for (body,) in rows]

    def ack(self, seqs: list[int]) -> None:
        """The central broker has these: forget them."""
        if not seqs:
            return
        with self._lock:
            self._ack(seqs)

    def _ack(self, seqs: list[int]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            marks = ",".join("?" * len(seqs))
            freed = self._db.execute(
                f"SELECT COALESCE(SUM(LENGTH(body)), 0) FROM outbox WHERE seq IN ({marks})",
                seqs).fetchone()[0]
            self._db.execute(f"DELETE FROM outbox WHERE seq IN ({marks})", seqs)
            self._db.execute("COMMIT")
            self._bytes -= freed
        except sqlite3.Error as exc:
            self._rollback()
            raise OutboxError(f"cannot acknowledge readings: {exc}") from exc

    def depth(self) -> int:
        with self._lock:
            count: int = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            return count

    def unsent_urgent(self, received_before_ms: int, limit: int = 50) -> list[Reading]:
        """Urgent readings received before then and not yet taken by the centre's broker."""
        try:
            with self._lock:
                rows = self._db.execute(
                    "SELECT body FROM outbox WHERE urgent = 1 AND received_time_ms < ? "
                    "ORDER BY seq LIMIT ?", (received_before_ms, limit)).fetchall()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot read the urgent lane: {exc}") from exc
        return [_decoder.decode(body) for (body,) in rows]

    def oldest_received_ms(self) -> int | None:
        with self._lock:
            value: int | None = self._db.execute(
                "SELECT MIN(received_time_ms) FROM outbox").fetchone()[0]
            return value

    @property
    def stored_bytes(self) -> int:
        return self._bytes

    def _rollback(self) -> None:
        """Undo a failed transaction, if the database still answers at all."""
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            row = self._db.execute("SELECT COALESCE(SUM(LENGTH(body)), 0) FROM outbox")
            self._bytes = row.fetchone()[0]
        except sqlite3.Error as exc:
            log.error("outbox rollback failed: %s", exc)

    def close(self) -> None:
        with self._lock:
            self._db.close()
