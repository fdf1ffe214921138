"""The alert store: everything the alert core must not forget across a restart, and every
change committed before it is acted on. The one home of the SQL on the alert, timeline,
silence, escalation, notice, node and lease tables.

``AlertStore`` is one connection (an SQLite file, the embedded default, or a PostgreSQL
DSN shared by the nodes of a several-node deployment) with a family of tables on it, each
a small class of its own: ``alerts``, ``timeline``, ``silences``, ``steps`` (escalation
timers), ``outbox`` and ``notices``, ``answers`` (who has an alert, how it ended),
``dispatches`` (responders sent), ``reports`` (the response report's figures, by SQL),
``nodes`` and ``leases``, ``learned`` (what the detectors learned), ``erasure`` (a
data-protection erase of one subject across them). A ``transaction()``
covers every call made inside it, whichever family.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alerts.model import AlertState
from alerts.store.alerts import AlertTable
from alerts.store.answers import Answers
from alerts.store.dispatches import Dispatches
from alerts.store.duty import Duty
from alerts.store.erasure import Erasure
from alerts.store.escalation import Escalation
from alerts.store.learned import Learned
from alerts.store.nodes import Leases, Nodes
from alerts.store.notices import Notices, Outbox
from alerts.store.reports import Reports
from alerts.store.rounds import Rounds
from alerts.store.schema import ADDED_COLUMNS, ORDERED, SCHEMA
from alerts.store.silences import Silences
from alerts.store.timeline import Timeline
from alerts.store.visits import Visits
from runtime.sql import StateError as StateError  # what every method raises
from runtime.sql import connect


class AlertStore:
    def __init__(self, location: Path | str, timeout_s: float | None = None) -> None:
        """``timeout_s``: every statement answers within it or fails (PostgreSQL; the
        lease keeper's connection, which must never hang past its lease)."""
        self.lock = threading.RLock()
        self.depth = 0  # transactions open (by the thread holding the lock): the outer commits
        self.backend = connect(location, SCHEMA, ADDED_COLUMNS, ordered=ORDERED,
                               timeout_s=timeout_s)
        self.alerts = AlertTable(self.backend, self.lock)
        self.timeline = Timeline(self.backend, self.lock)
        self.silences = Silences(self.backend, self.lock)
        self.steps = Escalation(self.backend, self.lock)
        self.outbox = Outbox(self.backend, self.lock)
        self.notices = Notices(self.backend, self.lock)
        self.nodes = Nodes(self.backend, self.lock)
        self.leases = Leases(self.backend, self.lock)
        self.learned = Learned(self.backend, self.lock)
        self.dispatches = Dispatches(self.backend, self.lock)
        self.answers = Answers(self.backend, self.lock)
        self.reports = Reports(self.backend, self.lock)
        self.erasure = Erasure(self.backend, self.lock)
        self.visits = Visits(self.backend, self.lock)
        self.duty = Duty(self.backend, self.lock)
        self.rounds = Rounds(self.backend, self.lock)

    def close(self) -> None:
        with self.lock:
            self.backend.close()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def announce(self, channel: str, payload: str) -> None:
        """Tell every node listening on ``channel`` (PostgreSQL; one process needs none)."""
        if self.backend.name == "postgresql":
            with self.lock:
                self.backend.execute("SELECT pg_notify(?, ?)", (channel, payload))

    def close_alert(self, alert_id: int, state: AlertState, who: str, now_ms: int,
                    note: str) -> None:
        """Acknowledged or resolved: every pending escalation step and notice of it
        cancelled (and, resolved, its responders' too)."""
        with self.transaction():
            self.alerts.close(alert_id, state, who, now_ms, note)
            self.steps.cancel(alert_id)
            self.outbox.cancel(alert_id, responders_too=state is AlertState.RESOLVED)
            if state is AlertState.RESOLVED:
                self.dispatches.cancel(alert_id, now_ms)

    def erase_subject(self, subject: str) -> int | None:
        """A data-protection erase of ``subject``, in one commit (``Erasure.subject``)."""
        with self.transaction():
            return self.erasure.subject(subject)

    def purge_resolved(self, before_ms: int) -> int:
        """Retention: alerts resolved before ``before_ms``, with all that hangs on them."""
        with self.transaction():
            return self.alerts.purge_resolved(before_ms)


class _Transaction:
    def __init__(self, store: AlertStore) -> None:
        self._store = store

    def __enter__(self) -> AlertStore:
        store = self._store
        store.lock.acquire()
        if store.depth == 0:
            try:
                store.backend.begin()
            except BaseException:
                store.lock.release()
                raise
        store.depth += 1
        return store

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        store = self._store
        store.depth -= 1
        try:
            if store.depth == 0:
                store.backend.end(commit=exc_type is None)
        finally:
            store.lock.release()
