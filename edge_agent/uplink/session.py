"""The uplink's session with the central broker: TLS MQTT, QoS 1, a persistent session,
in a thread of its own. What it sends is the ``Sender``'s (``uplink/sender.py``).

The thread owns its paho client and runs its network loop itself (reconnection is a plain
loop here, with ``runtime.backoff``, trying each broker address in turn). It sleeps in one
``select`` on the broker socket and a wake-up socket: a committed reading (``wake_up``), a
PUBACK or a keepalive ends the wait, nothing polls. Birth ``online`` and last will
``offline`` are retained on the gateway's status topic; a clean stop publishes
``offline`` itself.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.outbox import Outbox
from edge_agent.uplink.sender import Sender
from runtime import backoff as retry_policy
from runtime.backoff import Backoff
from runtime.broker import BrokerConnection
from runtime.mqtt import MQTTv311, new_client, release
from telemetry import commands, health, topics
from telemetry.clock import Clock
from telemetry.topics import Channel

log = logging.getLogger(__name__)



class Uplink(threading.Thread):
    def __init__(self, gateway_id: str, site_id: str, broker: BrokerConnection, outbox: Outbox,
                 clock: Clock, *, batch_max: int = 500, batch_window_s: float = 1.0,
                 max_inflight: int = 64, keepalive_s: int = 30,
                 backoff: Backoff | None = None,
                 on_command: Callable[[bytes], commands.Result | None] | None = None) -> None:
        """``on_command``: a command's bytes from the centre, to its answer (sent back on
        the result channel)."""
        super().__init__(name="uplink", daemon=True)
        self.gateway_id = gateway_id
        self.site_id = site_id
        self._broker = broker
        self._addresses = broker.addresses()
        self._address = 0  # the one in use; the next is tried when it fails
        self._outbox = outbox
        self._clock = clock
        self.sender = Sender(gateway_id, site_id, outbox, clock, batch_max=batch_max,
                             batch_window_s=batch_window_s, max_inflight=max_inflight)
        self.max_inflight = max_inflight
        self._keepalive_s = keepalive_s
        self._backoff = backoff or retry_policy.reconnect()
        self._on_command = on_command
        self._stopping = threading.Event()
        # made when the thread starts (and closed when it ends): a wake-up pair
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self.connected = threading.Event()
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        b = self._broker
        client = new_client(client_id=self.gateway_id,
                             clean_session=False, protocol=MQTTv311)
        client.username_pw_set(b.username or self.gateway_id, b.password())
        if b.ca_file:
            client.tls_set(ca_certs=b.ca_file, certfile=b.cert_file, keyfile=b.key_file,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.max_inflight_messages_set(self.max_inflight)
        client.will_set(topics.central(self.gateway_id, Channel.STATUS), health.OFFLINE,
                        qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    # --- callbacks, all on this thread -------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason: ReasonCode, props: object) -> None:
        if reason.is_failure:
            log.warning("central broker refused the connection: %s", reason)
            return
        self._backoff.reset()
        client.publish(topics.central(self.gateway_id, Channel.STATUS), health.ONLINE,
                       qos=1, retain=True)
        if self._on_command is not None:  # the persistent session keeps what came meanwhile
            client.subscribe(topics.command_filter(self.gateway_id), qos=1)
        self.connected.set()
        self.wake_up()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object,
                       reason: ReasonCode, props: object) -> None:
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: object,
                    msg: mqtt.MQTTMessage) -> None:
        if self._on_command is None:
            return
        try:
            result = self._on_command(bytes(msg.payload))
        except Exception:  # a handler's bug must not stop the uplink
            log.exception("command handler failed on %s", msg.topic)
            return
        if result is not None:
            self.sender.side(Channel.RESULT, commands.encode(result))
            self.wake_up()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int,
                    reason: ReasonCode, props: object) -> None:
        if self.sender.acked(mid):
            self.wake_up()

    # --- the loop ----------------------------------------------------------------------

    @property
    def sent_readings(self) -> int:
        return self.sender.sent_readings

    @property
    def acked_readings(self) -> int:
        return self.sender.acked_readings

    def wake_up(self) -> None:
        """Readings were committed (or a message queued): end the thread's wait now if
        the sender needs it (``Sender.urgent_now``)."""
        self.sender.wake.set()
        writer = self._wake_w
        if writer is not None and self.sender.urgent_now():
            with contextlib.suppress(OSError):  # full (a wake-up is pending) or closed
                writer.send(b"\0")

    def _pump(self, timeout_s: float) -> MQTTErrorCode:
        """One round of the network loop (paho's, with the wake-up socket in the select):
        wait up to ``timeout_s`` for the broker or a wake-up, then read, write and keep the
        session alive."""
        client = self._client
        sock = client.socket()
        if sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        # TLS may hold decrypted bytes the socket no longer shows as readable
        pending = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
        waits = [sock] if self._wake_r is None else [sock, self._wake_r]
        try:
            readable, writable, _ = select.select(
                waits, [sock] if client.want_write() else [], [],
                0.0 if pending else timeout_s)
        except (OSError, ValueError, TypeError):  # the socket was closed under us
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if self._wake_r is not None and self._wake_r in readable:
            with contextlib.suppress(OSError):
                self._wake_r.recv(4096)
        if sock in readable or pending:
            rc = client.loop_read()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or client.socket() is None:
                return rc
        if sock in writable:
            rc = client.loop_write()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc
        return client.loop_misc()

    def publish_side(self, channel: Channel, payload: bytes, retain: bool = False) -> None:
        """Queue a small non-reading message (a heartbeat) for the uplink thread to send."""
        self.sender.side(channel, payload, retain)
        self.wake_up()

    def run(self) -> None:
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        try:
            self._run()
        finally:
            reader, writer = self._wake_r, self._wake_w
            self._wake_r = self._wake_w = None
            reader.close()
            writer.close()

    def _run(self) -> None:
        client = self._client
        first = True
        while not self._stopping.is_set():
            if not self.connected.is_set() and not self._connect(client, first):
                first = False
                if self._next_address():  # every address failed once: back off
                    self._stopping.wait(self._backoff.next_delay())
                continue
            first = False
            rc = self._pump(self.sender.wait_s())
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self.connected.clear()
                if self._next_address():
                    self._stopping.wait(self._backoff.next_delay())
                continue
            if self.connected.is_set():
                self.sender.send(self._publish)
        self._shutdown(client)

    def _next_address(self) -> bool:
        """Move on to the next broker address; True when that wraps around to the first
        (a single address always does)."""
        self._address = (self._address + 1) % len(self._addresses)
        return self._address == 0

    def _connect(self, client: mqtt.Client, first: bool) -> bool:
        host, port = self._addresses[self._address]
        try:
            if first or len(self._addresses) > 1:
                # the persistent session (and what is in flight) goes along to the node
                client.connect(host, port, keepalive=self._keepalive_s)
            else:
                client.reconnect()
        except (OSError, ssl.SSLError) as exc:
            log.info("central broker %s:%s unreachable: %s", host, port, exc)
            return False
        # Wait for CONNACK inside the network loop.
        deadline = self._clock.monotonic_s() + 10
        while not self.connected.is_set() and self._clock.monotonic_s() < deadline:
            if self._pump(0.1) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return False
        return self.connected.is_set()

    def _publish(self, topic: str, payload: bytes, retain: bool) -> int:
        mid: int = self._client.publish(topic, payload, qos=1, retain=retain).mid
        return mid

    def stop(self, timeout_s: float = 5.0) -> None:
        """Clean shutdown: publish ``offline``, wait for the acknowledgements, disconnect."""
        self._stopping.set()
        self.wake_up()
        self.join(timeout_s + 5)

    def _shutdown(self, client: mqtt.Client) -> None:
        if self.connected.is_set():
            info = client.publish(topics.central(self.gateway_id, Channel.STATUS),
                                  health.OFFLINE, qos=1, retain=True)
            deadline = self._clock.monotonic_s() + 5
            while not info.is_published() and self._clock.monotonic_s() < deadline:
                if self._pump(0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            client.disconnect()
        release(client)  # (the client is not used again)

