"""The gateway's configuration file (TOML): who it is, its devices, its brokers."""

from __future__ import annotations

from pathlib import Path

import msgspec

from edge_agent.errors import EdgeError
from runtime.broker import BrokerConnection
from runtime.metrics_config import MetricsConfig
from telemetry import topics
from telemetry.health import GatewayClass
from telemetry.kinds import Kind
from telemetry.topics import Dialect


class GatewayConfigError(EdgeError):
    """The gateway configuration is missing, malformed or inconsistent."""


class DeviceConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One device behind the gateway.

    ``local_name`` is its zigbee2mqtt friendly name, ESPHome node name or native device id;
    ``kinds`` are the readings taken from it (a radar's ``occupancy`` is not motion).
    """

    device_id: str
    dialect: Dialect
    local_name: str
    kinds: list[Kind]
    room: str = ""
    resident_id: str | None = None
    battery_powered: bool = True
    fall_position: str | None = None  # native accelerometer: run the fall model for it


class GatewayConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                    omit_defaults=True):
    site_id: str
    gateway_id: str
    data_dir: str
    local: BrokerConnection
    uplink: BrokerConnection
    devices: list[DeviceConfig]
    z2m_base: str = topics.Z2M_DEFAULT_BASE
    outbox_max_bytes: int = 64 * 1024 * 1024
    local_alarm_topic: str = topics.LOCAL_ALARM
    # a fall or SOS the centre's broker has not taken by then (the uplink is down): the
    # fallback alarm sounds in the home
    fallback_after_s: float = 30.0
    # a possible fall (a fall detector unsure) the resident has not answered by then: the
    # home's alarm sounds (the centre confirms it to the desk on the same minute)
    possible_fall_s: float = 60.0
    sos_cancel_s: float = 30.0  # how long a mistaken SOS press may be cancelled
    language: str = "zh"  # the home's: the prompts the gateway plays itself
    # its heartbeat tier (``telemetry.health.HEARTBEAT_S``)
    gateway_class: GatewayClass = GatewayClass.HOME_UNIT
    link_test: bool = True  # the daily test alarm (``telemetry.health.link_test_due_ms``)
    metrics: MetricsConfig | None = None  # Prometheus metrics and health; off without it


def load(path: Path) -> GatewayConfig:
    """Read and check a gateway config file.

    Raises:
        GatewayConfigError: unreadable, malformed, or with duplicate or invalid ids.
    """
    try:
        cfg = msgspec.toml.decode(path.read_bytes(), type=GatewayConfig)
    except OSError as exc:
        raise GatewayConfigError(f"cannot read {path}: {exc}") from exc
    except msgspec.MsgspecError as exc:
        raise GatewayConfigError(f"{path}: {exc}") from exc
    try:
        topics.check_id(cfg.gateway_id, "gateway id")
        topics.check_id(cfg.site_id, "site id")
        for device in cfg.devices:
            topics.check_id(device.device_id, "device id")
    except topics.TopicError as exc:
        raise GatewayConfigError(f"{path}: {exc}") from exc
    try:
        cfg.uplink.addresses()
    except ValueError as exc:
        raise GatewayConfigError(f"{path}: [uplink] {exc}") from exc
    ids = [d.device_id for d in cfg.devices]
    if len(set(ids)) != len(ids):
        raise GatewayConfigError(f"{path}: a device id appears twice")
    names = [(d.dialect, d.local_name) for d in cfg.devices]
    if len(set(names)) != len(names):
        raise GatewayConfigError(f"{path}: a local device name appears twice")
    return cfg


def dump(cfg: GatewayConfig) -> bytes:
    """The config as TOML (to provision a gateway, or for a test's own brokers)."""
    return msgspec.toml.encode(cfg)


SAMPLE = Path(__file__).with_name("gateway.sample.toml")
