"""Accounts, sessions, login throttling and the audit log: in the embedded database (an
SQLite file), or on an alert node of several in the shared PostgreSQL store, so that a
desk user and their session work on every node and the audit log is one.

Passwords are hashed with argon2 (``argon2-cffi``, the reference implementation's
binding). A session is a random token in an HttpOnly, SameSite=Strict cookie; only its
SHA-256 is stored. Every state-changing request also carries the session's CSRF token in a
header. The first admin is created by a CLI command; there is no default password.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from alerts.store.backends import AddedColumns, connect
from dashboard.errors import DeskError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    throttle_key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    t_ms INTEGER NOT NULL, username TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, detail TEXT NOT NULL
);
"""
# the sites a user may see, comma-separated (NULL or empty: every site)
_ADDED_COLUMNS: AddedColumns = [("users", "sites", "TEXT")]
SESSION_MS = 12 * 3_600_000
MIN_PASSWORD = 10


class Role(enum.StrEnum):
    ADMIN = "admin"
    NURSE = "nurse"  # acknowledges, resolves, silences
    VIEWER = "viewer"  # reads only


class AccountError(DeskError):
    """A bad username, password or role."""


class Session(msgspec.Struct, frozen=True):
    username: str
    role: Role
    csrf: str
    sites: frozenset[str] = frozenset()  # the sites this user may see; empty: every site

    def sees(self, site_id: str) -> bool:
        return not self.sites or site_id in self.sites

    def site_scope(self) -> tuple[str, ...]:
        """The sites a query must keep to (empty: no restriction)."""
        return tuple(sorted(self.sites))


class AuditEntry(msgspec.Struct, frozen=True):
    t_ms: int
    username: str
    action: str
    target: str
    detail: str


class Failures(Protocol):
    """Where the throttle keeps its counts: in memory, or in the accounts' store, shared by
    every node (three nodes must not give a guesser three times the tries)."""

    def failures(self, keys: list[str]) -> dict[str, tuple[int, int]]:
        """(count, last failure ms) of each of ``keys`` that has any."""

    def record_failure(self, key: str, count: int, now_ms: int, *, max_keys: int) -> None:
        """Set ``key``'s count; keep at most ``max_keys`` keys (the oldest go first)."""

    def forget_failures(self, keys: list[str]) -> None: ...


class MemoryFailures:
    def __init__(self) -> None:
        self._failures: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def failures(self, keys: list[str]) -> dict[str, tuple[int, int]]:
        with self._lock:
            return {k: self._failures[k] for k in keys if k in self._failures}

    def record_failure(self, key: str, count: int, now_ms: int, *, max_keys: int) -> None:
        with self._lock:
            self._failures.pop(key, None)
            self._failures[key] = (count, now_ms)
            while len(self._failures) > max_keys:
                self._failures.popitem(last=False)

    def forget_failures(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._failures)


class LoginThrottle:
    """Slows a guessing client down without locking the duty desk out.

    Failures are counted per client address and per (user name, address). Past ``free``
    failures within ``window_s``, that key must wait before its next try: 1 s, then 2, 4, …
    up to ``max_delay_s``. A user name alone never blocks, so a guesser elsewhere cannot lock
    a named nurse out of the desk PC. At most ``max_keys`` keys are remembered (the oldest
    go first), so a flood of made-up names cannot grow the store. The counts are kept in
    ``store``: in memory by default; the desk keeps them in the accounts' store, one count
    for every node.
    """

    def __init__(self, free: int = 5, window_s: float = 900.0, max_delay_s: float = 300.0,
                 max_keys: int = 10_000, store: Failures | None = None) -> None:
        self.free = free
        self.window_ms = int(window_s * 1000)
        self.max_delay_ms = int(max_delay_s * 1000)
        self.max_keys = max_keys
        self.store: Failures = store if store is not None else MemoryFailures()

    def _current(self, keys: list[str], now_ms: int) -> dict[str, tuple[int, int]]:
        return {k: v for k, v in self.store.failures(keys).items()
                if now_ms - v[1] <= self.window_ms}

    def retry_after_s(self, keys: list[str], now_ms: int) -> float:
        """0 when a sign-in may be tried now; otherwise the seconds to wait."""
        wait_ms = 0
        for count, last_ms in self._current(keys, now_ms).values():
            if count >= self.free:
                delay = min(self.max_delay_ms, 1000 * 2 ** min(count - self.free, 30))
                wait_ms = max(wait_ms, last_ms + delay - now_ms)
        return max(0, wait_ms) / 1000

    def failed(self, keys: list[str], now_ms: int) -> None:
        current = self._current(keys, now_ms)
        for key in keys:
            self.store.record_failure(key, current.get(key, (0, 0))[0] + 1, now_ms,
                                      max_keys=self.max_keys)

    def succeeded(self, keys: list[str]) -> None:
        self.store.forget_failures(keys)


