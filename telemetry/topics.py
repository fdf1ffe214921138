"""Every MQTT topic string of the system is built and parsed here, and nowhere else.

Central (gateway <-> centre), where the gateway's MQTT username is the third level so one
Mosquitto ACL pattern isolates gateways from each other::

    eldercare/v1/<gateway_id>/readings      batched envelopes of routine readings
    eldercare/v1/<gateway_id>/urgent        one-reading envelopes (fall, SOS, ...)
    eldercare/v1/<gateway_id>/status        retained "online" / "offline" (birth, will)
    eldercare/v1/<gateway_id>/heartbeat     gateway health
    eldercare/v1/<gateway_id>/cmd/<name>    commands from the centre to one gateway
    eldercare/v1/<gateway_id>/result        the gateway's answers to them
    eldercare/probe/<probe_id>              an alert node asking a clustered broker which
                                            partition an id falls in (its mapping's count)

Local (devices -> gateway), one dialect each: zigbee2mqtt, ESPHome and the project's
native firmware (``native/<device_id>/<stream>``); and on the gateway's own broker::

    eldercare/local/alarm                   the local alarm the edge agent raises (a siren,
                                            a light, the carer's pager subscribe to it)
"""

from __future__ import annotations

import enum
import re
from typing import Final, NamedTuple

from telemetry.errors import TelemetryError

CENTRAL_ROOT: Final = "eldercare/v1"
# A clustered broker maps each central topic to part/<n>/<central topic>: n, the gateway's
# partition, picks the alert node that takes it (see alerts.partitions).
PARTITION_ROOT: Final = "part"
PROBE_ROOT: Final = "eldercare/probe"
Z2M_DEFAULT_BASE: Final = "zigbee2mqtt"
NATIVE_ROOT: Final = "native"
LOCAL_ALARM: Final = "eldercare/local/alarm"  # the default; a gateway's config may move it

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_Z2M_FRIENDLY = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")


class TopicError(TelemetryError, ValueError):
    """A topic (or a name that would go into one) is not one of ours."""


class Dialect(enum.StrEnum):
    """How a device talks to the gateway's local broker."""

    ZIGBEE2MQTT = "zigbee2mqtt"
    ESPHOME = "esphome"
    NATIVE = "native"


class Channel(enum.StrEnum):
    """What a central topic of a gateway carries."""

    READINGS = "readings"
    URGENT = "urgent"
    STATUS = "status"
    HEARTBEAT = "heartbeat"
    RESULT = "result"  # a gateway's answer to a command (``telemetry.commands``)


