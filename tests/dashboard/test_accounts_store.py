"""The desk's accounts on both stores: the embedded SQLite file, and the PostgreSQL store
every alert node shares (a user created once, and a session opened on one node, work on
every node; the audit log is one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.accounts.model import AccountError, Role
from dashboard.accounts.store import Accounts
from tests.support.readings import T0

PASSWORD = "test-only-password"


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    if request.param == "postgresql":
        yield request.getfixturevalue("fresh_database")
    else:
        yield tmp_path / "accounts.db"


def test_users_sessions_and_the_audit_log(location: Path | str) -> None:
    accounts = Accounts(location)
    try:
        accounts.create_user("nurse-a", PASSWORD, Role.NURSE, T0)
        with pytest.raises(AccountError, match="exists"):
            accounts.create_user("nurse-a", PASSWORD, Role.ADMIN, T0)
        assert accounts.users() == [("nurse-a", Role.NURSE)]
        assert accounts.login("nurse-a", "wrong-password!", T0) is None
        opened = accounts.login("nurse-a", PASSWORD, T0)
        assert opened is not None
        token, session = opened
        assert accounts.session(token, T0 + 1000) == session
        assert accounts.session(token, T0 + 13 * 3_600_000) is None  # expired
        accounts.logout(token)
        assert accounts.session(token, T0 + 1000) is None
        for i in range(3):  # the same millisecond: still in the order they happened
            accounts.audit(T0, "nurse-a", "acknowledge", f"alert {i}", "")
        assert [e.target for e in accounts.audit_log()] == ["alert 2", "alert 1", "alert 0"]
    finally:
        accounts.close()


def test_a_session_opened_on_one_node_works_on_another(fresh_database: str) -> None:
    node_a, node_b = Accounts(fresh_database), Accounts(fresh_database)
    try:
        node_a.create_user("nurse-a", PASSWORD, Role.NURSE, T0)
        opened = node_b.login("nurse-a", PASSWORD, T0)  # the user exists on every node
        assert opened is not None
        assert node_a.session(opened[0], T0 + 1000) == opened[1]
        node_b.audit(T0, "nurse-a", "resolve", "alert 1", "")
        assert [e.action for e in node_a.audit_log()] == ["resolve"]
    finally:
        node_a.close()
        node_b.close()


def test_sign_in_failures_are_counted_once_for_every_node(location: Path | str) -> None:
    """Two nodes' desks on one store: a guesser spreading tries over both is slowed as if
    on one (in memory, three nodes gave three times the tries); a flood of made-up names
    keeps at most max_keys rows."""
    from dashboard.accounts.throttle import LoginThrottle

    node_a, node_b = Accounts(location), Accounts(location)
    try:
        on_a = LoginThrottle(store=node_a, max_keys=50)
        on_b = LoginThrottle(store=node_b, max_keys=50)
        keys = ["addr:198.51.100.7", "user:nurse@198.51.100.7"]
        for i in range(5):
            (on_a if i % 2 else on_b).failed(keys, T0 + i)
        assert on_a.retry_after_s(keys, T0 + 5) == pytest.approx(1.0, abs=0.01)
        assert on_b.retry_after_s(keys, T0 + 5) == on_a.retry_after_s(keys, T0 + 5)
        on_a.succeeded(keys)
        assert on_b.retry_after_s(keys, T0 + 6) == 0
        for i in range(200):
            on_b.failed([f"user:made-up-{i}@198.51.100.8"], T0 + 10 + i)
        assert len(node_a.failures([f"user:made-up-{i}@198.51.100.8"
                                    for i in range(200)])) == 50
        assert on_a.retry_after_s(["user:made-up-199@198.51.100.8"], T0 + 210) == 0
        assert node_a.failures(["user:made-up-199@198.51.100.8"]) != {}  # the newest kept
    finally:
        node_a.close()
        node_b.close()
