"""Commands to gateways (``telemetry.commands``) as the centre keeps them: queued for a
gateway, sent, answered (done or failed, with the gateway's reason), superseded or
expired; in the database the registry lives in (the embedded SQLite file, or the cluster's
PostgreSQL: every node sees every command). ``central.commands.Commander`` sends them and
records the answers."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any, NamedTuple

from runtime.sql import Backend, connect
from telemetry import commands as wire

SCHEMA = """
CREATE TABLE IF NOT EXISTS gateway_commands (
    command_id TEXT PRIMARY KEY,
    gateway_id TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    issued_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    answered_ms INTEGER,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gateway_commands_state ON gateway_commands (state, expires_ms);
CREATE INDEX IF NOT EXISTS gateway_commands_gateway ON gateway_commands (gateway_id, issued_ms);
"""
QUEUED, SENT, DONE, FAILED, EXPIRED, SUPERSEDED = (
    "queued", "sent", "done", "failed", "expired", "superseded")
OPEN = (QUEUED, SENT)
DEFAULT_TTL_MS = 24 * 3600_000  # a gateway offline longer than a day gets a new one
NO_ANSWER = "no answer from the gateway before it expired"


class CommandRow(NamedTuple):
    command_id: str
    gateway_id: str
    name: str
    state: str
    issued_ms: int
    expires_ms: int
    answered_ms: int | None
    reason: str


_COLS = "command_id, gateway_id, name, state, issued_ms, expires_ms, answered_ms, reason"


class CommandStore:
    def __init__(self, location: Path | str) -> None:
        self._backend: Backend = connect(location, SCHEMA, [])
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._backend.close()

    def queue(self, gateway_id: str, name: str, args: dict[str, Any], now_ms: int,
              ttl_ms: int = DEFAULT_TTL_MS, command_id: str | None = None
              ) -> wire.Command | None:
        """A command for ``gateway_id``. A newer ``devices`` command supersedes one not
        yet answered: only the latest list matters. With ``command_id``, once only: None
        if a command of that id was queued before (by this node or another)."""
        command = wire.Command(command_id or f"c-{secrets.token_hex(8)}", name, now_ms,
                               now_ms + ttl_ms, args)
        with self._lock:
            self._backend.begin()
            ok = False
            try:
                if name == wire.DEVICES:
                    self._backend.execute(
                        "UPDATE gateway_commands SET state = ?, reason = ? WHERE "
                        "gateway_id = ? AND name = ? AND state IN (?, ?)",
                        (SUPERSEDED, "a newer list was sent", gateway_id, name, *OPEN))
                added = self._backend.execute(
                    f"INSERT INTO gateway_commands ({_COLS}, body) VALUES "
                    "(?, ?, ?, ?, ?, ?, NULL, '', ?) ON CONFLICT (command_id) DO NOTHING",
                    (command.id, gateway_id, name, QUEUED, now_ms, command.expires_ms,
                     wire.encode(command).decode())).rowcount
                ok = True
            finally:
                self._backend.end(commit=ok)
        return command if added == 1 else None

    def claim_queued(self, limit: int = 200) -> list[tuple[str, wire.Command]]:
        """Queued commands, each now marked sent by this caller (on several nodes, the
        one whose update took it sends it)."""
        with self._lock:
            rows = self._backend.execute(
                "SELECT command_id, gateway_id, body FROM gateway_commands WHERE state = ? "
                "ORDER BY issued_ms LIMIT ?", (QUEUED, limit)).fetchall()
            out = []
            for command_id, gateway_id, body in rows:
                if self._backend.execute(
                        "UPDATE gateway_commands SET state = ? WHERE command_id = ? AND "
                        "state = ?", (SENT, command_id, QUEUED)).rowcount == 1:
                    out.append((gateway_id, wire.decode_command(body.encode())))
        return out

    def unsend(self, command_id: str) -> None:
        """The broker did not take it: queued again, for the next round."""
        with self._lock:
            self._backend.execute("UPDATE gateway_commands SET state = ? WHERE "
                                  "command_id = ? AND state = ?", (QUEUED, command_id, SENT))

    def expire(self, now_ms: int) -> int:
        with self._lock:
            return self._backend.execute(
                "UPDATE gateway_commands SET state = ?, reason = ?, answered_ms = ? WHERE "
                "state IN (?, ?) AND expires_ms <= ?",
                (EXPIRED, NO_ANSWER, now_ms, *OPEN, now_ms)).rowcount

    def answered(self, gateway_id: str, result: wire.Result, now_ms: int) -> bool:
        """A gateway's answer, to a command sent to that gateway and still open; False
        if there is none such (late, repeated, or not its command)."""
        with self._lock:
            return self._backend.execute(
                "UPDATE gateway_commands SET state = ?, reason = ?, answered_ms = ? WHERE "
                "command_id = ? AND gateway_id = ? AND state IN (?, ?)",
                (DONE if result.ok else FAILED, result.reason[:300], now_ms, result.id,
                 gateway_id, *OPEN)).rowcount == 1

    def of(self, gateway_ids: tuple[str, ...] = (), states: tuple[str, ...] = (),
           limit: int = 100) -> list[CommandRow]:
        """The latest commands (of ``gateway_ids``, in ``states``, if given)."""
        where, args = ["1 = 1"], list[object]()
        for column, values in (("gateway_id", gateway_ids), ("state", states)):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                args.extend(values)
        with self._lock:
            rows = self._backend.execute(
                f"SELECT {_COLS} FROM gateway_commands WHERE {' AND '.join(where)} "
                "ORDER BY issued_ms DESC LIMIT ?", (*args, limit)).fetchall()
        return [CommandRow(c, g, n, s, int(i), int(e), None if a is None else int(a), r)
                for c, g, n, s, i, e, a, r in rows]
