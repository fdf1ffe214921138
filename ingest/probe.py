"""Check, before an alert node of several takes any partition, that the clustered broker
splits the gateways into as many partitions as the node was told.

If the counts differ, a gateway's messages land in a partition whose sessions no node
opens (the broker drops them, or queues them where nobody looks) and the nodes route what
they do get to detector banks they do not hold: falls lost without a word. So the node
publishes probes on ``eldercare/probe/<id>``, which the broker maps to ``part/<n>/...`` by
the same hash as a gateway's topics, and compares each ``n`` with its own
``partition_of``. The ids are chosen so that any other count up to ``MAX_COUNT`` would
put at least one of them elsewhere.
"""

from __future__ import annotations

import secrets
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from ingest.errors import IngestError
from runtime.mqtt import MQTTv311, new_client
from telemetry import topics
from telemetry.topics import partition_of

MAX_COUNT = 256
PROBE_TIMEOUT_S = 10.0


class PartitionCountError(IngestError, RuntimeError):
    """The broker's partition count is not the node's (or the broker answers no probe)."""


def probe_ids(expected: int) -> list[str]:
    """Fresh ids that together tell ``expected`` partitions from any other count."""
    token = secrets.token_hex(4)
    ids: list[str] = []
    others = set(range(1, MAX_COUNT + 1)) - {expected}
    while others or len(ids) < 4:
        probe_id = f"p{token}-{len(ids)}"
        ids.append(probe_id)
        mine = partition_of(probe_id, expected)
        others = {m for m in others if partition_of(probe_id, m) == mine}
    return ids


def check_partitions(addresses: list[tuple[str, int]], expected: int, *,
                     username: str | None = None, password: str | None = None,
                     timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Raise ``PartitionCountError`` unless the broker at the first reachable of
    ``addresses`` puts every probe in the partition ``expected`` partitions give."""
    ids = probe_ids(expected)
    seen: dict[str, int] = {}
    done = threading.Event()
    client = new_client(clean_session=True,
                         protocol=MQTTv311)
    if username:
        client.username_pw_set(username, password)

    def on_connect(c: mqtt.Client, userdata: object, flags: object, reason: ReasonCode,
                   props: object) -> None:
        if not reason.is_failure:
            c.subscribe([(topics.probe_filter(i), 1) for i in ids])

    def on_subscribe(c: mqtt.Client, userdata: object, mid: int, codes: list[ReasonCode],
                     props: object) -> None:
        for probe_id in ids:
            c.publish(topics.probe(probe_id), b"", qos=1)

    def on_message(c: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            probe_id, part = topics.probed_partition(msg.topic)
        except topics.TopicError:
            return
        seen[probe_id] = part
        if len(seen) == len(ids):
            done.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    for host, port in addresses:
        try:
            client.connect(host, port, keepalive=30)
            break
        except OSError:
            continue
    else:
        raise PartitionCountError("no broker node reachable to check the partition count")
    client.loop_start()
    try:
        done.wait(timeout_s)
    finally:
        client.disconnect()
        client.loop_stop()
    if len(seen) < len(ids):
        raise PartitionCountError(
            f"the broker delivered {len(seen)} of {len(ids)} partition probes in "
            f"{timeout_s:.0f} s: its configs lack the probe mapping (regenerate them with "
            "eldercare broker-config nats) or it is not a clustered broker")
    wrong = {i: p for i, p in seen.items() if p != partition_of(i, expected)}
    if wrong:
        raise PartitionCountError(
            f"the broker splits the gateways into a different number of partitions than "
            f"[cluster] partitions = {expected}: every node and the broker's mapping must "
            "say the same")
