"""``eldercare bench alerts --nodes N``: the alert core's intake with 1, 2, ... N alert
nodes in the same run, each time on a fresh NATS node (with the partition mapping) and a
fresh PostgreSQL database, under the same simulated fleet. Reported per run: readings
stored per second over all nodes, and per node its readings, its CPU seconds and its CPU
per reading (this machine has 2 cores, which the broker, the simulator and every node
share, so the rate alone says little about a machine per node)."""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import yaml

from alerts.settings import AlertSettings
from alerts.state import StateDb
from bench.cluster import cpu_s, start_nodes, stored_keys, wait_balanced
from bench.ingest import simulate
from firmware_stubs import site_registry
from harness.nats import NatsCluster
from harness.postgres import LocalPostgres
from harness.process import free_port

SEED = 1
PARTITIONS = 4


def _one(pg: LocalPostgres, count: int, homes: int, speed: float, duration: float,
         out: IO[str]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"eldercare-bench-nodes-{count}-"))
    (work / "registry.yaml").write_text(
        yaml.safe_dump(site_registry.registry_data(homes, SEED)))
    policy = work / "policy.yaml"
    policy.write_text(yaml.safe_dump({"default": {"steps": {"fall": [
        {"after_s": 0, "channel": "console", "to": "family"}]}}}))
    dsn = pg.create_database(f"nodes_{count}")
    with NatsCluster(1, PARTITIONS) as nats, StateDb(dsn) as watcher:
        nodes = start_nodes(work, nats, dsn, count, PARTITIONS,
                            lambda i: AlertSettings(policy=str(policy), sms="console",
                                                    callback_port=free_port()))
        try:
            if not wait_balanced(watcher, count, PARTITIONS, nats):
                raise RuntimeError("the partitions were not shared out")
            load: dict[str, Any] = {}
            sim = threading.Thread(target=lambda: load.update(
                simulate(nats.nodes[0].mqtt_port, homes, speed, duration)))
            cpu_before = [cpu_s(n.process.pid) for n in nodes]
            began = time.monotonic()
            sim.start()
            sim.join()
            # what was published is stored within a few seconds; count it all
            expected = int(load.get("readings", 0))
            deadline = time.monotonic() + 60
            pause = threading.Event()
            while len(stored_keys([n.store for n in nodes])) < expected \
                    and time.monotonic() < deadline:
                pause.wait(0.2)
            elapsed = time.monotonic() - began
            cpu = [cpu_s(n.process.pid) - c for n, c in zip(nodes, cpu_before, strict=True)]
            per_node = [len(stored_keys([n.store])) for n in nodes]
            stored = len(stored_keys([n.store for n in nodes]))
        finally:
            for node in nodes:
                node.stop()
    result = {
        "nodes": count, "offered_readings_per_s": load.get("readings_per_s"),
        "readings": expected, "stored": stored,
        "stored_by_two_nodes": sum(per_node) - stored,
        "stored_readings_per_s": round(stored / elapsed, 1),
        "per_node": [{"readings": r, "cpu_s": round(c, 2),
                      "cpu_us_per_reading": round(c / r * 1e6, 1) if r else None}
                     for r, c in zip(per_node, cpu, strict=True)],
    }
    print(f"  {count} node(s): {result}", file=out, flush=True)
    return result


def run(max_nodes: int = 2, homes: int = 5000, speed: float = 60.0, duration: float = 20.0,
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