class CentralTopic(NamedTuple):
    gateway_id: str
    channel: Channel


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a valid topic level (lower-case, digits, ``-``, ``_``)."""
    if not _ID.match(value):
        raise TopicError(f"invalid {what} {value!r}: lower-case letters, digits, - and _ only")
    return value


def central(gateway_id: str, channel: Channel) -> str:
    """The central topic on which ``gateway_id`` publishes ``channel``."""
    return f"{CENTRAL_ROOT}/{check_id(gateway_id, 'gateway id')}/{channel.value}"


def command(gateway_id: str, name: str) -> str:
    """The topic on which the centre sends command ``name`` to one gateway."""
    return f"{CENTRAL_ROOT}/{check_id(gateway_id, 'gateway id')}/cmd/{check_id(name, 'command')}"


def command_filter(gateway_id: str) -> str:
    """What one gateway subscribes to: every command sent to it."""
    return f"{CENTRAL_ROOT}/{check_id(gateway_id, 'gateway id')}/cmd/+"


def command_to_any(name: str) -> str:
    """Command ``name`` to any gateway: what a simulation of many homes listens to."""
    return f"{CENTRAL_ROOT}/+/cmd/{check_id(name, 'command')}"


def parse_command(topic: str) -> tuple[str, str]:
    """(gateway id, command name) of a command topic.

    Raises:
        TopicError: not a command topic.
    """
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != CENTRAL_ROOT or parts[3] != "cmd":
        raise TopicError(f"not a command topic: {topic!r}")
    return check_id(parts[2], "gateway id"), check_id(parts[4], "command")


def partition_of(gateway_id: str, partitions: int) -> int:
    """The partition of ``gateway_id``: the clustered broker's own hash (32-bit FNV-1a of
    the id, modulo ``partitions``), so both sides agree on who takes a gateway."""
    h = 0x811C9DC5
    for byte in gateway_id.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h % partitions


def probe(probe_id: str) -> str:
    """The topic an alert node publishes a partition probe on."""
    return f"{PROBE_ROOT}/{check_id(probe_id, 'probe id')}"


def probe_filter(probe_id: str) -> str:
    """Where a clustered broker delivers ``probe(probe_id)``, under its partition."""
    return f"{PARTITION_ROOT}/+/{probe(probe_id)}"


def probed_partition(topic: str) -> tuple[str, int]:
    """(probe id, partition) of a delivered probe ``part/<n>/eldercare/probe/<id>``.

    Raises:
        TopicError: not a delivered probe.
    """
    parts = topic.split("/")
    root = PROBE_ROOT.split("/")
    if len(parts) != 5 or parts[0] != PARTITION_ROOT or not parts[1].isdigit() \
            or parts[2:4] != root:
        raise TopicError(f"not a delivered partition probe: {topic!r}")
    return check_id(parts[4], "probe id"), int(parts[1])


def central_filter(channel: Channel, share_group: str | None = None,
                   partition: int | None = None) -> str:
    """The subscription filter for ``channel`` of every gateway (optionally shared), or,
    behind a clustered broker, of the gateways in ``partition``."""
    topic = f"{CENTRAL_ROOT}/+/{channel.value}"
    if partition is not None:
        topic = f"{PARTITION_ROOT}/{partition}/{topic}"
    if share_group is not None:
        topic = f"$share/{check_id(share_group, 'share group')}/{topic}"
    return topic


def parse_central(topic: str) -> CentralTopic:
    """Parse a central topic a gateway published on (or its ``part/<n>/`` form).

    Raises:
        TopicError: not a gateway's central publish topic.
    """
    parts = topic.split("/")
    if len(parts) == 6 and parts[0] == PARTITION_ROOT and parts[1].isdigit():
        parts = parts[2:]  # as a clustered broker delivers it, under its partition
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != CENTRAL_ROOT:
        raise TopicError(f"not a central gateway topic: {topic!r}")
    gateway_id = check_id(parts[2], "gateway id")
    try:
        channel = Channel(parts[3])
    except ValueError:
        raise TopicError(f"unknown channel {parts[3]!r} in {topic!r}") from None
    return CentralTopic(gateway_id, channel)


def acl_patterns() -> list[tuple[str, str]]:
    """Mosquitto ACL ``pattern`` lines (access, topic) that confine a gateway to itself.

    ``%u`` is replaced by the broker with the whole MQTT username (= the gateway id).
    """
    rules = [("write", f"{CENTRAL_ROOT}/%u/{channel.value}") for channel in Channel]
    rules.append(("read", f"{CENTRAL_ROOT}/%u/cmd/#"))
    return rules


# --- zigbee2mqtt -------------------------------------------------------------------------


class Z2mTopic(NamedTuple):
    friendly_name: str
    availability: bool


def z2m_state(friendly_name: str, base: str = Z2M_DEFAULT_BASE) -> str:
    """``<base>/<friendly_name>``: a zigbee2mqtt device's JSON state."""
    _check_friendly(friendly_name)
    return f"{base}/{friendly_name}"


def z2m_availability(friendly_name: str, base: str = Z2M_DEFAULT_BASE) -> str:
    """``<base>/<friendly_name>/availability``: retained online/offline."""
    return f"{z2m_state(friendly_name, base)}/availability"


def z2m_set(friendly_name: str, base: str = Z2M_DEFAULT_BASE) -> str:
    """``<base>/<friendly_name>/set``: what a zigbee2mqtt device is told to do."""
    return f"{z2m_state(friendly_name, base)}/set"


