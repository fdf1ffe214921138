"""An alert node of several: the thread that keeps this node's partition leases and, as
they change, hands partitions between the intake and the detector bank.

A gained partition: its detectors are built first, then its two broker sessions opened
(the broker hands over whatever it queued for them while nobody owned it). A lost one:
its sessions are closed first, then its detectors dropped. After every round the node
makes what it has open match what it holds, so a round that failed half-way is mended by
the next. Each round also sends again the notices a dead node left half-sent.

Fencing: the leases are timed on the shared store's clock; this node counts, on its own
clock, from the start of its last round that renewed them. A round that took longer than
``fence_after_ms`` (three quarters of the lease) renewed nothing it may trust, and once
that long has gone by without a good round, the node stops taking its partitions'
messages, before the leases expire and a survivor takes them. A watchdog thread does this
even while a round hangs (a database that stops answering), and the lease connection's
statements are each bounded by a quarter of the lease.
"""

from __future__ import annotations

import logging
import threading

from alerts.cluster.leases import PartitionLeases, StoreClock
from alerts.service import AlertService
from alerts.settings import ClusterSettings
from alerts.store import AlertStore, StateError
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
        self.round_every_s = settings.lease_ttl_s / 4
        self.fence_after_ms = self.ttl_ms - int(self.round_every_s * SECOND_MS)
        # a connection of its own (renewing never waits behind the alert core) whose every
        # statement answers within a round's interval or fails
        self.db = AlertStore(settings.state, timeout_s=self.round_every_s)
        self.leases = PartitionLeases(self.db, settings.node_id, settings.partitions,
                                      StoreClock(self.db), self.ttl_ms)
        self.rounds = 0
        self.takeovers = 0
        self.fences = 0
        self._last_renewed_ms = clock.now_ms()
        self._fenced = False
        self._lagging: list[str] = []  # other live nodes whose alert core lags, last round
        self._live: list[str] = []  # the live nodes at the last round
        self.last_error = ""  # why the last round failed ("" while rounds succeed)
        self._effects = threading.Lock()  # opening / closing partitions: one at a time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cluster-leases", daemon=True)
        self._watchdog = threading.Thread(target=self._watch, name="cluster-fence",
                                          daemon=True)

    def start(self) -> None:
        """Check the broker's partition count (``PartitionCountError`` if it differs: no
        partition is taken), then take this node's share and keep it."""
        self.ingest.check_partitions(self.settings.partitions)
        self.tick()
        self._thread.start()
        self._watchdog.start()

    def round(self) -> None:
        first = self.rounds == 0
        started = self.clock.now_ms()
        # a partition we opened but whose sessions are not subscribed yet stays ours
        change = self.leases.round(keep=lambda part: part in self.ingest.partitions()
                                   and not self.ingest.subscribed(part),
                                   degraded=self.ingest.handoff.degraded())
        if self.clock.now_ms() - started >= self.fence_after_ms:
            raise StateError("the lease round took longer than the fence allows")
        with self._effects:
            self._last_renewed_ms = started
            self._fenced = False
            self._apply(change.held, first)
        live = self.leases.live_nodes()
        self._lagging = [n for n in self.leases.degraded_nodes() if n != self.settings.node_id]
        # at our first round, what we ourselves left sending before a restart goes again
        keep = tuple(n for n in live if not (first and n == self.settings.node_id))
        again = self.alerts.dispatcher.recover(keep, restarted=first)
        if again or live != self._live:  # a node died or came: its steps may be ours now
            self.alerts.look_again()
        self._live = live
        self.rounds += 1

    def _apply(self, held: frozenset[int], first: bool) -> None:
        """Close what is open and not held, then open what is held and not open."""
        started = self.clock.monotonic_s()
        try:
            self._open_and_close(held, first)
        finally:
            took = self.clock.monotonic_s() - started
            if took > self.round_every_s:  # the next renewal waits for it
                log.warning("node %s: opening and closing partitions took %.2f s",
                            self.settings.node_id, took)

    def _open_and_close(self, held: frozenset[int], first: bool) -> None:
        opened = set(self.ingest.partitions())
        going = sorted(opened - held)
        self.ingest.close_partitions(going)
        for part in going:
            self.alerts.give_up(part)
        if going:
            self.leases.release(frozenset(going))  # closed: the next owner may open them
        coming = sorted(held - opened)
        for part in coming:
            self.alerts.take(part)
            self.ingest.open_partition(part)
        if coming and not first:
            self.takeovers += 1

    def _run(self) -> None:
        while not self._stop.wait(self.round_every_s):
            self.tick()

    def _watch(self) -> None:
        while not self._stop.wait(self.round_every_s / 2):
            self.check_fence()

    def tick(self) -> None:
        """One round of the lease thread. Whatever stops the leases being renewed (the
        store out of reach, or a bug), before they expire the node lets its partitions
        go: another node may own them by then."""
        try:
            self.round()
            self.last_error = ""
        except StateError as exc:
            self.last_error = f"shared store: {exc}"[:200]
            log.error("cannot renew the partition leases: %s", exc)
        except Exception as exc:  # the lease thread's supervisor: it must go on, and fence
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            log.exception("partition lease round failed")
        self.check_fence()

    def check_fence(self) -> None:
        """Let every partition go if no round has renewed the leases for long enough
        that they may expire before the next one could."""
        with self._effects:
            if self._fenced or self.lease_age_ms() < self.fence_after_ms:
                return
            self._fenced = True
            self.fences += 1
            if not self.last_error:
                self.last_error = "partition leases not renewed in time"
            parts = self.ingest.partitions()
            for part in parts:
                log.error("node %s: lease on partition %d not renewed in time; letting it "
                          "go", self.settings.node_id, part)
            self.ingest.close_partitions(parts)  # all at once: the leases expire soon
            for part in parts:
                self.alerts.give_up(part, save=False)  # the store may not answer
            self.leases.held = frozenset()

    def lease_age_ms(self) -> int:
        """How long since the start of the last round that renewed the leases."""
        return self.clock.now_ms() - self._last_renewed_ms

    def degraded(self) -> bool:
        """True while this node cannot keep its leases (the shared store out of reach):
        what it held waits with the broker, and its alerts cannot be raised here."""
        return bool(self.last_error)

    def status(self) -> dict[str, object]:
        """This node's state, and which other live nodes said their alert core lags (as
        of the last round: never a query here, the desk must not wait on the store)."""
        return {"cluster_degraded": self.degraded(), "nodes_degraded": list(self._lagging),
                "partitions_held": sorted(self.leases.held),
                "partitions_open": self.ingest.partitions(),
                "lease_age_s": round(self.lease_age_ms() / SECOND_MS, 3),
                "cluster_error": self.last_error}

    def close(self) -> None:
        """Stop taking messages, write what the partitions' detectors learned, then hand
        every partition over at once."""
        self._stop.set()
        for thread in (self._thread, self._watchdog):
            if thread.is_alive():
                thread.join(10)
        parts = self.ingest.partitions()
        self.ingest.close_partitions(parts)
        for part in parts:
            self.alerts.give_up(part)  # its snapshot written before the next owner reads it
        try:
            self.leases.release_all()
        except StateError as exc:  # they expire by themselves after the ttl
            log.warning("could not hand the partitions over: %s", exc)
        self.db.close()
