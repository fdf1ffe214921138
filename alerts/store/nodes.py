"""Several alert nodes on one store: who is alive (``Nodes``) and who owns which partition
of gateways (``Leases``), both on the store's clock."""

from __future__ import annotations

from alerts.store.table import Table


class Nodes(Table):
    def store_now_ms(self) -> int:
        """The shared store's clock: the one time line every node's leases and
        heartbeats are written on, whatever the nodes' own clocks say."""
        return int(self._run(f"SELECT {self.backend.now_ms_sql}").fetchone()[0])

    def beat(self, node_id: str, now_ms: int, degraded: bool = False) -> None:
        """``node_id`` is alive at ``now_ms`` (and its alert core keeps up, or not)."""
        self._run("INSERT INTO nodes (node_id, seen_ms, degraded) VALUES (?, ?, ?) ON CONFLICT "
                  "(node_id) DO UPDATE SET seen_ms = excluded.seen_ms, "
                  "degraded = excluded.degraded", (node_id, now_ms, int(degraded)))

    def degraded(self, since_ms: int) -> list[str]:
        """Live nodes (seen at or after ``since_ms``) whose alert core said it lags."""
        rows = self._run("SELECT node_id FROM nodes WHERE seen_ms >= ? AND degraded = 1 "
                         "ORDER BY node_id", (since_ms,)).fetchall()
        return [str(row[0]) for row in rows]

    def leave(self, node_id: str) -> None:
        """``node_id`` stops: the others no longer count it."""
        self._run("DELETE FROM nodes WHERE node_id = ?", (node_id,))

    def live(self, since_ms: int) -> list[str]:
        """Nodes seen at or after ``since_ms``, by id."""
        rows = self._run("SELECT node_id FROM nodes WHERE seen_ms >= ? ORDER BY node_id",
                         (since_ms,)).fetchall()
        return [str(row[0]) for row in rows]


class Leases(Table):
    def all(self) -> dict[int, tuple[str, int]]:
        """Every partition lease: partition -> (owner, expires_ms)."""
        rows = self._run("SELECT part, owner, expires_ms FROM partition_leases").fetchall()
        return {int(p): (str(o), int(e)) for p, o, e in rows}

    def take(self, part: int, node_id: str, now_ms: int, until_ms: int) -> bool:
        """Take or renew the lease on ``part`` until ``until_ms``: only if it is free,
        expired by ``now_ms``, or ``node_id``'s already. One statement, so two nodes can
        never both hold it."""
        cursor = self._run(
            "INSERT INTO partition_leases (part, owner, expires_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (part) DO UPDATE SET owner = excluded.owner, "
            "expires_ms = excluded.expires_ms WHERE partition_leases.owner = excluded.owner "
            "OR partition_leases.expires_ms <= ?", (part, node_id, until_ms, now_ms))
        return cursor.rowcount > 0

    def release(self, part: int, node_id: str) -> None:
        """Give ``part`` up at once (to a node that joined, or when stopping)."""
        self._run("DELETE FROM partition_leases WHERE part = ? AND owner = ?",
                  (part, node_id))
