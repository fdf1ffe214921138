"""The desk's accounts on both stores: the embedded SQLite file, and the PostgreSQL store
every alert node shares (a user created once, and a session opened on one node, work on
every node; the audit log is one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.accounts import AccountError, Accounts, Role
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