def z2m_bridge_state(base: str = Z2M_DEFAULT_BASE) -> str:
    return f"{base}/bridge/state"


def z2m_filter(base: str = Z2M_DEFAULT_BASE) -> str:
    return f"{base}/#"


def parse_z2m(topic: str, base: str = Z2M_DEFAULT_BASE) -> Z2mTopic | None:
    """Parse a zigbee2mqtt device topic; None for bridge, ``set`` and ``get`` topics.

    Raises:
        TopicError: not under ``base`` or not a valid friendly name.
    """
    prefix = base + "/"
    if not topic.startswith(prefix):
        raise TopicError(f"not a zigbee2mqtt topic: {topic!r}")
    rest = topic[len(prefix) :]
    if rest.startswith("bridge/") or rest == "bridge":
        return None
    head, _, last = rest.rpartition("/")
    if last in ("set", "get") or head.endswith("/set"):
        return None
    availability = last == "availability" and bool(head)
    name = head if availability else rest
    _check_friendly(name)
    return Z2mTopic(name, availability)


def _check_friendly(name: str) -> None:
    if not _Z2M_FRIENDLY.match(name):
        raise TopicError(f"invalid zigbee2mqtt friendly name {name!r}")


# --- ESPHome -----------------------------------------------------------------------------


class EsphomeComponent(enum.StrEnum):
    SENSOR = "sensor"
    BINARY_SENSOR = "binary_sensor"
    TEXT_SENSOR = "text_sensor"


class EsphomeTopic(NamedTuple):
    node: str
    component: EsphomeComponent | None  # None: the node's status (availability) topic
    name: str


def esphome_state(node: str, component: EsphomeComponent, name: str) -> str:
    """``<node>/<component>/<name>/state``: a plain-text value."""
    return f"{check_id(node, 'node')}/{component.value}/{check_id(name, 'entity')}/state"


def esphome_status(node: str) -> str:
    """``<node>/status``: retained birth ``online`` / will ``offline``."""
    return f"{check_id(node, 'node')}/status"


def esphome_filter(node: str) -> str:
    return f"{check_id(node, 'node')}/#"


def parse_esphome(topic: str) -> EsphomeTopic | None:
    """Parse an ESPHome state or status topic; None for command and discovery topics.

    Raises:
        TopicError: not an ESPHome topic.
    """
    parts = topic.split("/")
    if len(parts) == 2 and parts[1] == "status":
        return EsphomeTopic(check_id(parts[0], "node"), None, "status")
    if len(parts) == 4 and parts[3] in ("state", "command"):
        try:
            component = EsphomeComponent(parts[1])
        except ValueError:
            raise TopicError(f"unknown ESPHome component in {topic!r}") from None
        if parts[3] == "command":
            return None
        return EsphomeTopic(check_id(parts[0], "node"), component, check_id(parts[2], "entity"))
    raise TopicError(f"not an ESPHome state topic: {topic!r}")


# --- native firmware ---------------------------------------------------------------------


class NativeStream(enum.StrEnum):
    VITALS = "vitals"
    BED = "bed"
    ACCEL = "accel"
    STATUS = "status"


class NativeTopic(NamedTuple):
    device_id: str
    stream: NativeStream


def native(device_id: str, stream: NativeStream) -> str:
    return f"{NATIVE_ROOT}/{check_id(device_id, 'device id')}/{stream.value}"


def native_filter() -> str:
    return f"{NATIVE_ROOT}/#"


def parse_native(topic: str) -> NativeTopic:
    """Parse ``native/<device_id>/<stream>``.

    Raises:
        TopicError: not a native firmware topic.
    """
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != NATIVE_ROOT:
        raise TopicError(f"not a native firmware topic: {topic!r}")
    try:
        stream = NativeStream(parts[2])
    except ValueError:
        raise TopicError(f"unknown native stream in {topic!r}") from None
    return NativeTopic(check_id(parts[1], "device id"), stream)
