"""Who is on duty at a care home, and the handover at a shift's end: the outgoing nurse's
notes, who accepted it and when."""

from __future__ import annotations

from typing import NamedTuple

from alerts.store.table import Table


class Handover(NamedTuple):
    handover_id: int
    site_id: str
    shift_start_ms: int
    outgoing: str
    notes: str
    created_ms: int
    accepted_by: str | None
    accepted_ms: int | None


_COLS = ("handover_id, site_id, shift_start_ms, outgoing, notes, created_ms, accepted_by, "
         "accepted_ms")


class Duty(Table):
    def on(self, site_id: str, username: str, now_ms: int) -> None:
        """``username`` on duty at ``site_id`` from now (again: no change)."""
        if username not in self.on_duty(site_id):
            self._run("INSERT INTO care_duty (site_id, username, on_ms) VALUES (?, ?, ?)",
                      (site_id, username, now_ms))

    def off(self, site_id: str, username: str, now_ms: int) -> None:
        self._run("UPDATE care_duty SET off_ms = ? WHERE site_id = ? AND username = ? AND "
                  "off_ms IS NULL", (now_ms, site_id, username))

    def on_duty(self, site_id: str) -> list[str]:
        rows = self._run("SELECT username FROM care_duty WHERE site_id = ? AND off_ms IS NULL "
                         "ORDER BY on_ms", (site_id,)).fetchall()
        return [r[0] for r in rows]

    def staffed(self) -> set[str]:
        """The sites with someone on duty now."""
        return {r[0] for r in self._run("SELECT DISTINCT site_id FROM care_duty "
                                        "WHERE off_ms IS NULL").fetchall()}

    def hand_over(self, site_id: str, shift_start_ms: int, outgoing: str, notes: str,
                  now_ms: int) -> int:
        cursor = self._run(
            "INSERT INTO care_handovers (site_id, shift_start_ms, outgoing, notes, created_ms)"
            " VALUES (?, ?, ?, ?, ?) RETURNING handover_id",
            (site_id, shift_start_ms, outgoing, notes, now_ms))
        return int(cursor.fetchone()[0])

    def handover(self, handover_id: int) -> Handover | None:
        row = self._run(f"SELECT {_COLS} FROM care_handovers WHERE handover_id = ?",
                        (handover_id,)).fetchone()
        return None if row is None else Handover(*row)

    def handovers(self, site_ids: tuple[str, ...], from_ms: int, to_ms: int
                  ) -> list[Handover]:
        """Handovers written in ``[from_ms, to_ms)`` at ``site_ids`` (none: all), newest
        first."""
        where = "created_ms >= ? AND created_ms < ?"
        args: list[object] = [from_ms, to_ms]
        if site_ids:
            where += f" AND site_id IN ({', '.join('?' * len(site_ids))})"
            args += site_ids
        rows = self._run(f"SELECT {_COLS} FROM care_handovers WHERE {where} "
                         "ORDER BY created_ms DESC", tuple(args)).fetchall()
        return [Handover(*row) for row in rows]

    def accept(self, handover_id: int, who: str, now_ms: int) -> bool:
        """Accepted by ``who`` (False: it was accepted already)."""
        return self._run("UPDATE care_handovers SET accepted_by = ?, accepted_ms = ? "
                         "WHERE handover_id = ? AND accepted_by IS NULL",
                         (who, now_ms, handover_id)).rowcount == 1
