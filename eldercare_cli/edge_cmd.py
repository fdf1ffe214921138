"""``eldercare edge``: the gateway process."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

from edge_agent import config
from edge_agent.agent import Agent
from edge_agent.outbox import OutboxError
from runtime import logs
from runtime.secrets import SecretError
from runtime.shutdown import StopRequest, bounded
from telemetry.clock import SystemClock


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "edge", help="run the gateway's edge agent",
        description="Subscribe to the gateway's local broker, normalise every device "
                    "dialect, raise local alarms, keep a disk outbox and send to the centre.",
    )
    p.add_argument("--config", required=True, type=Path,
                   help=f"gateway TOML config (sample: {config.SAMPLE})")
    p.add_argument("--heartbeat", type=float, default=None,
                   help="seconds (default: a third of the gateway class's tier, "
                        "telemetry.health.HEARTBEAT_S: 30 for a home unit)")
    p.add_argument("--batch-window", type=float, default=1.0,
                   help="seconds routine readings wait to share an envelope (default 1)")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    logs.setup("edge")
    try:
        cfg = config.load(args.config)
        agent = Agent(cfg, SystemClock(), heartbeat_s=args.heartbeat,
                      batch_window_s=args.batch_window)
    except (config.GatewayConfigError, SecretError, OutboxError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stop = StopRequest().install()
    ops = None
    if cfg.metrics is not None:
        from edge_agent.metrics import EdgeMetrics  # only a gateway that wants it pays for it
        from runtime.ops_server import OpsServer

        metrics = EdgeMetrics(agent)
        try:
            ops = OpsServer(metrics.registry, metrics.checks, cfg.metrics.host,
                            cfg.metrics.port).start()
        except OSError as exc:
            print(f"error: metrics port: {exc}", file=sys.stderr)
            return 1
    print(f"edge agent {cfg.gateway_id} started, pid {os.getpid()}, outbox in {cfg.data_dir}"
          + (f", metrics on {ops.url}/metrics" if ops else ""), flush=True)
    runner = threading.Thread(target=agent.run, name="edge-agent")
    runner.start()
    while not stop.wait(0.5) and runner.is_alive():
        pass
    with bounded("eldercare edge"):
        if ops is not None:
            ops.close()
        agent.stop()
        runner.join()
    return 0
