"""A recording MQTT subscriber for tests."""

from __future__ import annotations

import threading
from typing import NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class Received(NamedTuple):
    topic: str
    payload: bytes
    retain: bool


class Recorder:
    """Subscribes to ``filters`` and keeps every message it receives, in order."""

    def __init__(self, port: int, filters: list[str], qos: int = 1) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.connect("127.0.0.1", port)
        self._client.subscribe([(f, qos) for f in filters])
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("subscription was not acknowledged")

    def _on_message(self, client: mqtt.Client, userdata: object,
                    msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, msg.payload, bool(msg.retain)))

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
