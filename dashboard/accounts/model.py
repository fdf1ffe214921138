"""Desk users as the desk speaks of them: roles, sessions, audit entries, and the
login-failure counts the throttle keeps (in memory, or in the accounts' store)."""

from __future__ import annotations

import enum
import threading
from collections import OrderedDict
from typing import Protocol

import msgspec

from dashboard.errors import DeskError

SESSION_MS = 12 * 3_600_000
MIN_PASSWORD = 10


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"  # a site's manager: a nurse's actions, and enrols within the sites
    NURSE = "nurse"  # acknowledges, resolves, silences
    VIEWER = "viewer"  # reads only


class AccountError(DeskError):
    """A bad username, password or role."""


NO_SITE = ""  # in a scope: matches no site (a scope never empty means "every site")


class Session(msgspec.Struct, frozen=True):
    username: str
    role: Role
    csrf: str
    sites: frozenset[str] = frozenset()  # the sites this user may see; empty: every site
    org: str = ""  # the supervising node they belong to: ``sites`` is what is below it

    def sees(self, site_id: str) -> bool:
        return not self.sites or site_id in self.sites

    def site_scope(self) -> tuple[str, ...]:
        """The sites a query must keep to (empty: no restriction)."""
        return tuple(sorted(self.sites))

    def below(self, sites: frozenset[str]) -> Session:
        """This session seeing ``sites`` (those below its org, as the registry is now):
        never every site, also when nothing is below it yet."""
        return msgspec.structs.replace(self, sites=sites | {NO_SITE})


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
