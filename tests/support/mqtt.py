"""A recording MQTT subscriber for tests."""

from __future__ import annotations

import threading
import time
from typing import NamedTuple

import paho.mqtt.client as mqtt

from runtime.mqtt import MQTTv311, new_client


class Received(NamedTuple):
    topic: str
    payload: bytes
    retain: bool
    at_s: float  # time.monotonic() on arrival


class Recorder:
    """Subscribes to ``filters`` and keeps every message it receives, in order.

    With ``client_id`` the session is persistent: after a broker restart (with persistence)
    it gets what was queued for it meanwhile. It resubscribes on every connect.
    """

    def __init__(self, port: int, filters: list[str], qos: int = 1,
                 client_id: str | None = None, username: str | None = None,
                 password: str | None = None) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._filters = [(f, qos) for f in filters]
        self._client = new_client(client_id=client_id or "",
                                   clean_session=client_id is None, protocol=MQTTv311)
        if username:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(0.05, 0.5)
        self._client.on_message = self._on_message
        self._client.on_connect = lambda c, *a: c.subscribe(self._filters)
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("subscription was not acknowledged")

    def _on_message(self, client: mqtt.Client, userdata: object,
                    msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain),
                                          time.monotonic()))

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
