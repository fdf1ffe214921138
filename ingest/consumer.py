"""The central consumer: decode once, validate against the registry, dedup, hand on, store.

Paho clients with persistent sessions at QoS 1 (optionally a shared subscription). Every
message is refused with a reason (dead letter plus a counter) or accepted; accepted readings
go to the registered consumers (the alert core first) at once, before and apart from the
store, and the message is acknowledged only after the store has them.

A process has a ``ProcessRole``: ``ALL`` takes every channel and stores everything. ``ALERTS``
(the alert core's process when store workers run) takes every channel but stores nothing:
it acknowledges once its consumers have a message, and ``STORE`` worker processes, on a
shared subscription of their own, store the urgent and routine readings. The alert core's
process then never waits for, or spends its time on, a bulk write.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from ingest.accept import Acceptor, UnknownDevice
from ingest.deadletter import DeadLetters
from ingest.dedup import Dedup
from ingest.handoff import Consumer, Handoff
from ingest.probe import check_partitions
from ingest.roles import ProcessRole
from ingest.store.base import Store, StoreError
from ingest.store.spool import SpooledStore
from registry import Registry
from runtime import backoff as retry_policy
from runtime.group_commit import GroupWriter
from runtime.mqtt import MQTTv311, new_client, release
from telemetry import topics
from telemetry.clock import Clock
from telemetry.reading import Reading
from telemetry.refusal import Refusal
from telemetry.topics import Channel

log = logging.getLogger(__name__)

StatusConsumer = Callable[[str, str, bool], None]  # gateway_id, site_id, online
DEDUP_WARM_MS = 6 * 3600 * 1000
KEEPALIVE_S = 30
SUBSCRIBE_RETRY_S = 2.0  # after the broker refused a subscription
MAX_QUEUED_READINGS = 50_000  # per lane, waiting for the store: then the broker keeps them
CLOSE_WRITER_S = 10.0  # a closing lane's writer: what it holds stored and acknowledged


def _ignore(seconds: float) -> None:
    pass


def _no_write(readings: list[Reading]) -> int:
    return 0


def _leave_for_next_owner(client: mqtt.Client, userdata: object,
                          msg: mqtt.MQTTMessage) -> None:
    """A message of a partition being handed over: not acknowledged, so the broker gives
    it to the partition's next owner."""


