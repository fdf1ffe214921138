"""Retention: the central process tidies its store and its alert state on a schedule.

Every ``every_s`` (the ``[retention]`` table): raw readings older than ``raw_days`` are rolled
into hourly aggregates, aggregates older than ``rollup_days`` go, and alerts resolved more
than ``resolved_alert_days`` ago go with their timeline and notices. Open and acknowledged
alerts are never removed. A failed round is logged and counted; the next one tries again.
"""

from __future__ import annotations

import logging
import threading
from typing import NamedTuple

from alerts.store import AlertStore, StateError
from central.config import RetentionConfig
from ingest.store.base import Store, StoreError
from telemetry.clock import DAY_MS, Clock

log = logging.getLogger(__name__)



class Round(NamedTuple):
    raw_removed: int
    alerts_removed: int


class Retention:
    def __init__(self, cfg: RetentionConfig, store: Store, alert_state: AlertStore | None,
                 clock: Clock) -> None:
        self.cfg = cfg
        self.store = store
        self.alert_state = alert_state
        self.clock = clock
        self.rounds = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def run_once(self) -> Round:
        """One round now. Raises StoreError or StateError."""
        now = self.clock.now_ms()
        raw = self.store.apply_retention(now, int(self.cfg.raw_days * DAY_MS),
                                         int(self.cfg.rollup_days * DAY_MS))
        alerts = 0
        if self.alert_state is not None:
            alerts = self.alert_state.purge_resolved(
                now - int(self.cfg.resolved_alert_days * DAY_MS))
        self.rounds += 1
        if raw or alerts:
            log.info("retention: %d raw readings rolled up, %d resolved alerts removed",
                     raw, alerts)
        return Round(raw, alerts)

    def _run(self) -> None:
        while not self._stop.wait(self.cfg.every_s):
            try:
                self.run_once()
            except (StoreError, StateError) as exc:
                self.failures += 1
                log.error("retention round failed (tried again in %.0f s): %s",
                          self.cfg.every_s, exc)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)  # a round cut short rolls back; the next one redoes it
