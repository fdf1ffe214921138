"""Every node's desk hears of alerts raised on the others: a change announced on the shared
PostgreSQL store reaches the other nodes' feeds at once, never the announcing node's own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from alerts.cluster.feed import AlertFeed, announcer
from alerts.model import AlertChange, Change, Condition, Severity
from alerts.store import AlertStore
from tests.support.readings import T0
from tests.support.wait import wait_until


@pytest.fixture
def store(fresh_database: str) -> Iterator[AlertStore]:
    db = AlertStore(fresh_database)
    yield db
    db.close()


def test_a_change_on_one_node_reaches_the_others_desks(fresh_database: str,
                                                        store: AlertStore) -> None:
    heard: dict[str, list[AlertChange]] = {"node-a": [], "node-b": []}
    lock = threading.Lock()

    def hear(node: str) -> Callable[[AlertChange], None]:
        def on_change(change: AlertChange) -> None:
            with lock:
                heard[node].append(change)
        return on_change

    feeds = [AlertFeed(fresh_database, node, hear(node)) for node in heard]
    for feed in feeds:
        feed.start()
    try:
        for feed in feeds:
            assert feed.listening.wait(10)
        with store.transaction():
            alert_id = store.alerts.open(Condition.FALL, "res-00001", "site-000", "gw-00000",
                                        "pendant", Severity.CRITICAL, T0, False, "fall")
        alert = store.alerts.get(alert_id)
        assert alert is not None
        announcer(store, "node-a")(AlertChange(Change.OPENED, alert, T0))
        wait_until(lambda: len(heard["node-b"]) == 1, 10, "node-b's desk told")
        got = heard["node-b"][0]
        assert (got.change, got.alert.alert_id, got.alert.subject) == \
            (Change.OPENED, alert_id, "res-00001")
        announcer(store, "node-b")(AlertChange(Change.ACKNOWLEDGED, alert, T0 + 1))
        wait_until(lambda: len(heard["node-a"]) == 1, 10, "node-a's desk told")
        assert heard["node-a"][0].change is Change.ACKNOWLEDGED
        assert len(heard["node-b"]) == 1  # a node is not told of its own changes
    finally:
        for feed in feeds:
            feed.stop()
