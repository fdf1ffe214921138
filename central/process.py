"""Assemble the central process from its config: ingest (always), the alert core (with an
``[alerts]`` table) and the duty-desk dashboard (with a ``[dashboard]`` table), sharing one
registry, one clock and one embedded store. With ``store_workers`` the readings are
stored by worker processes (``central/workers.py``) and this process, in the role
``alerts``, hands them to the alert core and stores none. With a ``[cluster]`` table it
is one alert node of several (``central/cluster.py``): partition leases on the shared
PostgreSQL store, the other nodes' alert changes heard through its feed. Start order is
consumers first, so nothing arrives before the alert core can take it; stop order is the
reverse."""

from __future__ import annotations

from pathlib import Path

from alerts.cluster.feed import AlertFeed, announcer
from alerts.model import AlertChange
from alerts.service import AlertService
from alerts.store.queries import StoreQueries
from central.cluster import ClusterNode
from central.commands import SOUNDED, Commander, unanswered_alarms
from central.config import CentralConfig, CentralConfigError, InfluxConfig, registry_location
from central.metrics import CentralMetrics
from central.retention import Retention
from central.workers import StoreWorkers
from dashboard.accounts.store import Accounts
from dashboard.app import alert_listener, create_app, resync_listener
from dashboard.context import DashboardContext
from dashboard.server import DashboardServer
from ingest.consumer import Ingest
from ingest.deadletter import DeadLetters
from ingest.roles import ProcessRole
from ingest.store.base import Store
from ingest.store.influx import InfluxStore
from ingest.store.spool import SpooledStore
from ingest.store.sqlite import SqliteStore
from registry.commands import CommandStore
from registry.db import RegistryFollower, RegistryStore, Sightings, open_registry
from runtime.ops_server import OpsServer
from telemetry.clock import Clock
from telemetry.commands import ASK_INACTIVITY, Prompt, Sound


