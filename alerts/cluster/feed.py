"""Alert changes made on other alert nodes, as they are committed: PostgreSQL's
LISTEN/NOTIFY on the shared store. Each node announces its own changes (``announcer``)
and hands the others' to its dashboard's live push, so the desk sees every partition's
alerts at once on whichever node serves the page.

LISTEN hears nothing while its connection is down: whatever another node announced
meanwhile is lost to it. So after every reconnect the feed calls ``on_resync`` (the desk
tells its open pages to fetch the alert list again)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from alerts.model import AlertChange, Change
from alerts.store import AlertStore, StateError
from runtime import backoff as retry_policy

log = logging.getLogger(__name__)

CHANNEL = "eldercare_alerts"


def announcer(db: AlertStore, origin: str) -> Callable[[AlertChange], None]:
    """An alert-core listener that tells the other nodes of each change."""
    def announce(change: AlertChange) -> None:
        try:
            db.announce(CHANNEL, f"{origin} {change.change.value} {change.alert.alert_id} "
                                 f"{change.at_ms}")
        except StateError as exc:  # the desk on other nodes sees it at its next refresh
            log.warning("could not announce alert %d: %s", change.alert.alert_id, exc)
    return announce


class AlertFeed(threading.Thread):
    """Calls ``on_change`` with each change another node announces (never our own)."""

    def __init__(self, dsn: str, origin: str, on_change: Callable[[AlertChange], None],
                 on_resync: Callable[[], None] = lambda: None) -> None:
        super().__init__(name="alert-feed", daemon=True)
        self.dsn = dsn
        self.origin = origin
        self.on_change = on_change
        self.on_resync = on_resync
        self.received = 0
        self.resyncs = 0
        self.listening = threading.Event()
        self._stopping = threading.Event()

    def run(self) -> None:
        import psycopg

        lost = False  # announcements may have gone by unheard
        backoff = retry_policy.feed_reconnect()
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn, \
                        AlertStore(self.dsn) as db:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    backoff.reset()
                    if lost:
                        lost = False
                        self._resync()
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._handle(db, note.payload)
            except (psycopg.Error, StateError) as exc:
                lost = lost or self.listening.is_set()
                self.listening.clear()
                log.warning("alert feed lost the shared store: %s", exc)
                self._stopping.wait(backoff.next_delay())

    def _resync(self) -> None:
        self.resyncs += 1
        log.info("alert feed listening again: the desk's pages fetch the alerts anew")
        try:
            self.on_resync()
        except Exception:  # a listener's bug must not stop the feed
            log.exception("alert feed resync failed")

    def _handle(self, db: AlertStore, payload: str) -> None:
        try:
            origin, change, alert_id, at_ms = payload.split(" ")
            if origin == self.origin:
                return
            alert = db.alerts.get(int(alert_id))
            if alert is None:
                return
            self.received += 1
            self.on_change(AlertChange(Change(change), alert, int(at_ms)))
        except (ValueError, StateError):
            log.warning("alert feed: cannot use %r", payload[:80])
        except Exception:  # a listener's bug must not stop the feed
            log.exception("alert feed listener failed on %r", payload[:80])

    def stop(self) -> None:
        self._stopping.set()
        if self.ident is not None:  # started (a process that failed to start closes too)
            self.join(5)
