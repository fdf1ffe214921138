"""``eldercare ingest``: the central process (ingest, and with their config tables the
alert core and the dashboard)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

# How long a node of several waits at start for its shared store's primary (a site powered
# up at once, or a switch of primaries under way) before it gives up.
STATE_STORE_WAIT_S = 300.0


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "ingest", help="consume gateways' readings: validate, dead-letter, dedup, store, "
                       "and (with [alerts] / [dashboard] tables) raise and escalate alerts "
                       "and serve the duty desk",
        description="Subscribe to the central broker, decode and validate every envelope "
                    "once, dead-letter what is refused, and store the rest exactly once.")
    p.add_argument("--config", required=True, type=Path,
                   help="central TOML config (sample: central/central.sample.toml)")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    import registry
    from alerts.policy import PolicyError
    from alerts.settings import SettingsError
    from alerts.store import StateError
    from central import config
    from central.process import CentralProcess
    from ingest.store.base import StoreError
    from runtime import logs
    from runtime.secrets import SecretError
    from runtime.shutdown import StopRequest, bounded
    from runtime.sql import is_postgres, wait_writable
    from telemetry.clock import SystemClock

    logs.setup("central")
    stop = StopRequest().install()  # before anything starts: SIGINT or SIGTERM stops it
    try:
        cfg = config.load(args.config)
        if cfg.cluster is not None and is_postgres(cfg.cluster.state) \
                and not wait_writable(cfg.cluster.state, STATE_STORE_WAIT_S, stop.event):
            return 0  # asked to stop while it waited
        process = CentralProcess(cfg, SystemClock())
        process.start()
    except (config.CentralConfigError, registry.RegistryError, StoreError, OSError, PolicyError,
            SettingsError, SecretError, StateError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for _ in range(300):  # up to 30 s for the subscription, unless asked to stop
        if process.ingest.ready.wait(0.1) or stop.is_set():
            break
    else:
        print("warning: not subscribed to the broker yet; retrying in the background",
              file=sys.stderr, flush=True)
    print(f"ingest running, store in {process.data}"
          + (f", alert callbacks on {process.alerts.callbacks.base_url}"
             if process.alerts else "")
          + (f", dashboard on {process.dashboard.url}" if process.dashboard else "")
          + (f", metrics on {process.ops.url}/metrics" if process.ops else ""),
          flush=True)
    while not stop.wait(0.5):
        pass
    with bounded("eldercare ingest"):
        process.close()
    return 0
