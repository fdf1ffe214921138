"""The central process's configuration file (TOML)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from alerts.settings import AlertSettings, ClusterSettings
from central.errors import CentralError
from dashboard.settings import DashboardSettings
from ingest.roles import ProcessRole
from runtime.broker import BrokerConnection
from runtime.metrics_config import MetricsConfig
from runtime.secrets import read_secret


class CentralConfigError(CentralError):
    """The central configuration is missing or malformed."""


class InfluxConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                   omit_defaults=True):
    """InfluxDB instead of the embedded store (a local spool covers its outages)."""

    url: str  # answers InfluxQL on /query (and /write for write_api = "v1")
    database: str = "eldercare"
    write_api: str = "v1"  # or "v2": influxdb-client against v2_url
    username: str = ""
    password_file: str | None = None
    v2_url: str = ""
    v2_token_file: str | None = None
    v2_org: str = "-"

    def secret(self, path: str | None) -> str:
        return read_secret(path) if path else ""


class RetentionConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                      omit_defaults=True):
    """How long the centre keeps what, and how often it tidies up (``[retention]``)."""

    raw_days: float = 30.0  # raw readings; older ones are rolled into hourly aggregates
    rollup_days: float = 730.0  # the hourly aggregates
    resolved_alert_days: float = 365.0  # resolved alerts, their timeline and notices
    # a discharged resident's data, before an admin may erase it (a data-protection request)
    discharged_days: float = 90.0
    every_s: float = 3600.0

    def __post_init__(self) -> None:  # msgspec turns a ValueError here into a load error
        if min(self.raw_days, self.rollup_days, self.resolved_alert_days, self.every_s,
               self.discharged_days) <= 0:
            raise ValueError("[retention]: every period must be positive")
        if self.rollup_days < self.raw_days:
            raise ValueError("[retention]: rollup_days must be at least raw_days")


class CentralConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    data_dir: str
    registry: str
    broker: BrokerConnection = BrokerConnection()
    client_id: str = "eldercare-ingest"
    share_group: str | None = None
    influx: InfluxConfig | None = None  # default: the embedded SQLite store in data_dir
    alerts: AlertSettings | None = None  # the alert core in the same process
    dashboard: DashboardSettings | None = None  # the duty desk (needs [alerts])
    # Routine readings stored by this many worker processes of their own (role "store"),
    # so the alert core's process does no bulk writes; 0: this process stores everything.
    store_workers: int = 0
    role: ProcessRole = ProcessRole.ALL  # set by the process that starts store workers, for them
    retention: RetentionConfig = RetentionConfig()
    metrics: MetricsConfig | None = None  # Prometheus metrics and health; off without it
    # One alert node of several (needs [alerts], a clustered broker and PostgreSQL);
    # without it this process is the only one and keeps its state in data_dir.
    cluster: ClusterSettings | None = None


def registry_location(cfg: CentralConfig) -> Path | str:
    """Where the registry is kept (``registry.db``): the shared PostgreSQL of a node of
    several, else an SQLite file in the data folder (its store workers share it)."""
    return cfg.cluster.state if cfg.cluster is not None else Path(cfg.data_dir) / "registry.db"


def load(path: Path) -> CentralConfig:
    try:
        return msgspec.toml.decode(path.read_bytes(), type=CentralConfig)
    except OSError as exc:
        raise CentralConfigError(f"cannot read {path}: {exc}") from exc
    except msgspec.MsgspecError as exc:
        raise CentralConfigError(f"{path}: {exc}") from exc


def dump(cfg: CentralConfig) -> bytes:
    return msgspec.toml.encode(cfg)


SAMPLE = Path(__file__).with_name("central.sample.toml")
CLUSTER_SAMPLE = Path(__file__).with_name("cluster.sample.toml")  # one node of three
