"""What only the shared PostgreSQL store must survive: several nodes opening it at once,
and the database restarting under a running node. (The alert lifecycle itself runs on both
backends through the ``world`` fixture.)"""

from __future__ import annotations

import threading

import pytest

from alerts.model import AlertState, Condition, Severity
from alerts.store import AlertStore, StateError
from harness.postgres import LocalPostgres
from tests.support.readings import T0


def _open_fall(db: AlertStore, resident: str) -> int:
    with db.transaction():
        return db.alerts.open(Condition.FALL, resident, "site-000", "gw-00000", "pendant",
                             Severity.CRITICAL, T0, False, "fall reported")


def test_three_nodes_starting_together_share_one_store(fresh_database: str) -> None:
    stores: list[AlertStore] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            stores.append(AlertStore(fresh_database))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(stores) == 3
    a, b, c = stores
    alert_id = _open_fall(a, "res-00001")
    assert b.alerts.get(alert_id) is not None  # raised on one node, seen on every node
    with pytest.raises(StateError):  # one open alert per condition and resident, anywhere
        _open_fall(c, "res-00001")
    b.close_alert(alert_id, AlertState.ACKNOWLEDGED, "nurse", T0 + 1000, "")
    acked = c.alerts.get(alert_id)
    assert acked is not None and acked.state is AlertState.ACKNOWLEDGED
    for store in stores:
        store.close()


def test_a_node_opening_the_store_never_waits_on_another_node_s_writes(
        fresh_database: str) -> None:
    """A node (or its feed) reconnecting to a new primary opens the store while the others
    write: opening takes no lock on a table that is there already (a "CREATE INDEX IF NOT
    EXISTS" on every open waited on, and deadlocked with, the writers)."""
    writer = AlertStore(fresh_database)
    opened: list[AlertStore] = []
    try:
        with writer.transaction():
            alert_id = _open_fall(writer, "res-00001")
            writer.timeline.note(alert_id, T0, "opened", "system", "writing")  # held
            opener = threading.Thread(target=lambda: opened.append(AlertStore(fresh_database)))
            opener.start()
            opener.join(5)
            assert opened, "opening the store waited on another node's transaction"
    finally:
        writer.close()
        for store in opened:
            store.close()


def test_a_node_goes_on_after_the_database_restarts() -> None:
    with LocalPostgres() as server:
        db = AlertStore(server.dsn())
        first = _open_fall(db, "res-00001")
        server.stop()
        with pytest.raises(StateError):  # said, not hidden, while it is down
            db.alerts.get(first)
        server.start()
        second = _open_fall(db, "res-00002")  # the store reconnects by itself
        assert {a.alert_id for a in db.alerts.find()} == {first, second}
        db.close()


def test_a_read_after_the_database_restarted_is_answered_on_a_new_connection() -> None:
    """The desk's first query after a PostgreSQL restart (a page reloading after the feed
    came back) is answered, not refused; a write is refused, and its caller retries."""
    with LocalPostgres() as server:
        db = AlertStore(server.create_database("reads"))
        try:
            db.alerts.open(Condition.FALL, "res-00000", "site-000", "gw-00000", "pendant",
                          Severity.CRITICAL, 1, False, "fall")
            server.stop()
            server.start()
            assert [a.subject for a in db.alerts.find()] == ["res-00000"]
            server.stop()
            server.start()
            with pytest.raises(StateError):
                db.timeline.note(1, 2, "x", "y", "z")
            db.timeline.note(1, 2, "x", "y", "z")  # the caller's retry
        finally:
            db.close()
