"""Rounds (巡视) of a care home as done: each room looked in on, for which round, when and
by whom (tapped on the list or the door's code scanned)."""

from __future__ import annotations

from typing import NamedTuple

from alerts.store.table import Table


class RoundMark(NamedTuple):
    site_id: str
    room: str
    slot_ms: int
    done_ms: int
    nurse: str
    how: str


class Rounds(Table):
    def mark(self, site_id: str, room: str, slot_ms: int, done_ms: int, nurse: str,
             how: str) -> bool:
        """A room looked in on for the round due at ``slot_ms`` (False: marked already)."""
        return self._run("INSERT INTO care_rounds (site_id, room, slot_ms, done_ms, nurse, how)"
                         " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (site_id, room, slot_ms) "
                         "DO NOTHING", (site_id, room, slot_ms, done_ms, nurse, how)
                         ).rowcount == 1

    def of(self, site_id: str, from_ms: int, to_ms: int) -> list[RoundMark]:
        """The marks of rounds due in ``[from_ms, to_ms)`` at a site, in time order."""
        rows = self._run("SELECT site_id, room, slot_ms, done_ms, nurse, how FROM care_rounds "
                         "WHERE site_id = ? AND slot_ms >= ? AND slot_ms < ? "
                         "ORDER BY slot_ms, room", (site_id, from_ms, to_ms)).fetchall()
        return [RoundMark(*row) for row in rows]
