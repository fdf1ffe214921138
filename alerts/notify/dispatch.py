"""The notification dispatcher: takes due notices from the outbox, hands each to its
channel's notifier, and owns retries and backoff (the one place they live).

A notice is marked ``sending`` (committed) before the notifier is called and ``sent`` after.
A process killed between the two leaves it ``sending``; at start those are sent again
(at least once: a duplicate SMS is better than a forgotten one; the window is one HTTP
call). On a node of several, another node sends again what a dead node left ``sending``,
but only once the claim is older than ``CLAIM_STALE_MS``: a node that was only paused
(a stalled VM, SIGSTOP) may still be sending it. A claimant that finds its own claim older
than ``SEND_WINDOW_MS`` when it is about to send puts the notice back instead, so the two
never both send. A failure tells the core, so a family step moves on to the next contact while the
notice keeps trying; a notifier that says retrying cannot help fails the notice.

The alert store may stop answering at any step (a PostgreSQL switch). A notice claimed but
not yet handed over stays in this dispatcher's hands and goes at its next round (or, past
its send window on a node of several, back to the outbox); one handed over whose "sent"
could not be written is recorded at a later round, never sent again. A live node's own
claims are not taken up by ``recover``: dropping them here would leave them unsent.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from alerts.core import AlertCore
from alerts.model import LOCAL_NODE, Notice
from alerts.notify.base import Notifier, NotifyError, classify
from alerts.store import AlertStore, StateError
from runtime import backoff as retry_policy
from runtime.backoff import Backoff
from telemetry.clock import Clock

log = logging.getLogger(__name__)

SEND_WINDOW_MS = 2_000  # a claim is sent within this long of being made, or put back
LONGEST_SEND_MS = 10_000  # the longest a notifier's call takes (its timeout)
# older than this, a claim of a node that is not alive is sent again by another node
CLAIM_STALE_MS = SEND_WINDOW_MS + LONGEST_SEND_MS + 3_000


class Dispatcher:
    def __init__(self, db: AlertStore, core: AlertCore, notifiers: dict[str, Notifier],
                 clock: Clock, backoff: Backoff | None = None,
                 node_id: str = LOCAL_NODE) -> None:
        self.db = db
        self.node_id = node_id
        self._alone = node_id == LOCAL_NODE  # no other node sends from this outbox
        self.core = core
        self.notifiers = notifiers
        self.clock = clock
        self.backoff = backoff or retry_policy.notice()
        self.counts: dict[str, int] = {}
        # one round at a time (the notices thread; a test or the evaluation may also call)
        self._round = threading.RLock()
        self._todo: deque[tuple[int, int]] = deque()  # claimed (id, when), not handed over
        self._unrecorded: list[tuple[int, int, str]] = []  # handed over, "sent" not written

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def recover(self, keep: tuple[str, ...] = (), *, restarted: bool = False) -> int:
        """Notices left ``sending`` by a dead process go out again: at start, and on a
        node of several whenever another node dies. Those claimed by a node in ``keep``
        (the live ones; at start, the others) are theirs to finish. On a node of several a
        claim must also be older than ``CLAIM_STALE_MS``, unless it is this node's own and
        this node has ``restarted``."""
        cutoff = 2**62 if self._alone else self.clock.now_ms() - CLAIM_STALE_MS
        again = self.db.outbox.requeue_sending(keep, cutoff, self.node_id if restarted else None)
        if again:
            log.warning("%d notices were in flight when a process stopped; "
                        "sending them again", again)
        return again

    def run_once(self) -> int:
        """Send every due notice once (first what this dispatcher holds). Returns how many
        were handed over successfully."""
        with self._round:
            sent = self.deliver([], 0)
            for notice in self.db.outbox.due(self.clock.now_ms()):
                sent += self._send(notice)
            return sent

    def deliver(self, notice_ids: list[int], claimed_ms: int) -> int:
        """Send notices this node claimed when it made them (``AlertCore.tick_claiming``):
        one commit fewer between a fall and its first SMS. What the store does not let
        through now (it is away) is kept for the next round."""
        with self._round:
            self._todo.extend((notice_id, claimed_ms) for notice_id in notice_ids)
            self._record_unrecorded()
            sent = 0
            for _ in range(len(self._todo)):  # what fails again goes to the back, for later
                notice_id, claimed = self._todo[0]
                try:
                    notice = self.db.notices.get(notice_id)
                except StateError:
                    self._count("held_store_away")
                    break  # the store is away: the rest goes at the next round
                self._todo.popleft()
                if notice is not None:
                    sent += self._deliver(notice, claimed)
            return sent

    def _record_unrecorded(self) -> None:
        while self._unrecorded:
            notice_id, at_ms, reference = self._unrecorded[0]
            try:
                self.db.outbox.sent(notice_id, at_ms, reference)
            except StateError:
                return
            self._unrecorded.pop(0)

    def held(self) -> int:
        """Notices this dispatcher holds: claimed and not handed over, or handed over with
        "sent" not yet written."""
        return len(self._todo) + len(self._unrecorded)

    def _send(self, notice: Notice) -> int:
        claimed_ms = self.clock.now_ms()
        if not self.db.outbox.claim(notice.notice_id, self.node_id, claimed_ms):
            return 0  # acknowledged (cancelled) meanwhile, or another node has it
        return self._deliver(notice, claimed_ms)

    def _deliver(self, notice: Notice, claimed_ms: int) -> int:
        """Hand a notice this node claimed at ``claimed_ms`` to its notifier."""
        notifier = self.notifiers.get(notice.channel)
        try:
            if notifier is None:
                raise NotifyError(f"no notifier for channel {notice.channel}", retryable=False)
            if not self._alone and self.clock.now_ms() - claimed_ms > SEND_WINDOW_MS:
                # we were paused since the claim: another node may be sending it by now
                self.db.outbox.unclaim(notice.notice_id, self.node_id, claimed_ms)
                self._count("claim_expired")
                log.warning("notice %d: claimed %d ms ago, not sent by this node now",
                            notice.notice_id, self.clock.now_ms() - claimed_ms)
                return 0
            reference = notifier.send(notice)
        except StateError:  # the store, not the notifier: not handed over, try again
            self._todo.append((notice.notice_id, claimed_ms))
            self._count("held_store_away")
            return 0
        except Exception as raw:  # whatever it was, the notice must not stay 'sending'
            exc = classify(raw, notice.channel)
            now = self.clock.now_ms()
            try:
                if exc.retryable:
                    delay_ms = int(self.backoff.delay(notice.attempts) * 1000)
                    self.db.outbox.retry_later(notice.notice_id, now + delay_ms,
                                               str(exc)[:200])
                    self._count(f"retry:{notice.channel}")
                else:
                    self.db.outbox.give_up(notice.notice_id, str(exc)[:200])
                    self._count(f"failed:{notice.channel}")
                self.core.undelivered(notice)
            except StateError:  # not recorded: it is tried again from here
                self._todo.append((notice.notice_id, claimed_ms))
            log.warning("notice %d by %s not delivered (attempt %d): %s", notice.notice_id,
                        notice.channel, notice.attempts + 1, exc)
            return 0
        # A delivery report may have overtaken us: keep its state, add what we know.
        try:
            self.db.outbox.sent(notice.notice_id, self.clock.now_ms(), reference)
        except StateError:  # handed over: recorded later, never sent again
            self._unrecorded.append((notice.notice_id, self.clock.now_ms(), reference))
            self._count("sent_unrecorded")
        self._count(f"sent:{notice.channel}")
        log.info("notice %d of alert %d sent by %s", notice.notice_id, notice.alert_id,
                 notice.channel)  # ids only: the recipient and the text stay out of the log
        return 1
