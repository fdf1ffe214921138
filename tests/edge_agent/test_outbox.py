"""The gateway's disk outbox: numbered, durable, bounded, urgent first and never dropped."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from edge_agent.outbox import EPOCH_SHIFT, Outbox
from telemetry.kinds import SPECS, Kind
from telemetry.reading import Reading
from tests.support.wait import wait_until

T = 1_795_329_000_000


def reading(kind: Kind = Kind.HEART_RATE, value: float = 70.0, t: int = T) -> Reading:
    return Reading("site-000", "gw-00000", "wristband", kind, value, SPECS[kind].unit, t, t, 0,
                   "res-00000")


def _base(box: Outbox) -> int:
    """The number before this outbox's first: its epoch's start."""
    return box.epoch << EPOCH_SHIFT


def test_sequence_numbers_continue_after_a_restart(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    b = _base(box)
    assert [r.seq for r in box.append([reading(), reading()])] == [b + 1, b + 2]
    box.ack([b + 1, b + 2])
    box.close()
    box = Outbox(tmp_path / "o.db", 10_000_000)
    assert [r.seq for r in box.append([reading()])] == [b + 3]
    assert box.depth() == 1


def test_a_wiped_gateway_numbers_apart_from_everything_it_sent_before(
        tmp_path: Path) -> None:
    """An SD card wiped or replaced: the new outbox must not repeat (gateway, seq) pairs the
    centre already holds, or its readings (falls too) would be dropped as duplicates."""
    before = Outbox(tmp_path / "old.db", 10_000_000)
    sent = {r.seq for r in before.append([reading(t=T + i) for i in range(1000)])}
    before.close()
    for i in range(20):
        wiped = Outbox(tmp_path / f"new-{i}.db", 10_000_000)
        assert wiped.epoch > 0
        fresh = {r.seq for r in wiped.append([reading(t=T + k) for k in range(1000)])}
        assert not fresh & sent and all(0 < s < 2**62 for s in fresh)
        sent |= fresh
        wiped.close()


def test_an_outbox_made_before_epochs_carries_on_from_where_it_was(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    box.close()
    with sqlite3.connect(tmp_path / "o.db") as db:  # as the previous version left it
        db.execute("DELETE FROM meta WHERE key = 'epoch'")
        db.execute("UPDATE meta SET value = 42 WHERE key = 'next_seq'")
    box = Outbox(tmp_path / "o.db", 10_000_000)
    assert box.epoch == 0 and [r.seq for r in box.append([reading()])] == [42]


def test_urgent_readings_are_handed_out_first(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    box.append([reading(t=T + i) for i in range(3)])
    box.append([reading(Kind.FALL, 2.0, T + 10)])
    box.append([reading(t=T + 20)])
    b = _base(box)
    assert [r.seq - b for r in box.pending()] == [4, 1, 2, 3, 5]
    assert box.pending()[0].kind is Kind.FALL


def test_only_acknowledged_readings_leave(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    stored = box.append([reading(t=T + i) for i in range(10)])
    box.ack([r.seq for r in stored[:4]])
    box.close()
    box = Outbox(tmp_path / "o.db", 10_000_000)
    assert [r.seq - _base(box) for r in box.pending()] == [5, 6, 7, 8, 9, 10]
    assert box.pending()[0] == stored[4]
    assert box.oldest_received_ms() == T + 4


def test_a_full_outbox_drops_oldest_routine_first_and_keeps_every_urgent(
    tmp_path: Path,
) -> None:
    one = len(__import__("msgspec").msgpack.encode(reading()))
    box = Outbox(tmp_path / "o.db", max_bytes=100 * one)
    urgent_seqs = []
    for i in range(1000):
        if i % 50 == 0:
            urgent_seqs += [r.seq for r in box.append([reading(Kind.SOS, 1.0, T + i)])]
        else:
            box.append([reading(t=T + i)])
    left = box.pending(limit=10_000)
    assert box.stored_bytes <= 100 * one + one
    assert [r.seq for r in left if r.kind is Kind.SOS] == urgent_seqs  # all 20 kept
    routine = [r.seq for r in left if r.kind is Kind.HEART_RATE]
    # the newest routine readings are the ones kept, without a gap
    assert routine == [s for s in range(routine[0], _base(box) + 1001) if s not in urgent_seqs]
    assert len(routine) > 50
    assert box.dropped == 980 - len(routine)
    box.close()
    assert Outbox(tmp_path / "o.db", 100 * one).dropped == 980 - len(routine)


WRITER = """
import sys
from pathlib import Path
from edge_agent.outbox import Outbox
from tests.edge_agent.test_outbox import reading
box = Outbox(Path(sys.argv[1]), 10_000_000)
i = 0
while True:
    stored = box.append([reading(t=1_795_329_000_000 + i + k) for k in range(10)])
    print(stored[-1].seq, flush=True)
    i += 10
"""


def test_kill_9_while_writing_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                             stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    assert child.stdout is not None
    committed = 0

    def enough() -> bool:
        nonlocal committed
        line = child.stdout.readline() if child.stdout else ""
        committed = int(line) if line.strip() else committed
        return committed >= 500

    wait_until(enough, 30, "the writer to commit 500 readings")
    child.kill()
    child.wait()
    child.stdout.close()
    box = Outbox(path, 10_000_000)
    assert box._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    b = _base(box)
    seqs = [r.seq - b for r in box.pending(limit=1_000_000)]
    committed -= b
    assert seqs[:committed] == list(range(1, committed + 1))  # every committed one is there
    assert seqs == list(range(1, len(seqs) + 1))  # and nothing torn in between
    assert [r.seq - b for r in box.append([reading()])] == [len(seqs) + 1]
