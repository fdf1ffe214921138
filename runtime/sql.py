"""The two databases the central's state runs on, behind one small interface: SQLite in a
file (the embedded default, one process) and PostgreSQL (shared by the alert nodes of a
multi-node deployment). The alert store (``alerts.store``), the registry
(``registry.db``) and the desk's accounts write their SQL once, with ``?`` placeholders,
in the subset both engines speak; a backend runs it and turns the engine's errors into
``StateError``."""

from __future__ import annotations

import logging
import math
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from telemetry.errors import EldercareError

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
log = logging.getLogger(__name__)


class StateError(EldercareError):
    """The database cannot be opened or written."""


class Result(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Backend(Protocol):
    """One connection, used under the store's lock."""

    name: str
    row_order: str  # a column that orders a table's rows as they were inserted
    now_ms_sql: str  # the database's own clock, UTC milliseconds, as an SQL expression

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Result: ...

    def begin(self) -> None: ...

    def end(self, commit: bool) -> None: ...

    def close(self) -> None: ...


def is_postgres(location: Path | str) -> bool:
    return str(location).startswith(POSTGRES_SCHEMES)


def wait_writable(dsn: str, timeout_s: float, stop: threading.Event,
                  every_s: float = 1.0) -> bool:
    """Wait until the PostgreSQL at ``dsn`` takes writes (its primary answers): a node
    started with its store (a site powering up) or during a switch of primaries waits for
    it rather than failing. False if ``stop`` was set first; ``StateError`` after
    ``timeout_s`` without one, with the last reason."""
    import psycopg

    deadline = time.monotonic() + timeout_s
    told = 0.0
    while True:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=2) as conn:
                if conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,):
                    return True
                why = "only a standby answers"
        except psycopg.Error as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        now = time.monotonic()
        if now >= deadline:
            raise StateError(f"the shared state store took no writes for {timeout_s:.0f} s: "
                             f"{why}")
        if now - told >= 10.0:
            told = now
            log.warning("waiting for the shared state store to take writes (%s)", why)
        if stop.wait(every_s):
            return False


# Columns added to a table after it was first shipped: (table, column, SQL type).
AddedColumns = list[tuple[str, str, str]]


def connect(location: Path | str, schema: str, added: AddedColumns,
            ordered: tuple[str, ...] = (), timeout_s: float | None = None) -> Backend:
    """A backend for ``location``: a PostgreSQL DSN, or else an SQLite file. The schema
    (SQLite's dialect) is created if it is missing, and the ``added`` columns if a store
    made by an older release lacks them. The ``ordered`` tables are read in the order
    their rows were inserted (``Backend.row_order``). ``timeout_s`` bounds each statement
    on PostgreSQL (a connection that must answer within it, or fail)."""
    if is_postgres(location):
        return Postgres(str(location), schema, added, ordered, timeout_s)
    return Sqlite(location, schema, added)


class Sqlite:
    name = "sqlite"
    row_order = "rowid"
    now_ms_sql = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

    def __init__(self, path: Path | str, schema: str, added: AddedColumns) -> None:
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(schema)
            # one opener at a time looks and adds (two processes opening the file at once
            # both saw the column missing, and the second ALTER failed)
            self.db.execute("BEGIN IMMEDIATE")
            for table, column, sql_type in added:
                have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the database {path}: {exc}") from exc

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Result:
        try:
            return self.db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StateError(str(exc)) from exc

    def begin(self) -> None:
        self.execute("BEGIN IMMEDIATE")

    def end(self, commit: bool) -> None:
        self.execute("COMMIT" if commit else "ROLLBACK")

    def close(self) -> None:
        self.db.close()