class CentralProcess:
    def __init__(self, cfg: CentralConfig, clock: Clock) -> None:
        if cfg.dashboard is not None and cfg.alerts is None:
            raise CentralConfigError("the dashboard needs the [alerts] table")
        if cfg.store_workers < 0 or (cfg.store_workers and cfg.role is not ProcessRole.ALL):
            raise CentralConfigError("store_workers must be 0 or more, in a process of role 'all'")
        if cfg.role is ProcessRole.STORE and (cfg.alerts is not None or cfg.dashboard is not None):
            raise CentralConfigError("a store worker takes no [alerts] or [dashboard] table")
        if cfg.cluster is not None and (cfg.alerts is None or cfg.store_workers
                                        or cfg.share_group is not None):
            raise CentralConfigError("[cluster] needs [alerts], and takes no store_workers "
                                     "or share_group (the partitions split the load)")
        self.cfg = cfg
        self.clock = clock
        # the registry is kept in the database (the file seeds it the first time); a
        # change made there reaches this process's registry within a second
        self.data = Path(cfg.data_dir)
        self.data.mkdir(parents=True, exist_ok=True)
        self.registry_db = RegistryStore(registry_location(cfg))
        self.registry = open_registry(self.registry_db, Path(cfg.registry))
        self.sightings = Sightings()  # devices gateways report that it does not know
        # commands to gateways (their device lists, a link test), sent by the alert
        # process; a store worker sends none
        self.commands: CommandStore | None = None
        self.commander: Commander | None = None
        if cfg.role is not ProcessRole.STORE:
            self.commands = CommandStore(registry_location(cfg))
            # a session of its own on each node (a shared client id would take turns)
            self.commander = Commander(self.commands, cfg.broker, clock, cfg.client_id + (
                f"-{cfg.cluster.node_id}" if cfg.cluster is not None else ""),
                unanswered=self._unanswered if cfg.alerts is not None
                and cfg.alerts.sound_home_after_s > 0 else None,
                asking=self._asking if cfg.alerts is not None
                and cfg.alerts.prompt_answer_s > 0 else None)
        self.store: Store = SqliteStore(self.data / "store.db") if cfg.influx is None \
            else self._influx(cfg.influx)
        self.alerts = None if cfg.alerts is None else AlertService(
            cfg.alerts, self.registry, clock, self.data, cluster=cfg.cluster)
        self.dashboard: DashboardServer | None = None
        self.accounts: Accounts | None = None
        ctx: DashboardContext | None = None
        if cfg.dashboard is not None and self.alerts is not None:
            # one set of desk users, sessions and one audit log for every node
            self.accounts = Accounts(self.data / "accounts.db" if cfg.cluster is None
                                     else cfg.cluster.state)
            ctx = DashboardContext(self.accounts, self.registry, self.alerts.core,
                                   StoreQueries(self.alerts.db),
                                   self.alerts.core.policies, clock, store=self.store,
                                   health=self.alerts.bank.health,
                                   secure_cookies=cfg.dashboard.secure_cookies,
                                   policy_path=Path(cfg.alerts.policy) if cfg.alerts else None,
                                   registry_db=self.registry_db,
                                   commands=self.commands,
                                   commands_queued=self.commander.wake
                                   if self.commander else None,
                                   discharged_keep_days=cfg.retention.discharged_days)
            self.alerts.core.listeners.append(alert_listener(ctx))
            self.dashboard = DashboardServer(create_app(ctx), cfg.dashboard.host,
                                             cfg.dashboard.port)
        self.ingest = Ingest(
            host=cfg.broker.host, port=cfg.broker.port, registry=self.registry,
            store=self.store, dead_letters=DeadLetters(self.data / "dead_letters.db"),
            clock=clock, consumers=[self.alerts.consume] if self.alerts else [],
            status_consumers=[self.alerts.gateway_status] if self.alerts else [],
            client_id=cfg.client_id, share_group=cfg.share_group,
            username=cfg.broker.username, password=cfg.broker.password(),
            role=ProcessRole.ALERTS if cfg.store_workers else cfg.role,
            partitioned=cfg.cluster is not None, also=cfg.broker.addresses()[1:],
            on_unknown_device=self.sightings.note)
        self.cluster = None if cfg.cluster is None or self.alerts is None else ClusterNode(
            cfg.cluster, self.alerts, self.ingest, clock)
        self.feed: AlertFeed | None = None
        if cfg.cluster is not None and self.alerts is not None:
            # the other nodes' desks hear of this node's alerts, and this one's of theirs
            self.alerts.core.listeners.append(announcer(self.alerts.db, cfg.cluster.node_id))
            service = self.alerts
            desk = alert_listener(ctx) if ctx is not None else None
            resync = resync_listener(ctx) if ctx is not None else None

            def heard(change: AlertChange) -> None:  # another node's alert changed
                service.look_again()  # its steps may fall to this node
                if desk is not None:
                    desk(change)

            def missed() -> None:  # announcements may have gone by unheard
                service.look_again()
                if resync is not None:
                    resync()
            self.feed = AlertFeed(cfg.cluster.state, cfg.cluster.node_id, heard, missed)
        if ctx is not None:
            ctx.status = self.status
        self.desk = ctx  # what the dashboard reads and pushes (None without one)
        self.workers = StoreWorkers(cfg, self.data / "workers") if cfg.store_workers \
            else None
        self.metrics: CentralMetrics | None = None
        self.ops: OpsServer | None = None
        if cfg.metrics is not None and cfg.role is not ProcessRole.STORE:
            self.metrics = CentralMetrics(self.ingest, self.alerts, clock, self.cluster)
            self.ops = OpsServer(self.metrics.registry, self.metrics.checks,
                                 cfg.metrics.host, cfg.metrics.port)
        alerts = self.alerts
        self.registry_follower = RegistryFollower(
            self.registry_db, self.registry,
            alerts.registry_changed if alerts is not None else lambda: None,
            sightings=self.sightings)
        # A store worker leaves tidying to the process that started it.
        self.retention = None if cfg.role is ProcessRole.STORE else Retention(
            cfg.retention, self.store, self.alerts.db if self.alerts else None, clock)

    def _unanswered(self, now_ms: int) -> list[tuple[str, Sound]]:
        """Falls and SOS still open, neither taken nor acknowledged at the desk,
        ``sound_home_after_s`` after they opened: their homes' gateways sound."""
        if self.alerts is None or self.cfg.alerts is None:
            return []
        return unanswered_alarms(self.alerts.db.alerts.find(
            open_only=True, conditions=SOUNDED, limit=10_000),
            now_ms, int(self.cfg.alerts.sound_home_after_s * 1000))

    def _asking(self) -> list[tuple[str, str, Prompt, int]]:
        """The residents whose check is held while their home unit asks them, in their
        language: (gateway, command id, the question, until when it is worth asking)."""
        if self.alerts is None or self.cfg.alerts is None:
            return []
        within_s = self.cfg.alerts.prompt_answer_s
        out = []
        for resident_id, gateway_id, since_ms in self.alerts.asking():
            resident = self.registry.residents.get(resident_id)
            prompt = Prompt(resident_id, ASK_INACTIVITY,
                            resident.language if resident else "zh", within_s)
            out.append((gateway_id, f"prompt-{resident_id}-{since_ms}", prompt,
                        since_ms + int(within_s * 1000)))
        return out

    def status(self) -> dict[str, object]:
        """What the desk's banner and operators read: the intake's, and on a node of
        several whether it keeps its leases (if not, its alert work waits: degraded) and
        whether any other live node says its alert core lags: the cluster's state, on
        whichever node serves the page."""
        out = self.ingest.status()
        if self.cluster is not None:
            out.update(self.cluster.status())
            out["alert_core_degraded"] = bool(out["alert_core_degraded"]) \
                or self.cluster.degraded() or bool(out["nodes_degraded"])
        return out

    def _influx(self, influx: InfluxConfig) -> SpooledStore:
        store = InfluxStore(influx.url, influx.database, write_api=influx.write_api,
                            username=influx.username,
                            password=influx.secret(influx.password_file),
                            v2_url=influx.v2_url, v2_token=influx.secret(influx.v2_token_file),
                            v2_org=influx.v2_org)
        spool = "spool.db" if self.cfg.role is not ProcessRole.STORE \
            else f"spool-{self.cfg.client_id}.db"  # one spool per process
        spooled = SpooledStore(store, self.data / spool)
        spooled.start()
        return spooled

    def start(self) -> None:
        self.registry_follower.start()
        if self.commander is not None:
            self.commander.start()
        if self.alerts is not None:
            self.alerts.start()
        if self.dashboard is not None:
            self.dashboard.start()
        if self.workers is not None:
            self.workers.start()
        self.ingest.start()
        if self.cluster is not None:
            self.cluster.start()
        if self.feed is not None:
            self.feed.start()
        if self.retention is not None:
            self.retention.start()
        if self.ops is not None:
            self.ops.start()

    def close(self) -> None:
        if self.ops is not None:
            self.ops.close()
        if self.retention is not None:
            self.retention.close()
        if self.feed is not None:
            self.feed.stop()
        if self.cluster is not None:
            self.cluster.close()
        self.ingest.close()
        if self.workers is not None:
            self.workers.close()
        if self.dashboard is not None:
            self.dashboard.close()
        if self.alerts is not None:
            self.alerts.close()
        if self.accounts is not None:
            self.accounts.close()
        self.registry_follower.stop()
        if self.commander is not None:
            self.commander.stop()
        if self.commands is not None:
            self.commands.close()
        self.registry_db.close()
        self.store.close()
