"""``eldercare bench alerts --nodes N``: the alert core's intake with 1, 2, ... N alert
nodes in the same run, each time on a fresh NATS node (with the partition mapping) and a
fresh PostgreSQL database, under the same simulated fleet. Reported per run: readings
stored per second over all nodes, and per node its readings, its CPU seconds and its CPU
per reading (this machine has 2 cores, which the broker, the simulator and every node
share, so the rate alone says little about a machine per node). Both are measured over
the middle of the load (``WINDOW``); then the run waits until everything published is
stored, or the stores stop growing, and counts what never arrived as lost."""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import yaml

from alerts.settings import AlertSettings
from alerts.store import AlertStore
from bench.cluster import cpu_s, start_nodes, stored_keys, wait_balanced
from bench.ingest import simulate
from firmware_stubs import site_registry
from harness.nats import NatsCluster
from harness.postgres import LocalPostgres
from harness.process import free_port

SEED = 1
PARTITIONS = 4
WINDOW = (0.25, 0.9)  # the part of the load over which the rate and the CPU are measured
HOMES = 2000  # about what one node stores at speed 60 on this 2-core machine
DRAIN_STILL_S = 15.0  # after the load: done once every store is this long unchanged


def stored_count(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store) as db:
        return int(db.execute("SELECT COUNT(*) FROM raw").fetchone()[0])


def _one(pg: LocalPostgres, count: int, homes: int, speed: float, duration: float,
         out: IO[str]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"eldercare-bench-nodes-{count}-"))
    (work / "registry.yaml").write_text(
        yaml.safe_dump(site_registry.registry_data(homes, SEED)))
    policy = work / "policy.yaml"
    policy.write_text(yaml.safe_dump({"default": {"steps": {"fall": [
        {"after_s": 0, "channel": "console", "to": "family"}]}}}))
    dsn = pg.create_database(f"nodes_{count}")
    with NatsCluster(1, PARTITIONS) as nats, AlertStore(dsn) as watcher:
        nodes = start_nodes(work, nats, dsn, count, PARTITIONS,
                            lambda i: AlertSettings(policy=str(policy), sms="console",
                                                    callback_port=free_port()))
        try:
            if not wait_balanced(watcher, count, PARTITIONS, nats):
                raise RuntimeError("the partitions were not shared out")
            load: dict[str, Any] = {}
            sim = threading.Thread(target=lambda: load.update(
                simulate(nats.nodes[0].mqtt_port, homes, speed, duration)))
            pause = threading.Event()
            began = time.monotonic()
            sim.start()
            # the rate and the CPU over the middle of the load, not its start or drain
            pause.wait(max(0.0, began + WINDOW[0] * duration - time.monotonic()))
            first = (time.monotonic(), [stored_count(n.store) for n in nodes],
                     [cpu_s(n.process.pid) for n in nodes])
            pause.wait(max(0.0, began + WINDOW[1] * duration - time.monotonic()))
            last = (time.monotonic(), [stored_count(n.store) for n in nodes],
                    [cpu_s(n.process.pid) for n in nodes])
            sim.join()
            # then everything published is stored, or the stores stop growing
            expected = int(load.get("readings", 0))
            previous, still_since = -1, time.monotonic()
            while time.monotonic() - still_since < DRAIN_STILL_S:
                now = sum(stored_count(n.store) for n in nodes)
                if now >= expected:
                    break
                if now != previous:
                    previous, still_since = now, time.monotonic()
                pause.wait(1.0)
            stored = len(stored_keys([n.store for n in nodes]))
            per_node = [stored_count(n.store) for n in nodes]
        finally:
            for node in nodes:
                node.stop()
    span = last[0] - first[0]
    handled = [b - a for a, b in zip(first[1], last[1], strict=True)]
    cpu = [b - a for a, b in zip(first[2], last[2], strict=True)]
    result = {
        "nodes": count, "offered_readings_per_s": load.get("readings_per_s"),
        "readings": expected, "stored": stored,
        "stored_by_two_nodes": sum(per_node) - stored,
        "stored_readings_per_s": round(sum(handled) / span, 1),
        "per_node": [{"readings_per_s": round(h / span, 1), "cpu_s": round(c, 2),
                      "cpu_us_per_reading": round(c / h * 1e6, 1) if h else None}
                     for h, c in zip(handled, cpu, strict=True)],
    }
    print(f"  {count} node(s): {result}", file=out, flush=True)
    return result


def run(max_nodes: int = 2, homes: int = HOMES, speed: float = 60.0, duration: float = 20.0,
        out: IO[str] = sys.stderr) -> dict[str, Any]:
    print(f"intake by alert nodes: 1..{max_nodes} nodes, {homes} homes at speed {speed} for "
          f"{duration:.0f} s each, {PARTITIONS} partitions", file=out, flush=True)
    with LocalPostgres() as pg:
        runs = [_one(pg, n, homes, speed, duration, out) for n in range(1, max_nodes + 1)]
    first = runs[0]
    return {"runs": runs, "homes": homes,
            "ratio_stored_per_s_to_one_node": [
                round(r["stored_readings_per_s"] / max(first["stored_readings_per_s"], 1e-9),
                      2) for r in runs],
            "lost": sum(max(0, r["readings"] - r["stored"]) for r in runs)}
