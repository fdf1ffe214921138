"""``eldercare ingest``: the central consumer."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "ingest", help="consume gateways' readings: validate, dead-letter, dedup, store, "
                       "and (with an [alerts] table) raise and escalate alerts",
        description="Subscribe to the central broker, decode and validate every envelope "
                    "once, dead-letter what is refused, and store the rest exactly once.")
    p.add_argument("--config", required=True, type=Path,
                   help="central TOML config (sample: ingest/central.sample.toml)")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from alerts.policy import PolicyError
    from alerts.service import AlertService
    from alerts.settings import SettingsError
    from alerts.state import StateError
    from ingest import config, registry
    from ingest.consumer import Ingest
    from ingest.deadletter import DeadLetters
    from ingest.store.base import StoreError
    from ingest.store.sqlite import SqliteStore
    from telemetry.clock import SystemClock

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        cfg = config.load(args.config)
        reg = registry.load(Path(cfg.registry))
        data = Path(cfg.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        clock = SystemClock()
        alerts = None if cfg.alerts is None else AlertService(cfg.alerts, reg, clock, data)
        ingest = Ingest(host=cfg.broker.host, port=cfg.broker.port, registry=reg,
                        store=SqliteStore(data / "store.db"),
                        dead_letters=DeadLetters(data / "dead_letters.db"),
                        clock=clock, consumers=[alerts.consume] if alerts else [],
                        status_consumers=[alerts.gateway_status] if alerts else [],
                        client_id=cfg.client_id, share_group=cfg.share_group,
                        username=cfg.broker.username, password=cfg.broker.password())
    except (config.ConfigError, registry.RegistryError, StoreError, OSError, PolicyError,
            SettingsError, StateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if alerts is not None:
        alerts.start()
    ingest.start()
    print(f"ingest running, store in {data}"
          + (f", alert callbacks on {alerts.callbacks.base_url}" if alerts else ""), flush=True)
    while not stop.wait(1.0):
        pass
    ingest.close()
    if alerts is not None:
        alerts.close()
    return 0
