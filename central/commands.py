"""The centre's side of the command path (``telemetry.commands``), kept by
``registry.commands.CommandStore``. ``Commander`` is a thread with its own MQTT session: it
sends what is queued (on several nodes, each command by the one node that claims it first), marks
what has gone unanswered past its expiry, and records each gateway's answers. A gateway's
answer only ever touches a command sent to that gateway (the topic it came on names it,
and the broker lets a gateway publish on its own topics only). A command queued while its
gateway is offline waits in the gateway's persistent session at the broker until it
connects; unanswered by its expiry it is marked expired, with the reason, for the desk."""

from __future__ import annotations

import collections
import logging
import ssl
import threading
from collections.abc import Callable

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from alerts.model import Alert, AlertState, Condition
from registry.commands import CommandStore
from runtime.broker import BrokerConnection
from runtime.mqtt import MQTTv311, new_client
from runtime.sql import StateError
from telemetry import commands as wire
from telemetry import topics
from telemetry.clock import Clock
from telemetry.topics import Channel, TopicError

log = logging.getLogger(__name__)

ROUND_S = 0.5  # how often it expires and sends, when nothing wakes it sooner
UNANSWERED_EVERY_S = 5.0  # how often it looks for falls and SOS nobody at the desk took
SOUND_TTL_MS = 10 * 60_000  # a home's siren hours late helps nobody: it expires

# the open falls and SOS nobody at the desk took in time at ``now_ms``: (gateway, what)
Unanswered = Callable[[int], list[tuple[str, wire.Sound]]]
# the residents to ask at home now: (gateway, command id, what to ask, until when)
Asking = Callable[[], list[tuple[str, str, wire.Prompt, int]]]
SOUNDED = (Condition.FALL, Condition.SOS)  # what a home's fallback alarm sounds for


def unanswered_alarms(alerts: list[Alert], now_ms: int,
                      after_ms: int) -> list[tuple[str, wire.Sound]]:
    """Of ``alerts``, the falls and SOS still open, neither taken nor acknowledged at the
    desk, ``after_ms`` after they opened: (their gateway, what to sound for)."""
    return [(a.gateway_id, wire.Sound(a.alert_id, a.condition.value, a.device_id))
            for a in alerts
            if a.condition in SOUNDED and a.state is AlertState.OPEN and a.owner is None
            and now_ms - a.opened_ms >= after_ms]

