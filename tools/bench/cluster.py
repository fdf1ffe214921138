"""What the multi-node benchmarks share: alert nodes as separate processes in their cluster
role (``eldercare ingest`` with a ``[cluster]`` table), started on a NATS cluster and a
PostgreSQL store, and the small measuring helpers."""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from alerts.settings import AlertSettings, ClusterSettings
from alerts.store import AlertStore
from central import config as central_config
from central.config import CentralConfig
from harness.nats import NatsCluster
from harness.process import free_port
from runtime.broker import BrokerConnection
from runtime.metrics_config import MetricsConfig

LEASE_TTL_S = 4.0
READY_S = 60.0
CLIENT_ID = "eldercare-alerts"  # names the partitions' broker sessions on every node


def now_ms() -> int:
    return int(time.time() * 1000)


class AlertNode:
    """One central process in its cluster role, as an operator runs it."""

    def __init__(self, index: int, work: Path, cfg: CentralConfig) -> None:
        self.node_id = f"node-{index + 1}"
        self.metrics_port = cfg.metrics.port if cfg.metrics else 0
        self.path = work / f"{self.node_id}.toml"
        self.path.write_bytes(central_config.dump(cfg))
        self.store = Path(cfg.data_dir) / "store.db"
        self.log = (work / f"{self.node_id}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "eldercare_cli.main", "ingest", "--config", str(self.path)],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.ready = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("ingest running"):
                self.ready.set()

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the process wrote to its log (why it did not start)."""
        self.log.flush()
        text = (self.path.parent / f"{self.node_id}.log").read_text(errors="replace")
        return " | ".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def learned(self, outcome: str, detector: str) -> float:
        """This node's ``eldercare_learned_snapshots_total`` of ``outcome`` and
        ``detector``, from its metrics page (0 if it has none yet)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as page:
            text = page.read().decode()
        return sum(s.value for family in text_string_to_metric_families(text)
                   if family.name == "eldercare_learned_snapshots"
                   for s in family.samples if s.name.endswith("_total")
                   and s.labels.get("outcome") == outcome
                   and s.labels.get("detector") == detector)

    def pause(self) -> None:
        """SIGSTOP: the process is alive but does nothing (a stalled VM)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()


def stored_keys(stores: list[Path]) -> set[tuple[str, int]]:
    keys: set[tuple[str, int]] = set()
    for path in stores:
        if path.exists():
            db = sqlite3.connect(path)
            keys.update(db.execute("SELECT gateway, seq FROM raw").fetchall())
            db.close()
    return keys


def wait_for(predicate: Any, timeout_s: float, pause_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(pause_s)
    return True


def start_nodes(work: Path, nats: NatsCluster, dsn: str, count: int, partitions: int,
                settings: Callable[[int], AlertSettings]) -> list[AlertNode]:
    """``count`` alert nodes, node i on broker node i (mod the cluster's size) with the
    others as its fallbacks, each with ``settings(i)``; returns once each is running."""
    def start(i: int) -> AlertNode:
        mine = i % len(nats.nodes)
        host, port = nats.addresses[mine]
        also = [f"{h}:{p}" for j, (h, p) in enumerate(nats.addresses) if j != mine]
        cfg = CentralConfig(
            data_dir=str(work / f"node-{i + 1}"), registry=str(work / "registry.yaml"),
            client_id=CLIENT_ID, broker=BrokerConnection(host=host, port=port, also=also),
            alerts=settings(i), metrics=MetricsConfig(port=free_port()),
            cluster=ClusterSettings(node_id=f"node-{i + 1}", state=dsn, partitions=partitions,
                                    lease_ttl_s=LEASE_TTL_S))
        return AlertNode(i, work, cfg)

    nodes = [start(i) for i in range(count)]
    for _ in range(2):  # a port picked free and taken before the node bound it: again
        if not wait_for(lambda: all(n.ready.is_set() or n.process.poll() is not None
                                    for n in nodes), READY_S, 0.2):
            break
        for k, node in enumerate(nodes):
            if not node.ready.is_set() and "Address already in use" in node.log_tail():
                node.stop()
                nodes[k] = start(k)
    if not wait_for(lambda: all(n.ready.is_set() or n.process.poll() is not None
                                for n in nodes), READY_S, 0.2) \
            or not all(n.ready.is_set() for n in nodes):
        why = "; ".join(f"{n.node_id} (exit {n.process.poll()}): {n.log_tail()}"
                        for n in nodes if not n.ready.is_set())
        for node in nodes:
            node.stop()
        raise RuntimeError(f"an alert node did not start: {why}")
    return nodes


def wait_balanced(watcher: AlertStore, count: int, partitions: int, nats: NatsCluster) -> bool:
    """Every partition leased, no one of ``count`` nodes holding more than its share, and
    every partition's broker sessions subscribed."""
    share = -(-partitions // count)
    names = {f"{CLIENT_ID}-part-{p}-{lane}" for p in range(partitions)
             for lane in ("urgent", "readings")}

    def balanced() -> bool:
        now = now_ms()
        owners = collections.Counter(o for o, e in watcher.leases.all().values() if e > now)
        return sum(owners.values()) == partitions and max(owners.values()) <= share \
            and sessions(nats, names).keys() == names
    return wait_for(balanced, READY_S, 0.2)


def sessions(nats: NatsCluster, client_ids: set[str]) -> dict[str, tuple[str, int]]:
    """Which of ``client_ids`` are connected and subscribed, to which live broker node,
    as which connection (the broker's monitoring: node name, connection id)."""
    found: dict[str, tuple[str, int]] = {}
    for node in nats.nodes:
        if node.process is None:
            continue
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{node.monitor_port}/connz?subs=1",
                                        timeout=2) as reply:
                connections = json.load(reply).get("connections", [])
        except OSError:
            continue
        for c in connections:
            if c.get("mqtt_client") in client_ids and c.get("subscriptions_list"):
                found[c["mqtt_client"]] = (node.name, int(c["cid"]))
    return found





def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
