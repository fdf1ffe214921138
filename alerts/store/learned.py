"""What the detectors learned (routines, usual levels), per subject and detector: the
latest snapshot of each, written in chunks and read back at start or takeover."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from alerts.model import Snapshot
from alerts.store.table import Table

PAGE = 400  # rows per query


class Learned(Table):
    def put(self, rows: Iterable[Snapshot]) -> int:
        """Keep each row, unless a newer snapshot of its subject and detector is stored
        (a node that let the partition go wrote its last one after this was taken).
        Call inside a transaction to write them in one commit. How many were kept."""
        kept = 0
        for r in rows:
            kept += self._run(
                "INSERT INTO learned (subject, detector, version, taken_ms, body) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (subject, detector) DO UPDATE SET "
                "version = excluded.version, taken_ms = excluded.taken_ms, "
                "body = excluded.body WHERE learned.taken_ms <= excluded.taken_ms",
                (r.subject, r.detector, r.version, r.taken_ms, r.body)).rowcount
        return kept

    def of(self, subjects: Iterable[str] | None = None) -> list[Snapshot]:
        """The snapshots of ``subjects`` (None: all of them), in one list."""
        return [r for page in self.pages(subjects) for r in page]

    def pages(self, subjects: Iterable[str] | None = None,
              page: int = PAGE) -> Iterator[list[Snapshot]]:
        """The snapshots of ``subjects`` (None: all of them), a page at a time (a
        routine is tens of kilobytes: a fleet's would not fit in memory at once)."""
        cols = "SELECT subject, detector, version, taken_ms, body FROM learned"
        if subjects is None:
            rows = self._run(f"{cols} ORDER BY subject, detector LIMIT ?", (page,)).fetchall()
            while rows:
                yield [_row(r) for r in rows]
                last, detector = str(rows[-1][0]), str(rows[-1][1])
                rows = self._run(f"{cols} WHERE subject > ? OR (subject = ? AND detector > ?) "
                                 "ORDER BY subject, detector LIMIT ?",
                                 (last, last, detector, page)).fetchall()
            return
        wanted = list(subjects)
        each = max(1, page // 8)  # subjects per query: a few detectors' rows each
        for lo in range(0, len(wanted), each):
            part = wanted[lo:lo + each]
            marks = ", ".join("?" * len(part))
            yield [_row(r) for r in self._run(f"{cols} WHERE subject IN ({marks})",
                                              tuple(part)).fetchall()]


def _row(r: tuple[str, str, int, int, bytes]) -> Snapshot:
    return Snapshot(str(r[0]), str(r[1]), int(r[2]), int(r[3]), bytes(r[4]))
