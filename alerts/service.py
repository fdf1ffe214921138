"""The alert core as a running service: the detector bank on the decoded stream, the
pipeline, a timer thread for escalation and the outbox, and the SMS callback server.

``consume`` is an ingest consumer: it runs in ingest's thread, before the store write, so
a fall becomes an alert (committed, and pushed to listeners) before its reading is stored.

A detector moves on when it emits a signal (an SpO2 episode is open from then on), so a
signal the store could not record at that moment is kept here and recorded, before any
newer one, at the next call or timer round; a batch of readings whose signals are kept
is not observed again when ingest hands it over again (and until its signals are recorded
ingest does not acknowledge it).
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from alerts import policy as policy_module
from alerts.core import AlertCore
from alerts.detectors.bank import DetectorBank
from alerts.detectors.health import HEALTH_CONDITIONS
from alerts.detectors.partition_bank import PartitionBank
from alerts.model import LOCAL_NODE, PROFILES, Alert, AlertChange, Listener, Severity, Signal
from alerts.notify.base import Notifier
from alerts.notify.callbacks import CallbackServer
from alerts.notify.console import ConsoleNotifier
from alerts.notify.dispatch import Dispatcher
from alerts.notify.email import EmailNotifier
from alerts.notify.kannel import KannelNotifier
from alerts.notify.webhook import WebhookNotifier
from alerts.policy import NoticeChannel
from alerts.settings import AlertSettings, ClusterSettings, SettingsError
from alerts.store import AlertStore
from registry import Registry
from telemetry.clock import Clock
from telemetry.reading import Reading
from telemetry.topics import partition_of

log = logging.getLogger(__name__)

TICK_S = 0.2
SWITCH_INTERVAL_S = 0.001
MAX_KEPT_SIGNALS = 100_000  # past this, the oldest that ends a condition goes first


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
        self._lock = threading.Lock()
        self._kept: list[Signal] = []  # raised, not yet recorded (the store failed)
        self._observed: dict[int, list[Reading]] = {}  # batches whose signals are kept
        self._given_up: set[int] = set()  # partitions dropped since the last consume
        self.kept_dropped = 0
        self._wake = threading.Event()
        self._rounds = threading.Condition()
        self._rounds_begun = 0
        self._rounds_done = 0
        self.bank: DetectorBank | PartitionBank = DetectorBank(
            registry, clock.now_ms(), confirm_fall_s=settings.confirm_fall_s,
            bed_return_s=settings.bed_return_s) if cluster is None else PartitionBank(
            registry, cluster.partitions, confirm_fall_s=settings.confirm_fall_s,
            bed_return_s=settings.bed_return_s)
        if isinstance(self.bank, DetectorBank):  # after a restart: what the store says
            self.bank.health.restore(self._open_health())
        self.core = AlertCore(self.db, registry, policies, clock,
                              [*(listeners or []), self._on_change],
                              gateways=self.bank.health)
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
        self._model_due = threading.Event()
        self._model_thread = threading.Thread(target=self._run_model, name="alert-model",
                                              daemon=True)

    def _on_change(self, change: AlertChange) -> None:
        self._wake.set()  # a new alert may have a step due now

    def consume(self, readings: list[Reading]) -> None:
        with self._lock:
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
        with self._lock:
            return len(self._kept)

    def _open_health(self) -> list[Alert]:
        """The open device-health alerts: gateways offline, devices silent, ..."""
        return self.db.alerts.find(open_only=True, conditions=HEALTH_CONDITIONS, limit=10**9)

    def take(self, part: int) -> None:
        """Watch the residents of partition ``part`` (before its readings flow), with
        the device health the store has of it (whichever node marked it). Without the
        service's lock: the lease thread must not wait behind a backlog of readings
        (one dictionary entry is put in place at once)."""
        if isinstance(self.bank, PartitionBank):
            self.bank.add(part, self.clock.now_ms(), self._open_health())

    def give_up(self, part: int) -> None:
        """Stop watching partition ``part`` (after its readings stopped); without the
        lock, as ``take``. Its readings go back to the broker: what was observed of
        them is forgotten at the next ``consume``."""
        if isinstance(self.bank, PartitionBank):
            self.bank.drop(part)
            self._given_up.add(part)

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
        with self._lock:
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
        self._model_thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._model_due.set()
        self._thread.join(timeout=10)
        self._model_thread.join(timeout=30)
        self.callbacks.close()
        self.db.close()

    def run_once(self) -> None:
        """One round of timers. Escalation steps and the outbox go first (a new fall's
        notice never waits for the detectors' sweep), then the detectors' timers, the slow
        sweep in chunks with the lock released in between (an urgent reading can always
        get in), then escalation again for what the timers raised."""
        self.core.tick()
        self.dispatcher.run_once()
        now = self.clock.now_ms()
        with self._lock:
            self._record(self.bank.fast_tick(now))
        sweep = self.bank.slow_tick(now)
        while True:
            with self._lock:
                chunk = next(sweep, None)
                if chunk is None:
                    break
                self._record(chunk)
        self._model_due.set()  # the model's batch: its own thread, without the lock
        self.core.tick()
        self.dispatcher.run_once()

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
                    with self._lock:
                        self._record(unusual)
            except Exception:  # keep the model thread alive; the cause is in the log
                log.exception("multivariate scoring failed")

    def tick_now(self, timeout_s: float = 60.0) -> bool:
        """Wake the timer thread and wait until a round begun after this call is done
        (False if none finished in time). For a caller that drives the clock itself, such
        as the soak: the rounds stay on the one thread that runs them in production."""
        with self._rounds:
            wanted = self._rounds_begun + 1
            self._wake.set()
            return self._rounds.wait_for(lambda: self._rounds_done >= wanted
                                         or self._stop.is_set(), timeout_s) \
                and self._rounds_done >= wanted

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._rounds:
                self._rounds_begun += 1
                this = self._rounds_begun
            try:
                self.run_once()
            except Exception:  # keep the timers alive; the cause is in the log
                log.exception("alert timer round failed")
            with self._rounds:
                self._rounds_done = this
                self._rounds.notify_all()
            self._wake.wait(TICK_S)
        with self._rounds:
            self._rounds.notify_all()