class Accounts:
    def __init__(self, location: Path | str) -> None:
        """``location``: an SQLite file or a PostgreSQL DSN (``StateError`` if it cannot
        be opened)."""
        self._db = connect(location, _SCHEMA, _ADDED_COLUMNS, ordered=("audit",))
        self._lock = threading.Lock()
        self._hasher = PasswordHasher()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create_user(self, username: str, password: str, role: Role, now_ms: int,
                    sites: tuple[str, ...] = ()) -> None:
        """A user of the desk; ``sites``: the only sites they see (none named: every
        site, as for the operator's own staff)."""
        if not username.isidentifier() and not username.replace("-", "_").isidentifier():
            raise AccountError("a username is letters, digits, - and _")
        if any(not site or "," in site for site in sites):
            raise AccountError("a site id is not empty and has no comma")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
        digest = self._hasher.hash(password)
        with self._lock:
            added = self._db.execute(
                "INSERT INTO users (username, password_hash, role, created_ms, sites) VALUES "
                "(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING username",
                (username, digest, role.value, now_ms, ",".join(sites))).fetchone()
        if added is None:
            raise AccountError(f"user {username} exists")

    def users(self) -> list[tuple[str, Role]]:
        with self._lock:
            rows = self._db.execute("SELECT username, role FROM users ORDER BY username")
            return [(u, Role(r)) for u, r in rows.fetchall()]

    def login(self, username: str, password: str, now_ms: int) -> tuple[str, Session] | None:
        """A new session token and the session, or None for a wrong name or password."""
        with self._lock:
            row = self._db.execute("SELECT password_hash, role, sites FROM users WHERE "
                                   "username = ?", (username,)).fetchone()
        if row is None:
            self._hasher.hash(password)  # the same work either way: no user enumeration
            return None
        try:
            self._hasher.verify(row[0], password)
        except (VerificationError, InvalidHashError):
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE expires_ms < ?", (now_ms,))
            self._db.execute("INSERT INTO sessions (token_hash, username, csrf, expires_ms) "
                             "VALUES (?, ?, ?, ?)",
                             (_digest(token), username, csrf, now_ms + SESSION_MS))
        return token, Session(username, Role(row[1]), csrf, _sites(row[2]))

    def session(self, token: str, now_ms: int) -> Session | None:
        with self._lock:
            row = self._db.execute(
                "SELECT s.username, u.role, s.csrf, u.sites FROM sessions s JOIN users u USING "
                "(username) WHERE s.token_hash = ? AND s.expires_ms > ?",
                (_digest(token), now_ms)).fetchone()
        return Session(row[0], Role(row[1]), row[2], _sites(row[3])) if row else None

    def logout(self, token: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))

    # --- the login throttle's counts, shared by every node (``Failures``) --------------

    def failures(self, keys: list[str]) -> dict[str, tuple[int, int]]:
        marks = ", ".join("?" * len(keys))
        with self._lock:
            rows = self._db.execute(
                "SELECT throttle_key, failures, last_ms FROM login_failures WHERE "
                f"throttle_key IN ({marks})", tuple(keys)).fetchall()
        return {str(k): (int(n), int(t)) for k, n, t in rows}

    def record_failure(self, key: str, count: int, now_ms: int, *, max_keys: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO login_failures (throttle_key, failures, last_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (throttle_key) DO UPDATE SET failures = excluded.failures, "
                "last_ms = excluded.last_ms", (key, count, now_ms))
            self._db.execute(  # beyond the newest max_keys (LIMIT: both engines need one)
                "DELETE FROM login_failures WHERE throttle_key IN (SELECT throttle_key FROM "
                "login_failures ORDER BY last_ms DESC, throttle_key LIMIT 1000000000 "
                "OFFSET ?)", (max_keys,))

    def forget_failures(self, keys: list[str]) -> None:
        marks = ", ".join("?" * len(keys))
        with self._lock:
            self._db.execute(f"DELETE FROM login_failures WHERE throttle_key IN ({marks})",
                             tuple(keys))

    def audit(self, t_ms: int, username: str, action: str, target: str, detail: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO audit (t_ms, username, action, target, detail) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (t_ms, username, action, target, detail[:500]))

    def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT t_ms, username, action, target, detail FROM audit ORDER BY t_ms DESC, "
                f"{self._db.row_order} DESC LIMIT ?", (limit,)).fetchall()
        return [AuditEntry(*row) for row in rows]


def _sites(column: str | None) -> frozenset[str]:
    return frozenset(s for s in (column or "").split(",") if s)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
