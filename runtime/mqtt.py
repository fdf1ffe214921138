"""The one place an MQTT client is built: paho's callback API version 2, MQTT 3.1.1 unless
asked otherwise (every broker end we run speaks it: Mosquitto, NATS, amqtt)."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

MQTTv311 = mqtt.MQTTv311
MQTTv5 = mqtt.MQTTv5


def new_client(client_id: str = "", *, clean_session: bool | None = None,
               protocol: MQTTProtocolVersion = MQTTv311, manual_ack: bool = False,
               username: str | None = None, password: str | None = None) -> mqtt.Client:
    """A client, not yet connected. ``clean_session=False`` keeps its subscriptions and
    unacknowledged QoS 1 messages at the broker across a reconnect (3.1.1 only);
    ``manual_ack``: the caller acknowledges each message once it is safe."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=clean_session, protocol=protocol,
                         manual_ack=manual_ack)
    if username:
        client.username_pw_set(username, password)
    return client


def release(client: mqtt.Client) -> None:
    """Close whatever a client that is not used again still holds: its socket and the
    socket pair ``loop_start`` made (paho leaves both open after ``loop_stop`` and
    ``disconnect``, to the garbage collector)."""
    client.reinitialise()