def postgres_schema(sqlite_schema: str, ordered: tuple[str, ...] = ()) -> str:
    """SQLite's schema in PostgreSQL's words: 64-bit integers, identity keys, and a
    ``seq`` column in the ``ordered`` tables, where SQLite orders by ``rowid``."""
    schema = (sqlite_schema.replace("INTEGER PRIMARY KEY",
                                    "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
              .replace("INTEGER", "BIGINT").replace("BLOB", "BYTEA"))
    return schema + "".join(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS seq BIGINT "
                            "GENERATED BY DEFAULT AS IDENTITY;\n" for table in ordered)


_CREATES = re.compile(r"^\s*(?:CREATE (?:UNIQUE )?(?:TABLE|INDEX) IF NOT EXISTS (\w+)|"
                      r"ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS (\w+))", re.IGNORECASE)


def _exists(statement: str, named: set[tuple[str]], columns: set[tuple[str, str]]) -> bool:
    """Whether a schema statement's table, index or column is there already."""
    found = _CREATES.match(statement)
    if found is None:
        return False
    name, table, column = found.groups()
    return (name,) in named if name else (table, column) in columns


# Taken while a node creates the schema, so that two nodes starting together do not race.
_SCHEMA_LOCK_KEY = 0x656C6465


class Postgres:
    name = "postgresql"
    row_order = "seq"
    now_ms_sql = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"

    def __init__(self, dsn: str, schema: str, added: AddedColumns,
                 ordered: tuple[str, ...] = (), timeout_s: float | None = None) -> None:
        import psycopg

        self._psycopg = psycopg
        self.dsn = dsn
        self.timeout_s = timeout_s
        self._sql: dict[str, str] = {}
        self._in_transaction = False
        self.conn = self._connect()
        try:
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
                # Only what is missing. "CREATE INDEX IF NOT EXISTS" takes its table's
                # share lock before it looks, and an ALTER TABLE an exclusive one: run on
                # every open, they deadlocked with the alert nodes' writes as the nodes
                # and their feeds reconnected to a new primary.
                named = set(self.conn.execute(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON "
                    "n.oid = c.relnamespace WHERE n.nspname = current_schema()").fetchall())
                columns = set(self.conn.execute(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema()").fetchall())
                for statement in postgres_schema(schema, ordered).split(";"):
                    if statement.strip() and not _exists(statement, named, columns):
                        self.conn.execute(statement)
                have = set(self.conn.execute(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema()").fetchall())
                for table, column, sql_type in added:
                    if (table, column) not in have:
                        self.conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "
                                          f"{column} {sql_type}")
            self._bound()  # after the schema: nodes starting together may wait for its lock
        except (psycopg.Error, StateError) as exc:
            self.conn.close()
            if isinstance(exc, StateError):
                raise
            raise StateError(f"cannot create the schema: {exc}") from exc

    def _bound(self) -> None:
        """With ``timeout_s``, every statement on the connection ends within it."""
        if self.timeout_s is not None:
            try:
                self.conn.execute(f"SET statement_timeout = {max(1, int(self.timeout_s * 1000))}")
            except self._psycopg.Error as exc:
                raise StateError(str(exc)) from exc

    def _connect(self) -> Any:
        """A connection that notices a dead link (TCP keepalives); with ``timeout_s``, one
        whose connecting, statements and unacknowledged writes are each bounded by it."""
        options: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 5,
                                   "keepalives_interval": 2, "keepalives_count": 3,
                                   "connect_timeout": 5}
        if self.timeout_s is not None:
            options.update(connect_timeout=max(2, math.ceil(self.timeout_s)),
                           tcp_user_timeout=max(1, int(self.timeout_s * 1000)))
        try:
            return self._psycopg.connect(self.dsn, autocommit=True, **options)
        except self._psycopg.Error as exc:
            raise StateError(f"cannot connect to the database: {exc}") from exc

    def _translate(self, sql: str) -> str:
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = sql.replace("?", "%s")
        return text

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Result:
        if self.conn.closed and not self._in_transaction:
            self.conn = self._connect()  # the server restarted or the link broke
            self._bound()
        try:
            cursor: Result = self.conn.execute(self._translate(sql), args)
            return cursor
        except self._psycopg.OperationalError as exc:
            if self._in_transaction or not self.conn.closed \
                    or not sql.lstrip().upper().startswith("SELECT"):
                raise StateError(str(exc)) from exc
            # the connection died under us (the server restarted since our last
            # statement): a read, outside a transaction, goes once more on a new one (a
            # write is left to its caller's retry: it may have been done before the break)
            self.conn = self._connect()
            self._bound()
            try:
                again: Result = self.conn.execute(self._translate(sql), args)
                return again
            except self._psycopg.Error as retry_exc:
                raise StateError(str(retry_exc)) from retry_exc
        except self._psycopg.Error as exc:
            raise StateError(str(exc)) from exc

    def begin(self) -> None:
        self.execute("BEGIN")
        self._in_transaction = True

    def end(self, commit: bool) -> None:
        self._in_transaction = False
        if self.conn.closed:
            raise StateError("the database connection was lost in a transaction")
        self.execute("COMMIT" if commit else "ROLLBACK")

    def close(self) -> None:
        self.conn.close()
