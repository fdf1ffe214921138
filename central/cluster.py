"""An alert node of several: the thread that keeps this node's partition leases and, as
they change, hands partitions between the intake and the detector bank.

A gained partition: its detectors are built first, then its two broker sessions opened
(the broker hands over whatever it queued for them while nobody owned it). A lost one:
its sessions are closed first, then its detectors dropped. Each round also sends again
the notices a dead node left half-sent. If the shared store cannot be reached for a whole
lease, the node stops taking its partitions' messages (the survivors will take them over)
until it can renew again.
"""

from __future__ import annotations

import logging
import threading

from alerts.leases import PartitionLeases
from alerts.service import AlertService
from alerts.settings import ClusterSettings
from alerts.state import StateDb, StateError
from ingest.consumer import Ingest
from telemetry.clock import SECOND_MS, Clock

log = logging.getLogger(__name__)


class ClusterNode:
    def __init__(self, settings: ClusterSettings, alerts: AlertService, ingest: Ingest,
                 clock: Clock) -> None:
        self.settings = settings
        self.alerts = alerts
        self.ingest = ingest
        self.clock = clock
        self.ttl_ms = int(settings.lease_ttl_s * SECOND_MS)
        # a connection of its own: renewing a lease never waits behind the alert core
        self.db = StateDb(settings.state)
        self.leases = PartitionLeases(self.db, settings.node_id, settings.partitions, clock,
                                      self.ttl_ms)
        self.rounds = 0
        self.takeovers = 0
        self._last_renewed_ms = clock.now_ms()
        self.last_error = ""  # why the last round failed ("" while rounds succeed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cluster-leases", daemon=True)

    def start(self) -> None:
        self.round()
        self._thread.start()

    def round(self) -> None:
        first = self.rounds == 0
        # a partition we opened but whose sessions are not subscribed yet stays ours
        change = self.leases.round(keep=lambda part: part in self.ingest.partitions()
                                   and not self.ingest.subscribed(part))
        self._last_renewed_ms = self.clock.now_ms()
        for part in sorted(change.lost):
            self.ingest.close_partition(part)
            self.alerts.give_up(part)
        self.leases.release(change.lost)  # closed: the next owner may open them now
        for part in sorted(change.gained):
            self.alerts.take(part)
            self.ingest.open_partition(part)
        if change.gained and not first:
            self.takeovers += 1
        live = self.leases.live_nodes()
        # at our first round, what we ourselves left sending before a restart goes again
        keep = tuple(n for n in live if not (first and n == self.settings.node_id))
        self.alerts.dispatcher.recover(keep)
        self.rounds += 1

    def _run(self) -> None:
        every_s = self.settings.lease_ttl_s / 4
        while not self._stop.wait(every_s):
            self.tick()

    def tick(self) -> None:
        """One round of the lease thread. Whatever stops the leases being renewed (the
        store out of reach, or a bug), once they have expired the node lets its
        partitions go: another node owns them by then."""
        try:
            self.round()
            self.last_error = ""
        except StateError as exc:
            self.last_error = f"shared store: {exc}"[:200]
            log.error("cannot renew the partition leases: %s", exc)
        except Exception as exc:  # the lease thread's supervisor: it must go on, and fence
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            log.exception("partition lease round failed")
        if self.clock.now_ms() - self._last_renewed_ms >= self.ttl_ms:
            self._fence()

    def degraded(self) -> bool:
        """True while this node cannot keep its leases (the shared store out of reach):
        what it held waits with the broker, and its alerts cannot be raised here."""
        return bool(self.last_error)

    def status(self) -> dict[str, object]:
        return {"cluster_degraded": self.degraded(),
                "partitions_held": sorted(self.leases.held),
                "partitions_open": self.ingest.partitions(),
                "lease_age_s": round((self.clock.now_ms() - self._last_renewed_ms)
                                     / SECOND_MS, 3),
                "cluster_error": self.last_error}

    def _fence(self) -> None:
        """Our leases have expired unrenewed: others may own the partitions now."""
        for part in self.ingest.partitions():
            log.error("node %s: lease on partition %d expired; letting it go",
                      self.settings.node_id, part)
            self.ingest.close_partition(part)
            self.alerts.give_up(part)
        self.leases.held = frozenset()

    def close(self) -> None:
        """Stop taking messages, then hand every partition over at once."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        for part in self.ingest.partitions():
            self.ingest.close_partition(part)
        try:
            self.leases.release_all()
        except StateError as exc:  # they expire by themselves after the ttl
            log.warning("could not hand the partitions over: %s", exc)
        self.db.close()
