"""The simulator's MQTT connection: publish many messages with bounded messages in flight."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from firmware_stubs.dialects import Message
from runtime.mqtt import MQTTv311, new_client
from telemetry.errors import EldercareError


class PublishError(EldercareError):
    """The broker could not be reached or refused us."""


def parse_broker_url(url: str) -> tuple[str, int]:
    """``mqtt://host:port`` -> (host, port)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ValueError(f"broker URL must look like mqtt://HOST:PORT, not {url!r}")
    return parts.hostname, parts.port or 1883


class Publisher:
    """A paho client on its own network thread; ``publish`` blocks while too many are unacked."""

    def __init__(self, url: str, client_id: str, *, qos: int = 1, max_inflight: int = 2000,
                 connect_timeout_s: float = 10.0) -> None:
        host, port = parse_broker_url(url)
        self.qos = qos
        self._max = max_inflight
        self._cond = threading.Condition()
        self._outstanding = 0
        self._connected = threading.Event()
        self._failure: str | None = None
        self.messages = 0
        self.bytes = 0
        client = new_client(client_id=client_id,
                             protocol=MQTTv311)
        client.max_inflight_messages_set(max_inflight)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        self._client = client
        try:
            client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise PublishError(f"cannot connect to {url}: {exc}") from exc
        client.loop_start()
        if not self._connected.wait(connect_timeout_s) or self._failure:
            client.loop_stop()
            raise PublishError(f"broker {url} did not accept us: {self._failure or 'timeout'}")

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason: ReasonCode, props: object) -> None:
        if reason.is_failure:
            self._failure = str(reason)
        self._connected.set()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int,
                    reason: ReasonCode, props: object) -> None:
        if not self.qos:
            return
        with self._cond:
            self._outstanding -= 1
            if self._outstanding <= self._max // 2:
                self._cond.notify_all()

    def publish(self, messages: Iterable[Message]) -> None:
        client, qos = self._client, self.qos
        for message in messages:
            if qos:
                with self._cond:
                    while self._outstanding >= self._max:
                        self._cond.wait(5.0)
                    self._outstanding += 1
            client.publish(message.topic, message.payload, qos=qos, retain=message.retain)
            self.messages += 1
            self.bytes += len(message.payload)

    def flush(self, timeout_s: float = 60.0) -> bool:
        """Wait until every QoS 1 message has been acknowledged by the broker."""
        if not self.qos:
            return True
        with self._cond:
            return self._cond.wait_for(lambda: self._outstanding <= 0, timeout_s)

    def close(self) -> None:
        self.flush()
        self._client.disconnect()
        self._client.loop_stop()
