"""The alert core as a running service: the detector bank on the decoded stream, the
pipeline, and three threads of its own beside the SMS callback server: ``alert-timers``
(the detectors' timers, in memory, every ``TICK_S``), ``alert-notices`` (escalation
steps and the outbox: it sleeps until the store's earliest due time, or until an alert
changes, a delivery fails or another node's work may have come its way) and
``alert-model`` (the multivariate model's fitting and scoring).

What the detectors learned is written to the store in small chunks every
``learned_every_s`` (by the timers thread, one chunk a round), at a clean stop and when a
partition is let go; it is taken back at start and when a partition is taken over, before
its first reading (``learned_counts``: what was restored, refused, written).

``consume`` is an ingest consumer: it runs in ingest's thread, before the store write, so
a fall becomes an alert (committed, and pushed to listeners) before its reading is stored.

A detector moves on when it emits a signal (an SpO2 episode is open from then on), so a
signal the store could not record at that moment is kept here and recorded, before any
newer one, at the next call or timer round; a batch of readings whose signals are kept
is not observed again when ingest hands it over again (and until its signals are recorded
ingest does not acknowledge it).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from alerts import policy as policy_module
from alerts.core import AlertCore
from alerts.detectors.bank import SLOW_CHUNK, DetectorBank
from alerts.detectors.health import HEALTH_CONDITIONS
from alerts.detectors.partition_bank import PartitionBank
from alerts.duty import DutySweep
from alerts.model import (
    LOCAL_NODE,
    PROFILES,
    Alert,
    AlertChange,
    Listener,
    Severity,
    Signal,
    Snapshot,
)
from alerts.notify.base import Notifier
from alerts.notify.callbacks import CallbackServer
from alerts.notify.console import ConsoleNotifier
from alerts.notify.dispatch import Dispatcher
from alerts.notify.email import EmailNotifier
from alerts.notify.kannel import KannelNotifier
from alerts.notify.webhook import WebhookNotifier
from alerts.policy import NoticeChannel
from alerts.rounds import RoundSweep
from alerts.settings import AlertSettings, ClusterSettings, SettingsError
from alerts.store import AlertStore, StateError
from alerts.visits import VisitSweep
from registry import Registry
from runtime.priority_lock import PriorityLock
from telemetry.clock import Clock
from telemetry.kinds import is_urgent
from telemetry.reading import Reading
from telemetry.topics import partition_of

log = logging.getLogger(__name__)

TICK_S = 0.2  # the detectors' timers (unconfirmed falls are confirmed within a second)
NOTHING_DUE_S = 3600.0  # the notices thread's longest sleep (it is woken for any change)
# On a node of several, the other nodes' steps are woken for by their announcements; this
# bounds the wait should one go unheard (a node that died right after adding a step).
CLUSTER_LOOK_S = 1.0
SWITCH_INTERVAL_S = 0.001
MAX_KEPT_SIGNALS = 100_000  # past this, the oldest that ends a condition goes first
LEARNED_CHUNK = 50  # residents' snapshots written per timers round (one small commit)


class AlertService:
    def __init__(self, settings: AlertSettings, registry: Registry, clock: Clock,
                 data_dir: Path, listeners: list[Listener] | None = None,
                 cluster: ClusterSettings | None = None) -> None:
        self.clock = clock
        self.settings = settings
        policies = policy_module.load(Path(settings.policy))
        if settings.kannel is None and settings.sms != "console" \
                and NoticeChannel.SMS in policies.channels():
            raise SettingsError("the escalation policy sends SMS but [alerts.kannel] is not "
                                "configured (set sms = \"console\" to print them, demo only)")
        # One node: everything in its SQLite file, every resident watched from the start.
        # A node of several: the shared PostgreSQL store, and only the residents of the
        # partitions it holds (``take`` / ``give_up``, told by the leases).
        self.cluster = cluster
        self.db = AlertStore(data_dir / "alerts.db" if cluster is None else cluster.state)
        self._lock = PriorityLock()  # a fall's batch waits for one routine holder at most
        self._kept: list[Signal] = []  # raised, not yet recorded (the store failed)
        self._observed: dict[int, list[Reading]] = {}  # batches whose signals are kept
        self._given_up: set[int] = set()  # partitions dropped since the last consume
        self.kept_dropped = 0
        self._wake = threading.Event()  # the timers thread: a round now
        self._timer_rounds = _Rounds()
        self._due = threading.Event()  # the notices thread: the store changed, look now
        self._notice_rounds = _Rounds()
        self.store_looks = 0  # rounds of the notices thread that queried the store
        cfg = settings
        self.bank: DetectorBank | PartitionBank = DetectorBank(
            registry, clock.now_ms(), confirm_fall_s=cfg.confirm_fall_s,
            bed_return_s=cfg.bed_return_s, sos_cancel_s=cfg.sos_cancel_s,
            prompt_s=cfg.prompt_answer_s, no_vitals_s=cfg.no_vital_signs_s
        ) if cluster is None else PartitionBank(
            registry, cluster.partitions, confirm_fall_s=cfg.confirm_fall_s,
            bed_return_s=cfg.bed_return_s, sos_cancel_s=cfg.sos_cancel_s,
            prompt_s=cfg.prompt_answer_s, no_vitals_s=cfg.no_vital_signs_s)
        # (outcome, detector) -> snapshots: restored, refused (version, corrupt, unknown),
        # written, write_failed, read_failed (the detector "" when it is every one)
        self.learned_counts: dict[tuple[str, str], int] = {}
        self._counts_lock = threading.Lock()  # the lease, timers and stopping threads count
        self._learned_every_ms = int(settings.learned_every_s * 1000)
        self._next_learned_ms = clock.now_ms() + self._learned_every_ms
        self._saving: Iterator[list[Snapshot]] | None = None  # a periodic write under way
        if isinstance(self.bank, DetectorBank):  # after a restart: what the store says
            self.bank.health.restore(self._open_health())
            self._restore(self.bank)
        self.visits = VisitSweep(settings.visit_grace_days)
        self.rounds = RoundSweep()
        self.duty = DutySweep()
        self._claimed: list[tuple[list[int], int]] = []  # made at once, not yet sent
        self._claimed_lock = threading.Lock()
        self.core = AlertCore(self.db, registry, policies, clock,
                              [*(listeners or []), self._on_change],
                              gateways=self.bank.health, on_due=self.look_again,
                              claim_for=cluster.node_id if cluster else LOCAL_NODE,
                              on_claimed=self._on_claimed)
        token = settings.reply_token()
        self.callbacks = CallbackServer(self.core, token=token, host=settings.callback_host,
                                        port=settings.callback_port)
        notifiers: dict[str, Notifier] = {NoticeChannel.CONSOLE: ConsoleNotifier()}
        if settings.kannel is not None:
            k = settings.kannel
            notifiers[NoticeChannel.SMS] = KannelNotifier(
                k.sendsms_url, k.username, k.password(), sender=k.sender,
                callback_base=settings.callback_url or self.callbacks.base_url,
                callback_token=token)
        elif settings.sms == "console":
            notifiers[NoticeChannel.SMS] = ConsoleNotifier()
        if settings.webhook_secret_file is not None:
            notifiers[NoticeChannel.WEBHOOK] = WebhookNotifier(settings.webhook_secret())
        if settings.smtp is not None:
            s = settings.smtp
            notifiers[NoticeChannel.EMAIL] = EmailNotifier(s.host, s.port, s.sender,
                                                     starttls=s.starttls)
        self.dispatcher = Dispatcher(self.db, self.core, notifiers, clock,
                                     node_id=cluster.node_id if cluster else LOCAL_NODE)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-timers", daemon=True)
        self._notices = threading.Thread(target=self._run_notices, name="alert-notices",
                                         daemon=True)
        self._model_due = threading.Event()
        self._model_thread = threading.Thread(target=self._run_model, name="alert-model",
                                              daemon=True)

    def _on_claimed(self, notice_ids: list[int], claimed_ms: int) -> None:
        """Notices an alert's own commit made and claimed (a fall's first SMS): the
        notices thread sends them first thing."""
        with self._claimed_lock:
            self._claimed.append((notice_ids, claimed_ms))
        self._due.set()

    def _on_change(self, change: AlertChange) -> None:
        self._due.set()  # a new alert may have a step due now

    def registry_changed(self) -> tuple[int, int, int]:
        """The registry changed in place (``registry.db.RegistryFollower``): the detectors
        watch it as it is now, without a restart (``DetectorBank.enrol``). Residents
        (added, rewatched, dropped)."""
        with self._lock.hold(False):
            counts = self.bank.enrol(self.core.registry, self.clock.now_ms())
        if any(counts):
            log.info("registry changed: %d residents watched anew, %d rewatched, %d dropped",
                     *counts)
        return counts

    def asking(self) -> list[tuple[str, str, int]]:
        """The residents the home unit is to ask before a check reaches the desk:
        (resident, gateway, since when)."""
        with self._lock.hold(False):
            return self.bank.asking()

    def look_again(self) -> None:
        """Something may be due in the store that the notices thread does not know of (a
        delivery failed, another node died or raised an alert, a partition was taken)."""
        self._due.set()

    def consume(self, readings: list[Reading]) -> None:
        urgent = any(is_urgent(r.kind, r.value) for r in readings)
        with self._lock.hold(urgent):
            self._forget_given_up()
            if id(readings) in self._observed:  # handed over again: its signals are kept
                self._record([])
                del self._observed[id(readings)]
                return
            signals = self.bank.observe(readings)
            try:
                self._record(signals)
            except Exception:
                self._observed[id(readings)] = readings
                raise

    def _record(self, signals: list[Signal]) -> None:
        """Record the kept signals, then ``signals``, in order; whatever the store fails on
        is kept for the next call (and the error raised). Call with the lock held."""
        todo = self._kept + signals if self._kept else signals
        for i, signal in enumerate(todo):
            try:
                self.core.handle([signal])
            except Exception:
                self._kept = self._bounded(todo[i:])
                raise
        self._kept = []

    def _bounded(self, kept: list[Signal]) -> list[Signal]:
        """At most ``MAX_KEPT_SIGNALS``: the oldest of the least severe go first (a
        condition ending before one raised); a critical one (a fall, SOS) never."""
        over = len(kept) - MAX_KEPT_SIGNALS
        if over <= 0:
            return kept
        order = sorted((i for i, s in enumerate(kept)
                        if PROFILES[s.condition].severity < Severity.CRITICAL or not s.active),
                       key=lambda i: (kept[i].active, PROFILES[kept[i].condition].severity, i))
        gone = set(order[:over])
        self.kept_dropped += len(gone)
        log.error("alert store away: %d kept signals given up", len(gone))
        return [s for i, s in enumerate(kept) if i not in gone]

    def kept(self) -> int:
        """Signals raised and not yet recorded (the store failed on them)."""
        with self._lock.hold():
            return len(self._kept)

    def _open_health(self, store: AlertStore | None = None) -> list[Alert]:
        """The open device-health alerts: gateways offline, devices silent, ..."""
        return (store or self.db).alerts.find(open_only=True, conditions=HEALTH_CONDITIONS,
                                              limit=10**9)

    def take(self, part: int) -> None:
        """Watch the residents of partition ``part`` (before its readings flow), with
        the device health the store has of it (whichever node marked it) and what its
        detectors had learned. Without the service's lock: the lease thread must not
        wait behind a backlog of readings (one dictionary entry is put in place at
        once, the bank built and restored beforehand)."""
        if isinstance(self.bank, PartitionBank):
            assert self.cluster is not None
            started = time.monotonic()
            # Read on a connection of its own: after an outage of the store every node
            # takes all its partitions in one lease round, while its intake's transactions
            # keep the shared connection busy with the backlog.
            with AlertStore(self.cluster.state) as reader:
                self.bank.add(part, self.clock.now_ms(), self._open_health(reader),
                              functools.partial(self._restore, store=reader))
            log.info("partition %d taken up in %.2f s", part, time.monotonic() - started)
        self.look_again()

    def give_up(self, part: int, save: bool = True) -> None:
        """Stop watching partition ``part`` (after its readings stopped), and, with
        ``save``, write what its detectors learned for the next owner (not when the store
        is out of reach: the periodic snapshot stands). The lease thread must not wait
        behind a backlog of readings: the lock is taken only a chunk at a time. Its
        readings go back to the broker: what was observed of them is forgotten at the
        next ``consume``."""
        if isinstance(self.bank, PartitionBank):
            bank = self.bank.drop(part)
            self._given_up.add(part)
            if bank is not None and save:
                self._save(bank.learned(self.clock.now_ms(), SLOW_CHUNK))

    # --- what the detectors learned ------------------------------------------------------

    def _count(self, outcome: str, n: int = 1, detector: str = "") -> None:
        key = (outcome, detector)
        with self._counts_lock:
            self.learned_counts[key] = self.learned_counts.get(key, 0) + n

    def learned(self, outcome: str, detector: str | None = None) -> int:
        """Snapshots with ``outcome`` so far (of ``detector``, or of every one)."""
        return sum(n for (o, d), n in list(self.learned_counts.items())
                   if o == outcome and detector in (None, d))

    def _restore(self, bank: DetectorBank, store: AlertStore | None = None) -> None:
        """Take back what ``bank``'s detectors had learned (before its first reading),
        read from ``store`` (default the service's); with the store away, they learn
        afresh."""
        source = store or self.db
        pages = source.learned.pages(None if self.cluster is None else bank.subjects())
        try:
            for rows in pages:
                for (outcome, detector), n in bank.restore(rows).items():
                    self._count(outcome, n, detector)
        except StateError:  # the store away: learning afresh is the safe way on
            log.exception("learned state not read (in full); the rest learn afresh")
            self._count("read_failed")

    def _save(self, chunks: Iterator[list[Snapshot]]) -> None:
        """Write every chunk (each taken under the lock, written outside it)."""
        while True:
            with self._lock.hold():
                rows = next(chunks, None)
            if rows is None:
                return
            self._write(rows)

    def _write(self, rows: list[Snapshot]) -> None:
        try:
            with self.db.transaction() as db:
                kept = db.learned.put(rows)
            self._count("written", kept)
        except StateError:  # the store away: the next round writes them again
            log.exception("learned state of %d subjects not written", len(rows))
            self._count("write_failed", len(rows))

    def save_round(self, now_ms: int) -> None:
        """One chunk of the periodic snapshot, if one is under way or due."""
        if self._saving is None:
            if now_ms < self._next_learned_ms:
                return
            self._next_learned_ms = now_ms + self._learned_every_ms
            self._saving = self.bank.learned(now_ms, LEARNED_CHUNK)
        with self._lock.hold():
            rows = next(self._saving, None)
        if rows is None:
            self._saving = None
        else:
            self._write(rows)

    def save_learned(self) -> None:
        """Write everything the detectors learned now (a clean stop)."""
        self._saving = None
        self._save(self.bank.learned(self.clock.now_ms(), SLOW_CHUNK))

    def _forget_given_up(self) -> None:
        """With the lock held: batches of partitions given up are not retried here."""
        if self._given_up and self._observed:
            parts, self._given_up = self._given_up, set()
            self._observed = {k: batch for k, batch in self._observed.items()
                              if not any(self._part_of(r) in parts for r in batch)}

    def _part_of(self, reading: Reading) -> int:
        assert isinstance(self.bank, PartitionBank)
        return partition_of(reading.gateway_id, self.bank.partitions)

    def gateway_status(self, gateway_id: str, site_id: str, online: bool) -> None:
        with self._lock.hold():
            self._record(self.bank.gateway_status(gateway_id, site_id, online,
                                                  self.clock.now_ms()))

    def start(self) -> None:
        # CPU-bound ingest threads hold the GIL for up to the switch interval (5 ms by
        # default) at a time; a shorter one lets an urgent reading through sooner.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        if self.cluster is None:  # a node of several recovers once it knows who is alive
            self.dispatcher.recover()
        self.callbacks.start()
        self._thread.start()
        self._notices.start()
        self._model_thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._due.set()
        self._model_due.set()
        self._thread.join(timeout=10)
        self._notices.join(timeout=15)
        self._model_thread.join(timeout=30)
        self.callbacks.close()
        self.save_learned()
        self.db.close()

    def run_once(self) -> None:
        """One round of everything, on the caller's thread (tests, the evaluation): the
        escalation steps and the outbox, then the detectors' timers, then the steps and
        the outbox again for what the timers raised."""
        self.notices_round()
        self.timers_round()
        self.notices_round()

    def notices_round(self) -> int | None:
        """The notices alerts made as they opened, then due escalation steps into notices,
        each sent at once (claimed when made: no commit of its own before a fall's first
        SMS), then every other due notice; when the next step or notice is due."""
        with self._claimed_lock:
            claimed, self._claimed = self._claimed, []
        for notice_ids, at_ms in claimed:
            self.dispatcher.deliver(notice_ids, at_ms)
        claimed_ms = self.clock.now_ms()
        self.dispatcher.deliver(self.core.tick_claiming(self.dispatcher.node_id, claimed_ms),
                                claimed_ms)
        self.dispatcher.run_once()
        self.store_looks += 1
        due = self.core.next_due_ms()
        if self.dispatcher.held():  # claimed while the store was away: again soon
            soon = self.clock.now_ms() + int(TICK_S * 1000)
            due = soon if due is None else min(due, soon)
        return due

    def timers_round(self) -> None:
        """The detectors' timers: the fast ones, then the slow sweep in chunks with the
        lock released in between (an urgent reading can always get in). What they raise
        wakes the notices thread, which never waits for the sweep."""
        now = self.clock.now_ms()
        with self._lock.hold():
            self._record(self.bank.fast_tick(now))
        sweep = self.bank.slow_tick(now)
        while True:
            with self._lock.hold():
                chunk = next(sweep, None)
                if chunk is None:
                    break
                self._record(chunk)
        self._model_due.set()  # the model's batch: its own thread, without the lock
        self.save_round(now)
        with self._lock.hold():
            watched = self.bank.watched()
        # scheduled care (store reads once a minute) outside the lock: a fall never waits
        care = [s for sweep in (self.visits, self.rounds, self.duty)
                for s in sweep.sweep(self.core.registry, self.db, watched, now)]
        if care:
            with self._lock.hold():
                self._record(care)

    def _run_model(self) -> None:
        """Fit and score the multivariate model (tens to hundreds of ms at 10,000
        residents) where neither the readings nor the escalation timers wait for it."""
        while not self._stop.is_set():
            self._model_due.wait()
            self._model_due.clear()
            if self._stop.is_set():
                return
            try:
                unusual = self.bank.unlocked(self.clock.now_ms())
                if unusual:
                    with self._lock.hold():
                        self._record(unusual)
            except Exception:  # keep the model thread alive; the cause is in the log
                log.exception("multivariate scoring failed")

    def tick_now(self, timeout_s: float = 60.0) -> bool:
        """Wake the timer thread, wait until a round of it begun after this call is done,
        then a round of the notices thread begun after that (False if they did not finish
        in time). For a caller that drives the clock itself, such as the soak: the rounds
        stay on the threads that run them in production."""
        deadline = self.clock.monotonic_s() + timeout_s
        if not self._timer_rounds.wait_next(self._wake, timeout_s, self._stop):
            return False
        left = max(0.0, deadline - self.clock.monotonic_s())
        return self._notice_rounds.wait_next(self._due, left, self._stop)

    def timer_rounds(self) -> int:
        """Rounds of the timers thread finished so far."""
        return self._timer_rounds.done

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._timer_rounds.round():
                try:
                    self.timers_round()
                except Exception:  # keep the timers alive; the cause is in the log
                    log.exception("alert timer round failed")
            self._wake.wait(TICK_S)
        self._timer_rounds.stopped()

    def _run_notices(self) -> None:
        """Sleep until the earliest due step or notice in the store, or until woken: no
        query while nothing is due and nothing changed."""
        due_ms: int | None = None
        while not self._stop.is_set():
            self._due.clear()  # before the queries: a change during them wakes us again
            with self._notice_rounds.round():
                try:
                    due_ms = self.notices_round()
                except Exception:  # keep the thread alive; look again soon
                    log.exception("alert notices round failed")
                    due_ms = self.clock.now_ms() + int(TICK_S * 1000)
            wait_s = NOTHING_DUE_S if due_ms is None else \
                max(0.0, (due_ms - self.clock.now_ms()) / 1000)
            longest = NOTHING_DUE_S if self.cluster is None else CLUSTER_LOOK_S
            self._due.wait(_real_seconds(self.clock, min(wait_s, longest)))
        self._notice_rounds.stopped()


def _real_seconds(clock: Clock, simulated_s: float) -> float:
    """Real seconds to wait for ``simulated_s`` of ``clock`` to pass (a scaled clock runs
    faster; a clock driven by hand is woken by whoever moves it)."""
    speed = getattr(clock, "speed", 1.0)
    return simulated_s / speed if isinstance(speed, int | float) and speed > 0 \
        else simulated_s


class _Rounds:
    """Counts a thread's rounds, so a caller can wait for one begun after it asked."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._begun = 0
        self._done = 0
        self._stopped = False

    @contextlib.contextmanager
    def round(self) -> Iterator[None]:
        with self._cond:
            self._begun += 1
            this = self._begun
        try:
            yield
        finally:
            with self._cond:
                self._done = this
                self._cond.notify_all()

    @property
    def done(self) -> int:
        with self._cond:
            return self._done

    def stopped(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def wait_next(self, wake: threading.Event, timeout_s: float,
                  stop: threading.Event) -> bool:
        with self._cond:
            wanted = self._begun + 1
            wake.set()
            return self._cond.wait_for(lambda: self._done >= wanted or self._stopped
                                       or stop.is_set(), timeout_s) \
                and self._done >= wanted
