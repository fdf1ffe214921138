"""The visit register (探访): each visit made to a resident living at home (by whom, how,
what was found), and when their visit plan began (the first interval runs from then, so a
register opened on a whole district does not make every resident overdue at once)."""

from __future__ import annotations

import enum
from typing import NamedTuple

from alerts.store.table import Table


class Method(enum.StrEnum):
    HOME = "home"  # at their door
    PHONE = "phone"
    VIDEO = "video"


class Found(enum.StrEnum):
    WELL = "well"  # seen, well
    CONCERNS = "concerns"  # seen, with concerns (the note says which)
    NOT_FOUND = "not_found"  # not found at home: an alarm


VISITED = (Found.WELL.value, Found.CONCERNS.value)  # a visit that saw the resident
SOON_MS = 24 * 3_600_000  # after a major change, a visit within this


class Visit(NamedTuple):
    visit_id: int
    resident_id: str
    site_id: str
    t_ms: int
    visitor: str
    method: str
    found: str
    note: str


_COLS = "visit_id, resident_id, site_id, t_ms, visitor, method, found, note"


class Visits(Table):
    def add(self, resident_id: str, site_id: str, t_ms: int, visitor: str, method: Method,
            found: Found, note: str) -> int:
        cursor = self._run(
            "INSERT INTO care_visits (resident_id, site_id, t_ms, visitor, method, found, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING visit_id",
            (resident_id, site_id, t_ms, visitor, method.value, found.value, note))
        return int(cursor.fetchone()[0])

    def plan_since(self, resident_ids: list[str], now_ms: int) -> dict[str, int]:
        """When each resident's visit plan began (begun ``now_ms`` for one not seen
        before)."""
        out = self.plans(resident_ids)
        for rid in resident_ids:
            if rid not in out:
                self._run("INSERT INTO care_plans (resident_id, since_ms) VALUES (?, ?) "
                          "ON CONFLICT (resident_id) DO NOTHING", (rid, now_ms))
                out[rid] = now_ms
        return out

    def plans(self, resident_ids: list[str]) -> dict[str, int]:
        """When the plans of those of ``resident_ids`` that have one began."""
        out: dict[str, int] = {}
        for lo in range(0, len(resident_ids), 500):
            part = resident_ids[lo:lo + 500]
            marks = ", ".join("?" * len(part))
            for rid, since in self._run(f"SELECT resident_id, since_ms FROM care_plans "
                                        f"WHERE resident_id IN ({marks})",
                                        tuple(part)).fetchall():
                out[rid] = int(since)
        return out

    def plan_from(self, resident_id: str, since_ms: int) -> None:
        """A resident's plan begun at ``since_ms`` (a register carried over from paper)."""
        self._run("INSERT INTO care_plans (resident_id, since_ms) VALUES (?, ?) ON CONFLICT "
                  "(resident_id) DO UPDATE SET since_ms = excluded.since_ms",
                  (resident_id, since_ms))

    def request(self, resident_id: str, now_ms: int, reason: str) -> None:
        """A major change (an injury, a hospital discharge): a visit due within
        ``SOON_MS`` of now, whatever the plan says."""
        self._run("INSERT INTO care_requests (resident_id, due_ms, reason, created_ms) "
                  "VALUES (?, ?, ?, ?)", (resident_id, now_ms + SOON_MS, reason, now_ms))

    def requested(self) -> dict[str, tuple[int, int, str]]:
        """Each resident's latest visit request: (made when, due when, why)."""
        rows = self._run("SELECT resident_id, created_ms, due_ms, reason FROM care_requests "
                         "ORDER BY created_ms").fetchall()
        return {rid: (int(made), int(due), why) for rid, made, due, why in rows}

    def last_seen(self) -> dict[str, int]:
        """Each resident's last visit that saw them (well or with concerns)."""
        rows = self._run("SELECT resident_id, MAX(t_ms) FROM care_visits WHERE found IN "
                         f"('{VISITED[0]}', '{VISITED[1]}') GROUP BY resident_id").fetchall()
        return {rid: int(t) for rid, t in rows}

    def between(self, from_ms: int, to_ms: int, sites: tuple[str, ...] = ()) -> list[Visit]:
        """Visits made in ``[from_ms, to_ms)`` at ``sites`` (none: everywhere), newest
        first."""
        where = "t_ms >= ? AND t_ms < ?"
        args: list[object] = [from_ms, to_ms]
        if sites:
            where += f" AND site_id IN ({', '.join('?' * len(sites))})"
            args += sites
        rows = self._run(f"SELECT {_COLS} FROM care_visits WHERE {where} "
                         "ORDER BY t_ms DESC, visit_id DESC", tuple(args)).fetchall()
        return [Visit(*row) for row in rows]

    def of(self, resident_id: str, limit: int = 20) -> list[Visit]:
        rows = self._run(f"SELECT {_COLS} FROM care_visits WHERE resident_id = ? "
                         "ORDER BY t_ms DESC LIMIT ?", (resident_id, limit)).fetchall()
        return [Visit(*row) for row in rows]