class Commander(threading.Thread):
    """Sends queued commands and takes the gateways' answers (see the module)."""

    def __init__(self, store: CommandStore, broker: BrokerConnection, clock: Clock,
                 client_id: str, unanswered: Unanswered | None = None,
                 asking: Asking | None = None) -> None:
        """``client_id``: this process's own (a node's, on several), for its session.
        ``unanswered``: the alarms whose home's gateway is to sound its fallback alarm.
        ``asking``: the residents whose home unit is to ask them before a check."""
        super().__init__(name="commander", daemon=True)
        self.store = store
        self.clock = clock
        self._unanswered = unanswered
        self._asking = asking
        self._asked: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._looked_s = float("-inf")
        self.counts: collections.Counter[str] = collections.Counter()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self.connected = threading.Event()
        # a persistent session: answers that come while it reconnects wait for it
        self._client = new_client(client_id=f"{client_id}-commands", clean_session=False,
                                  protocol=MQTTv311)
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password())
        if broker.ca_file:
            self._client.tls_set(ca_certs=broker.ca_file, certfile=broker.cert_file,
                                 keyfile=broker.key_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_: self.connected.clear()
        self._client.on_message = self._on_message
        self._broker = broker

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason: ReasonCode, props: object) -> None:
        if reason.is_failure:
            log.warning("commands: the broker refused the connection: %s", reason)
            return
        # as one broker delivers them, and as a clustered one does (under a partition)
        client.subscribe([(topics.central_filter(Channel.RESULT), 1),
                          (f"{topics.PARTITION_ROOT}/+/{topics.central_filter(Channel.RESULT)}",
                           1)])
        self.connected.set()
        self._wake.set()

    def _on_message(self, client: mqtt.Client, userdata: object,
                    msg: mqtt.MQTTMessage) -> None:
        try:
            gateway_id = topics.parse_central(msg.topic).gateway_id
            result = wire.decode_result(bytes(msg.payload))
            if result.gateway_id != gateway_id:
                raise wire.CommandError(f"an answer on {gateway_id}'s topic names "
                                        f"{result.gateway_id}")
            if self.store.answered(gateway_id, result, self.clock.now_ms()):
                self.counts["answered"] += 1
            else:
                self.counts["answer_unmatched"] += 1
                log.info("commands: %s answered %s, which is not open for it", gateway_id,
                         result.id)
        except (TopicError, wire.CommandError) as exc:
            self.counts["answer_refused"] += 1
            log.warning("commands: an answer refused: %s", exc)
        except StateError as exc:  # the gateway's copy stays with it; it answers a repeat
            self.counts["store_errors"] += 1
            log.error("commands: an answer not recorded: %s", exc)

    def wake(self) -> None:
        """Something was queued: send it now rather than at the next round."""
        self._wake.set()

    def sound_unanswered(self) -> int:
        """Tell the gateway of each fall or SOS nobody at the desk took in time to sound
        its fallback alarm: once per alarm, whichever node sees it first. How many."""
        if self._unanswered is None:
            return 0
        now = self.clock.now_ms()
        queued = 0
        for gateway_id, sound in self._unanswered(now):
            if self.store.queue(gateway_id, wire.SOUND, msgspec.to_builtins(sound), now,
                                ttl_ms=SOUND_TTL_MS, command_id=f"sound-{sound.alert_id}"):
                queued += 1
                log.warning("commands: alert %d not taken at the desk: %s told to sound",
                            sound.alert_id, gateway_id)
        self.counts["sound"] += queued
        return queued

    def ask(self) -> int:
        """Queue the question for each resident held back from the desk while asked:
        once per held check (its id names the resident and when), whichever node first.
        It expires when the centre stops waiting for the answer. How many."""
        if self._asking is None:
            return 0
        now = self.clock.now_ms()
        queued = 0
        for gateway_id, command_id, prompt, until_ms in self._asking():
            if command_id in self._asked:
                continue
            self._asked[command_id] = None
            while len(self._asked) > 10_000:
                self._asked.popitem(last=False)
            if until_ms > now and self.store.queue(gateway_id, wire.PROMPT,
                                                   msgspec.to_builtins(prompt), now,
                                                   ttl_ms=until_ms - now,
                                                   command_id=command_id):
                queued += 1
        self.counts["prompt"] += queued
        return queued

    def round(self) -> None:
        """Expire what went unanswered; send what is queued (while connected)."""
        if self.clock.monotonic_s() - self._looked_s >= UNANSWERED_EVERY_S:
            self._looked_s = self.clock.monotonic_s()
            self.sound_unanswered()
        self.ask()
        now = self.clock.now_ms()
        expired = self.store.expire(now)
        if expired:
            self.counts["expired"] += expired
            log.warning("commands: %d expired unanswered", expired)
        if not self.connected.is_set():
            return
        for gateway_id, command in self.store.claim_queued():
            info = self._client.publish(topics.command(gateway_id, command.name),
                                        wire.encode(command), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self.store.unsend(command.id)
                return
            self.counts["sent"] += 1

    def run(self) -> None:
        host, port = self._broker.addresses()[0]
        self._client.connect_async(host, port, keepalive=30)
        self._client.loop_start()
        while not self._stopping.is_set():
            try:
                self.round()
            except StateError as exc:
                self.counts["store_errors"] += 1
                log.error("commands: round failed (tried again): %s", exc)
            self._wake.wait(ROUND_S)
            self._wake.clear()
        self._client.disconnect()
        self._client.loop_stop()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self.is_alive():
            self.join(5)
