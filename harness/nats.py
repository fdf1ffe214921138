"""A real NATS cluster (Debian ``nats-server``) with its MQTT listener and JetStream, on
free loopback ports, each node stopped (or killed) by PID.

The gateways' MQTT topics ``eldercare/v1/<gateway>/<channel>`` are mapped, on every node,
to ``part/<n>/eldercare/v1/<gateway>/<channel>`` where ``n`` is the gateway's partition
(the server's own hash of the gateway id; ``alerts.partitions`` computes the same), so an
alert node subscribes to its partitions only.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from types import TracebackType

from harness import process
from harness.process import ServiceError, free_port
from telemetry import topics


class NatsError(ServiceError):
    """nats-server is missing or a node would not start."""


def nats_binary() -> str:
    for candidate in (shutil.which("nats-server"), "/usr/sbin/nats-server"):
        if candidate and Path(candidate).exists():
            return candidate
    raise NatsError("nats-server is not installed (Debian package 'nats-server')")


def partition_mapping(partitions: int) -> dict[str, str]:
    """The account mapping that puts each gateway's topics under its partition."""
    root = topics.CENTRAL_ROOT.replace("/", ".")
    return {f"{root}.*.*": f"{topics.PARTITION_ROOT}.{{{{partition({partitions},1)}}}}."
                           f"{root}.{{{{wildcard(1)}}}}.{{{{wildcard(2)}}}}"}


class NatsNode:
    def __init__(self, cluster: NatsCluster, index: int) -> None:
        self.cluster = cluster
        self.name = f"n{index + 1}"
        self.client_port = free_port()
        self.mqtt_port = free_port()
        self.route_port = free_port()
        self.monitor_port = free_port()
        self.workdir = cluster.workdir / self.name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "nats.conf"
        self.log_path = self.workdir / "nats.log"
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self) -> None:
        routes = ", ".join(f"nats://127.0.0.1:{n.route_port}" for n in self.cluster.nodes
                           if n is not self)
        mappings = ", ".join(f'"{k}": "{v}"' for k, v in
                             partition_mapping(self.cluster.partitions).items())
        cluster = "" if len(self.cluster.nodes) == 1 else (
            f"cluster {{ name: eldercare, listen: 127.0.0.1:{self.route_port}, "
            f"routes: [{routes}] }}\n")
        # The MQTT sessions and queued messages live in JetStream streams: replicated on
        # every node (up to 3) so that the loss of one keeps a quorum.
        size = len(self.cluster.nodes)
        replicas = "" if size == 1 else f", stream_replicas: {min(size, 3)}"
        self.config_path.write_text(
            f"server_name: {self.name}\n"
            f"listen: 127.0.0.1:{self.client_port}\n"
            f"http: 127.0.0.1:{self.monitor_port}\n"
            f"jetstream {{ store_dir: \"{self.workdir / 'js'}\" }}\n"
            f"{cluster}"
            f"mqtt {{ listen: 127.0.0.1:{self.mqtt_port}{replicas} }}\n"
            f"mappings = {{ {mappings} }}\n")

    def start(self) -> None:
        self.process = process.spawn([nats_binary(), "-c", str(self.config_path)],
                                     self.log_path)

    def healthy(self) -> bool:
        if not process.listening(self.mqtt_port):
            return False
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=1) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def wait_ready(self, timeout_s: float) -> None:
        process.wait_ready(self.healthy, f"nats node {self.name}", timeout_s, self.process,
                           self.log_path)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self) -> None:
        process.stop(self.process)
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crashed machine."""
        process.kill(self.process)
        self.process = None


class NatsCluster:
    """``size`` nodes routed to each other; ``addresses`` lists their MQTT listeners."""

    def __init__(self, size: int = 3, partitions: int = 6) -> None:
        self.partitions = partitions
        self.workdir = Path(tempfile.mkdtemp(prefix="eldercare-nats-"))
        self.nodes: list[NatsNode] = []
        self.nodes = [NatsNode(self, i) for i in range(size)]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", n.mqtt_port) for n in self.nodes]

    def start(self, timeout_s: float = 60.0) -> NatsCluster:
        for node in self.nodes:
            node.write_config()
        for node in self.nodes:
            node.start()
        try:
            for node in self.nodes:
                node.wait_ready(timeout_s)
        except ServiceError as exc:
            self.stop()
            raise NatsError(str(exc)) from exc
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
