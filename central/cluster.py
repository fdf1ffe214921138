"""An alert node of several: two threads, one that keeps this node's partition leases and
one that, as they change, hands partitions between the intake and the detector bank.

A gained partition: its detectors are built first, then its two broker sessions opened
(the broker hands over whatever it queued for them while nobody owned it). A lost one:
its sessions are closed first, then its detectors dropped, then its lease released. The
handing thread makes what is open match what the last round held, one partition at a time,
so a step that failed is mended by the next pass. Each round also sends again the notices a
dead node left half-sent.

Renewing never waits for a handover: a takeover of several partitions takes a second or
more each under load, and a lease thread that opened them itself renewed nothing meanwhile,
so its node fenced itself just after taking them over, and a survivor took them again.

Fencing: the leases are timed on the shared store's clock; this node counts, on its own
clock, from the start of the last round that renewed each partition. A round that took
longer than ``fence_after_ms`` (three quarters of the lease) renewed nothing it may trust;
a partition not renewed for that long is let go (its messages no longer taken) before its
lease expires and a survivor takes it. A watchdog thread does this even while a round hangs
(a database that stops answering), and the lease connection's statements are each bounded
by a quarter of the lease.
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
        self._held: frozenset[int] = frozenset()  # what the last good round held
        self._renewed_ms: dict[int, int] = {}  # partition -> start of the last round renewing it
        self._to_release: set[int] = set()  # closed by the handover, released by a round
        self._handed = False  # a handover has run: what it opens later is a takeover
        self._lagging: list[str] = []  # other live nodes whose alert core lags, last round
        self._live: list[str] = []  # the live nodes at the last round
        self.last_error = ""  # why the last round failed ("" while rounds succeed)
        self._effects = threading.Lock()  # opening / closing one partition, or fencing
        self._state = threading.Lock()  # what is held and renewed; taken inside _effects
        self._stop = threading.Event()
        self._changed = threading.Event()  # a round ended: the handing thread looks again
        self._thread = threading.Thread(target=self._run, name="cluster-leases", daemon=True)
        self._hands = threading.Thread(target=self._hand_over, name="cluster-handover",
                                       daemon=True)
        self._watchdog = threading.Thread(target=self._watch, name="cluster-fence",
                                          daemon=True)

    def start(self) -> None:
        """Check the broker's partition count (``PartitionCountError`` if it differs: no
        partition is taken), then take this node's share and keep it: the first round
        here, the partitions opened by the handing thread (it may take seconds)."""
        self.ingest.check_partitions(self.settings.partitions)
        self.tick(hand_over=False)
        self._thread.start()
        self._hands.start()
        self._watchdog.start()

    def round(self) -> None:
        """Renew the leases, then make what is open match what is held, in this thread
        (at start, and in tests; the running node hands over in a thread of its own)."""
        self.renew()
        self.hand_over()

    def renew(self) -> None:
        """One lease round: renew, take and lose leases, and say which nodes live."""
        first = self.rounds == 0
        with self._state:  # closed partitions: the next owner may open them now
            going = frozenset(self._to_release - set(self.ingest.partitions()))
            self._to_release.clear()
            self._held -= going  # not opened again unless a round takes them again
            if going:
                self.leases.release(going)
        started = self.clock.now_ms()
        # a partition we opened but whose sessions are not subscribed yet stays ours
        change = self.leases.round(keep=lambda part: part in self.ingest.partitions()
                                   and not self.ingest.subscribed(part),
                                   degraded=self.ingest.handoff.degraded())
        if self.clock.now_ms() - started >= self.fence_after_ms:
            raise StateError("the lease round took longer than the fence allows")
        with self._state:
            self._last_renewed_ms = started
            self._held = change.held
            self._renewed_ms.update(dict.fromkeys(change.held, started))
        self._changed.set()
        live = self.leases.live_nodes()
        self._lagging = [n for n in self.leases.degraded_nodes() if n != self.settings.node_id]
        # at our first round, what we ourselves left sending before a restart goes again
        keep = tuple(n for n in live if not (first and n == self.settings.node_id))
        again = self.alerts.dispatcher.recover(keep, restarted=first)
        if again or live != self._live:  # a node died or came: its steps may be ours now
            self.alerts.look_again()
        self._live = live
        self.rounds += 1

    def hand_over(self) -> None:
        """Close what is open and not held (the next round releases its lease), then open
        what is held and not open, one partition at a time: the fence may come between."""
        started = self.clock.monotonic_s()
        with self._effects:
            with self._state:
                going = sorted(set(self.ingest.partitions()) - self._held)
            self.ingest.close_partitions(going)  # all at once: their leases run out
            for part in going:
                self.alerts.give_up(part)
            with self._state:
                self._to_release.update(going)
        coming = 0
        while not self._stop.is_set():
            with self._effects:
                with self._state:
                    wanted = sorted(self._held - set(self.ingest.partitions()))
                    if wanted:  # no round releases it now: it is not closed
                        self._to_release.discard(wanted[0])
                if not wanted:
                    break
                self.alerts.take(wanted[0])
                self.ingest.open_partition(wanted[0])
                coming += 1
        if coming and self._handed:
            self.takeovers += 1
        self._handed = True
        took = self.clock.monotonic_s() - started
        if took > self.round_every_s:
            log.warning("node %s: opening and closing partitions took %.2f s",
                        self.settings.node_id, took)

    def _hand_over(self) -> None:
        while not self._stop.is_set():
            self._changed.wait(self.round_every_s)
            self._changed.clear()
            if self._stop.is_set():
                return
            try:
                self.hand_over()
            except Exception:  # the handing thread's supervisor: the next pass mends it
                log.exception("node %s: handing partitions over failed",
                              self.settings.node_id)

    def _run(self) -> None:
        while not self._stop.wait(self.round_every_s):
            self.tick(hand_over=False)

    def _watch(self) -> None:
        while not self._stop.wait(self.round_every_s / 2):
            self.check_fence()

    def tick(self, hand_over: bool = True) -> None:
        """One round of the lease thread (``hand_over``: and the handover, in this
        thread). Whatever stops the leases being renewed (the store out of reach, or a
        bug), before they expire the node lets its partitions go: another node may own
        them by then."""
        try:
            self.renew()
            if hand_over:
                self.hand_over()
            self.last_error = ""
        except StateError as exc:
            self.last_error = f"shared store: {exc}"[:200]
            log.error("cannot renew the partition leases: %s", exc)
        except Exception as exc:  # the lease thread's supervisor: it must go on, and fence
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            log.exception("partition lease round failed")
        if hand_over:  # else the watchdog fences (waiting for a handover step to end)
            self.check_fence()

    def check_fence(self) -> None:
        """Let every open partition go that no round has renewed for long enough that its
        lease may expire before the next round could renew it."""
        with self._effects, self._state:
            now = self.clock.now_ms()
            stale = [part for part in self.ingest.partitions()
                     if now - self._renewed_ms.get(part, now - self.ttl_ms)
                     >= self.fence_after_ms]
            if not stale:
                return
            self.fences += 1
            if now - self._last_renewed_ms >= self.fence_after_ms \
                    and not self.last_error:
                self.last_error = "partition leases not renewed in time"
            for part in stale:
                log.error("node %s: lease on partition %d not renewed in time; letting it "
                          "go", self.settings.node_id, part)
            self._held = self._held - frozenset(stale)
            self.ingest.close_partitions(stale)  # all at once: the leases expire soon
            for part in stale:
                self.alerts.give_up(part, save=False)  # the store may not answer
            self.leases.held = self.leases.held - frozenset(stale)

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
        self._changed.set()
        for thread in (self._thread, self._hands, self._watchdog):
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