class Ingest:
    def __init__(self, *, host: str, port: int, registry: Registry, store: Store,
                 dead_letters: DeadLetters, clock: Clock, consumers: list[Consumer],
                 client_id: str = "eldercare-ingest", share_group: str | None = None,
                 username: str | None = None, password: str | None = None,
                 on_stored: Callable[[int], None] | None = None,
                 status_consumers: list[StatusConsumer] | None = None,
                 role: ProcessRole = ProcessRole.ALL, partitioned: bool = False,
                 also: list[tuple[str, int]] | None = None,
                 on_unknown_device: UnknownDevice | None = None) -> None:
        # the broker, then the other nodes of a clustered one: a lane that loses its
        # node reconnects to the next
        self._addresses = [(host, port), *(also or [])]
        self._client_id = client_id
        self._credentials = (username, password)
        self._stores = role is not ProcessRole.ALERTS
        self.registry = registry
        self.store = store
        self.dead = dead_letters
        self.clock = clock
        self.handoff = Handoff(consumers)  # retries, until handled, what a consumer failed
        self.consumers = self.handoff.consumers
        self.status_consumers = status_consumers or []
        self._on_stored = on_stored
        self._share = share_group
        self.role = role
        self.dedup = Dedup()
        self.accept = Acceptor(registry, self.dedup, on_unknown_device)
        if role is not ProcessRole.ALERTS:
            # A process that stores warms its memory from the store. One that leaves storing
            # to the workers must not: their keys say what was stored, not what our
            # consumers saw before a crash, and that is what comes back to us.
            self.dedup.warm(store.recent_keys(clock.now_ms() - DEDUP_WARM_MS,
                                              self.dedup.capacity))
        self.counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self.store_failing = False
        # told how long each store write took, in seconds (the metrics set it)
        self.observe_write: Callable[[float], None] = _ignore
        self.ready = threading.Event()
        self._subscribed: set[str] = set()
        # Two sessions: urgent events (and gateway status) never queue behind a backlog of
        # routine readings in the broker, the socket or our thread. A store worker needs
        # no such lane: it only stores, and the alert core's process takes the urgent.
        # Behind a clustered broker (``partitioned``) a process has no lanes of its own:
        # it opens those of each partition it is given (``open_partition``).
        stores = self._stores
        self._partitions: dict[int, list[tuple[mqtt.Client, GroupWriter]]] = {}
        self._lanes: list[tuple[mqtt.Client, GroupWriter]] = [] if partitioned else [
            self._lane(f"{client_id}-store", [Channel.URGENT, Channel.READINGS], username,
                       password, stores=True)] if role is ProcessRole.STORE else [
            self._lane(f"{client_id}-urgent", [Channel.URGENT, Channel.STATUS], username,
                       password, stores=stores),
            self._lane(f"{client_id}-readings", [Channel.READINGS], username, password,
                       stores=stores)]
        if partitioned:
            self.ready.set()  # nothing to subscribe to until a partition is given

    def check_partitions(self, expected: int) -> None:
        """Refuse (``PartitionCountError``) unless the clustered broker splits the gateways
        into ``expected`` partitions, as this node was told."""
        username, password = self._credentials
        check_partitions(self._addresses, expected, username=username, password=password)

    def open_partition(self, part: int) -> None:
        """Take partition ``part``'s messages: its two persistent sessions, named by the
        partition and not by this process, so that they, and what the broker queued for
        them, pass from node to node with the partition's lease."""
        if part in self._partitions:
            return
        username, password = self._credentials
        name = f"{self._client_id}-part-{part}"
        lanes = [self._lane(f"{name}-urgent", [Channel.URGENT, Channel.STATUS], username,
                            password, stores=self._stores, partition=part),
                 self._lane(f"{name}-readings", [Channel.READINGS], username, password,
                            stores=self._stores, partition=part)]
        with self._lock:
            self._partitions[part] = lanes
            self._lanes = self._lanes + lanes
            self.ready.clear()
        self._start_lanes(lanes)

    def close_partition(self, part: int) -> None:
        """Stop taking partition ``part``, promptly (the caller's lease waits on it): what
        arrives from now on is left unacknowledged, queued in the partition's sessions for
        its next owner; what was handled is acknowledged; then the sessions disconnect."""
        self.close_partitions([part])

    def close_partitions(self, parts: list[int]) -> None:
        """``close_partition`` for each of ``parts`` at once: every one stops taking
        messages first, then their writers store and acknowledge what they hold side by
        side (about a second each under load: one after another, a node letting three
        partitions go would still be taking the last one's messages after its lease
        expired)."""
        closing: list[tuple[mqtt.Client, GroupWriter]] = []
        for part in parts:
            # what the alert core has not taken yet goes back to the broker, not the store
            self._forget(self.handoff.abandon(part))
            with self._lock:
                lanes = self._partitions.pop(part, [])
                self._lanes = [lane for lane in self._lanes if lane not in lanes]
                for lane in ("urgent", "readings"):
                    self._subscribed.discard(f"{self._client_id}-part-{part}-{lane}")
                if len(self._subscribed) == len(self._lanes):
                    self.ready.set()
            for client, _ in lanes:
                client.on_message = _leave_for_next_owner
            closing += lanes
        for _, writer in closing:
            writer.stop()  # the network loops still run: its acknowledgements go out
        for client, writer in closing:
            writer.join(CLOSE_WRITER_S)
            client.disconnect()
        for client, _ in closing:
            client.loop_stop()  # quick: each loop ends with its disconnect

    def subscribed(self, part: int) -> bool:
        """Both sessions of partition ``part`` have had their subscription acknowledged
        (since then the broker queues the partition's messages for them, whoever owns
        them)."""
        with self._lock:
            return all(f"{self._client_id}-part-{part}-{lane}" in self._subscribed
                       for lane in ("urgent", "readings"))

    def partitions(self) -> list[int]:
        with self._lock:
            return sorted(self._partitions)

    def _lane(self, client_id: str, channels: list[Channel], username: str | None,
              password: str | None, *, stores: bool,
              partition: int | None = None) -> tuple[mqtt.Client, GroupWriter]:
        client = new_client(client_id=client_id,
                             clean_session=False, protocol=MQTTv311, manual_ack=True)
        if username:
            client.username_pw_set(username, password)
        filters = [(topics.central_filter(c, None if c is Channel.STATUS else self._share,
                                          partition), 1) for c in channels]

        connection = [0]  # counts this lane's connections to the broker

        def on_connect(client: mqtt.Client, userdata: object, flags: object,
                       reason: ReasonCode, props: object) -> None:
            if not reason.is_failure:
                connection[0] += 1  # before any message of this connection
                client.subscribe(filters)

        def on_subscribe(client: mqtt.Client, userdata: object, mid: int,
                         codes: list[ReasonCode], props: object) -> None:
            if any(code.is_failure for code in codes):
                # the broker refused a filter (its ACL, a full session store): nothing is
                # queued for us under it, so we are not subscribed; ask again shortly
                self._count("subscribe_refused")
                log.error("broker refused the subscription of %s (%s); retrying",
                          client_id, ", ".join(str(c) for c in codes))
                retry = threading.Timer(SUBSCRIBE_RETRY_S, _resubscribe, (client,))
                retry.daemon = True
                retry.start()
                return
            with self._lock:
                self._subscribed.add(client_id)
                if len(self._subscribed) == len(self._lanes):
                    self.ready.set()

        def _resubscribe(client: mqtt.Client) -> None:
            if client.is_connected():
                client.subscribe(filters)

        next_address = [0]

        def on_disconnect(client: mqtt.Client, *_: object) -> None:
            if len(self._addresses) > 1:  # paho reconnects, by itself, to the next one
                next_address[0] = (next_address[0] + 1) % len(self._addresses)
                host, port = self._addresses[next_address[0]]
                client.connect_async(host, port, keepalive=KEEPALIVE_S)

        policy = retry_policy.central_reconnect()
        client.reconnect_delay_set(int(policy.initial_s), int(policy.max_s))
        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_disconnect = on_disconnect
        client.on_connect_fail = on_disconnect  # that node is down too: the next one
        # Without the store, the writer only acknowledges, in order, after the consumers.
        writer: GroupWriter = GroupWriter(
            self._timed_write if stores else _no_write, client.ack,
            functools.partial(self._done, "stored" if stores else "handed"), self._failed,
            errors=(StoreError,), max_queued_readings=MAX_QUEUED_READINGS,
            on_unacked=self._forget, connection=lambda: connection[0],
            name=f"store-writer-{channels[0].value}")
        client.on_message = lambda c, u, msg: self._on_message(writer, msg, partition)
        return client, writer

    def _timed_write(self, readings: list[Reading]) -> int:
        began = time.perf_counter()
        try:
            stored = self.store.write(readings)
        finally:
            self.observe_write(time.perf_counter() - began)
        self.store_failing = False
        return stored

    def connected(self) -> bool:
        """Every lane is subscribed, and still connected to the broker."""
        return self.ready.is_set() and all(client.is_connected() for client, _ in self._lanes)

    def start(self) -> None:
        self._start_lanes(self._lanes)

    def _start_lanes(self, lanes: list[tuple[mqtt.Client, GroupWriter]]) -> None:
        host, port = self._addresses[0]
        for client, writer in lanes:
            writer.start()
            client.connect_async(host, port, keepalive=KEEPALIVE_S)
            client.loop_start()

    @staticmethod
    def _close_lanes(lanes: list[tuple[mqtt.Client, GroupWriter]]) -> None:
        for client, writer in lanes:
            client.loop_stop()
            writer.close()
            client.disconnect()
            release(client)

    def close(self) -> None:
        with self._lock:
            lanes, self._lanes = self._lanes, []
            self._partitions.clear()
        self._close_lanes(lanes)
        self.handoff.close()

    def status(self) -> dict[str, object]:
        """What operators and the desk need to know: is the alert core keeping up?"""
        with self._lock:
            status_errors = self.counts["status_consumer_errors"]
        out: dict[str, object] = {
            "alert_core_degraded": self.handoff.degraded(),
            "consumer_errors": self.handoff.errors + status_errors,
            "consumer_backlog": self.handoff.pending(),
            "consumer_dropped": self.handoff.dropped,
            "last_error": self.handoff.last_error}
        if isinstance(self.store, SpooledStore):
            out.update(self.store.status())
        return out

    def counters(self) -> dict[str, int]:
        """A copy of every counter (refusals as ``refused:<reason>``)."""
        with self._lock:
            return dict(self.counts)

    def count(self, key: str) -> int:
        """One counter, read under the lock the lanes write it under."""
        with self._lock:
            return self.counts[key]

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def _refuse(self, topic: str, reason: Refusal, detail: str, raw: bytes) -> None:
        self.dead.add(self.clock.now_ms(), topic, reason, detail, raw)
        self._count(f"refused:{reason}")

    def _forget(self, readings: list[Reading]) -> None:
        """Readings whose messages stay unacknowledged: when the broker sends them again,
        they are new to us."""
        if readings:
            self.accept.forget(readings)

    def _on_message(self, writer: GroupWriter, msg: mqtt.MQTTMessage,
                    partition: int | None) -> None:
        raw = bytes(msg.payload)
        self._count("messages")
        if msg.topic.endswith(Channel.STATUS.value):
            self._status(msg.topic, raw)
            writer.submit([], msg.mid, msg.qos)  # acks stay in arrival order
        else:
            accepted = self._accept(msg.topic, raw)
            # A consumer's failure loses nothing: the readings are handed over again until
            # handled, and until then neither stored nor acknowledged (nor anything after
            # them on this lane); given up with the partition, they stay with the broker.
            gate = self.handoff.hand(accepted, partition) if accepted else None
            writer.submit(accepted, msg.mid, msg.qos, gate=gate)
        self._count("handled")  # decoded, refused or handed on: done with here

    def _status(self, topic: str, raw: bytes) -> None:
        """A gateway's retained birth / last will: handed to the status consumers."""
        status = self.accept.status(topic, raw)
        if status.refused is not None:
            self._refuse(topic, *status.refused, raw)
            return
        gateway = status.gateway
        assert gateway is not None
        for consumer in self.status_consumers:
            try:
                consumer(gateway.gateway_id, gateway.site_id, status.online)
            except Exception:  # a consumer's bug must not stop ingest
                log.exception("status consumer %r failed for gateway %s", consumer,
                              gateway.gateway_id)
                self._count("status_consumer_errors")

    def _accept(self, topic: str, raw: bytes) -> list[Reading]:
        accepted = self.accept.readings(topic, raw, self.clock.now_ms())
        for refused in accepted.refused:
            self._refuse(topic, *refused, raw)
        if accepted.duplicates:
            self._count("duplicates", accepted.duplicates)
        self._count("accepted", len(accepted.readings))
        return accepted.readings

    def _done(self, key: str, n: int) -> None:
        """``n`` readings stored (``key`` "stored"), or handed to the consumers and left to
        the store workers ("handed"); ``on_stored`` hears of both."""
        self._count(key, n)
        if self._on_stored is not None:
            self._on_stored(n)

    def _failed(self, exc: Exception) -> None:
        self.store_failing = True  # until a write succeeds again
        self._count("store_errors")
