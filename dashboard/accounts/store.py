"""The accounts' store, the one home of their SQL: users, sessions, login failures and the
audit log, in the embedded database (an
SQLite file), or on an alert node of several in the shared PostgreSQL store, so that a
desk user and their session work on every node and the audit log is one.

Passwords are hashed with argon2 (``argon2-cffi``, the reference implementation's
binding). A session is a random token in an HttpOnly, SameSite=Strict cookie; only its
SHA-256 is stored. Every state-changing request also carries the session's CSRF token in a
header. The first admin is created by a CLI command; there is no default password.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dashboard.accounts.model import (
    MIN_PASSWORD,
    SESSION_MS,
    AccountError,
    AuditEntry,
    Role,
    Session,
)
from runtime.sql import AddedColumns, connect

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
# the sites a user may see, comma-separated (NULL or empty: every site); the node of the
# supervising tree the user belongs to (NULL or empty: none; with one, the sites below it)
_ADDED_COLUMNS: AddedColumns = [("users", "sites", "TEXT"), ("users", "org", "TEXT")]
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
                    sites: tuple[str, ...] = (), org: str = "") -> None:
        """A user of the desk; ``sites``: the only sites they see (none named: every
        site, as for the operator's own staff); ``org``: the node of the supervising tree
        they belong to (they see the sites below it, and nothing beside it)."""
        if not username.isidentifier() and not username.replace("-", "_").isidentifier():
            raise AccountError("a username is letters, digits, - and _")
        if any(not site or "," in site for site in sites):
            raise AccountError("a site id is not empty and has no comma")
        if org and sites:
            raise AccountError("a user belongs to an org or to named sites, not both")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
        digest = self._hasher.hash(password)
        with self._lock:
            added = self._db.execute(
                "INSERT INTO users (username, password_hash, role, created_ms, sites, org) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING username",
                (username, digest, role.value, now_ms, ",".join(sites), org)).fetchone()
        if added is None:
            raise AccountError(f"user {username} exists")

    def users(self) -> list[tuple[str, Role]]:
        with self._lock:
            rows = self._db.execute("SELECT username, role FROM users ORDER BY username")
            return [(u, Role(r)) for u, r in rows.fetchall()]

    def scopes(self) -> dict[str, tuple[frozenset[str], str]]:
        """Each user's named sites and org (both empty: every site)."""
        with self._lock:
            rows = self._db.execute("SELECT username, sites, org FROM users").fetchall()
        return {u: (_sites(sites), org or "") for u, sites, org in rows}

    def login(self, username: str, password: str, now_ms: int) -> tuple[str, Session] | None:
        """A new session token and the session, or None for a wrong name or password."""
        with self._lock:
            row = self._db.execute("SELECT password_hash, role, sites, org FROM users WHERE "
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
        return token, Session(username, Role(row[1]), csrf, _sites(row[2]), row[3] or "")

    def session(self, token: str, now_ms: int) -> Session | None:
        with self._lock:
            row = self._db.execute(
                "SELECT s.username, u.role, s.csrf, u.sites, u.org FROM sessions s JOIN users u "
                "USING (username) WHERE s.token_hash = ? AND s.expires_ms > ?",
                (_digest(token), now_ms)).fetchone()
        return Session(row[0], Role(row[1]), row[2], _sites(row[3]), row[4] or "") \
            if row else None

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
