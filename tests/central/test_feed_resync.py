"""A desk on node A whose feed of other nodes' alerts lost its PostgreSQL connection: a fall
raised on node B meanwhile is announced while nobody on A listens. Once the feed is back it
tells A's open pages to fetch the alerts again, so the fall is on the page within 5 s (real
PostgreSQL, real uvicorn, real headless Chromium)."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import psycopg
import pytest
from playwright.sync_api import expect, sync_playwright

import registry as registry_module
from alerts.cluster.feed import AlertFeed, announcer
from alerts.core import AlertCore
from alerts.model import Condition, Signal
from alerts.policy import Policies, PolicyFile
from alerts.store import AlertStore
from alerts.store.queries import StoreQueries
from dashboard.accounts.model import Role
from dashboard.accounts.store import Accounts
from dashboard.app import alert_listener, create_app, resync_listener
from dashboard.context import DashboardContext
from dashboard.server import DashboardServer
from harness.process import free_port
from registry.db import RegistryStore, open_registry
from telemetry.clock import SystemClock
from tests.alerts.conftest import POLICY
from tests.dashboard.test_browser import CHROMIUM
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration
PASSWORD = "test-only-nurse-password"


class NodeA:
    """Node A's desk: its accounts and alert store on the shared PostgreSQL, its page
    server, and its feed of the other nodes' alerts."""

    def __init__(self, dsn: str) -> None:
        self.registry_db = RegistryStore(dsn)  # the registry in the shared database
        self.registry = open_registry(self.registry_db, registry_module.SAMPLE)
        self.policies = Policies(msgspec.convert(POLICY, PolicyFile))
        self.db = AlertStore(dsn)
        self.accounts = Accounts(dsn)
        self.accounts.create_user("nurse-a", PASSWORD, Role.NURSE, SystemClock().now_ms())
        core = AlertCore(self.db, self.registry, self.policies, SystemClock())
        self.ctx = DashboardContext(self.accounts, self.registry, core,
                                    StoreQueries(self.db), self.policies,
                                    SystemClock(), registry_db=self.registry_db)
        self.port = free_port()
        self.server = DashboardServer(create_app(self.ctx), "127.0.0.1", self.port)
        self.feed = AlertFeed(dsn, "node-a", alert_listener(self.ctx),
                              resync_listener(self.ctx))

    def start(self) -> None:
        self.server.start()
        self.feed.start()
        assert self.feed.listening.wait(10)

    def close(self) -> None:
        self.feed.stop()
        self.server.close()
        self.accounts.close()
        self.db.close()
        self.registry_db.close()


@pytest.fixture
def node_a(fresh_database: str) -> Iterator[NodeA]:
    node = NodeA(fresh_database)
    node.start()
    try:
        yield node
    finally:
        node.close()


def test_a_fall_announced_while_the_feed_was_cut_reaches_the_page_after_it_reconnects(
        node_a: NodeA, fresh_database: str) -> None:
    db_b = AlertStore(fresh_database)
    core_b = AlertCore(db_b, node_a.registry, node_a.policies, SystemClock(),
                       [announcer(db_b, "node-b")])
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"http://127.0.0.1:{node_a.port}/")
            page.fill("#username", "nurse-a")
            page.fill("#password", PASSWORD)
            page.click("#login-button")
            expect(page.locator("#connection")).to_have_text("实时")
            expect(page.locator("li.alarm")).to_have_count(0)
            # node A's feed loses its connection (an idle-connection reaper, a failover)
            with psycopg.connect(fresh_database, autocommit=True) as admin:
                cut = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE query LIKE 'LISTEN%'").fetchall()
            assert cut == [(True,)]
            wait_until(lambda: not node_a.feed.listening.is_set(), 10, "the feed cut")
            now = SystemClock().now_ms()
            core_b.handle([Signal(Condition.FALL, "res-00001", True, now, "site-000",
                                  "gw-00001", "fall reported", "pendant")])  # unheard on A
            expect(page.locator("li.alarm[data-condition=fall]")).to_be_visible(timeout=5000)
            assert node_a.feed.received == 0 and node_a.feed.resyncs == 1
            browser.close()
    finally:
        db_b.close()
