"""A real NATS cluster (Debian ``nats-server``) with its MQTT listener and JetStream, on
free loopback ports, each node stopped (or killed) by PID, from the configuration the
product generates (``broker_config.nats``: the partition mapping, and with ``passwords``
the per-gateway users and permissions).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from types import TracebackType

from broker_config.certs import Authority
from broker_config.nats import NodeAddress, TlsFiles, node_config
from harness import process
from harness.process import ServiceError, free_port


class NatsError(ServiceError):
    """nats-server is missing or a node would not start."""


def nats_binary() -> str:
    for candidate in (shutil.which("nats-server"), "/usr/sbin/nats-server"):
        if candidate and Path(candidate).exists():
            return candidate
    raise NatsError("nats-server is not installed (Debian package 'nats-server')")


class NatsNode:
    def __init__(self, cluster: NatsCluster, index: int) -> None:
        self.cluster = cluster
        self.name = f"n{index + 1}"
        self.pick_ports()
        self.workdir = cluster.workdir / self.name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "nats.conf"
        self.log_path = self.workdir / "nats.log"
        self.process: subprocess.Popen[bytes] | None = None

    def pick_ports(self) -> None:
        self.client_port, self.mqtt_port, self.route_port, self.monitor_port = (
            free_port() for _ in range(4))

    @property
    def address(self) -> NodeAddress:
        return NodeAddress("127.0.0.1", self.mqtt_port, self.client_port, self.route_port,
                           self.monitor_port)

    def write_config(self) -> None:
        nodes = [n.address for n in self.cluster.nodes]
        self.config_path.write_text(node_config(
            nodes, self.cluster.nodes.index(self), partitions=self.cluster.partitions,
            store_dir=str(self.workdir / "js"), passwords=self.cluster.passwords,
            tls=self.cluster.tls))

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

    def __init__(self, size: int = 3, partitions: int = 6,
                 passwords: dict[str, str] | None = None, tls: bool = False) -> None:
        self.partitions = partitions
        self.passwords = passwords  # per user (gateways and "ingest"); None: no auth
        self.workdir = Path(tempfile.mkdtemp(prefix="eldercare-nats-"))
        # with ``tls``: MQTT over TLS only, a server certificate for 127.0.0.1 from a CA
        # whose certificate is ``ca_file``
        self.tls: TlsFiles | None = None
        self.ca_file: Path | None = None
        if tls:
            ca = Authority(self.workdir / "ca")
            ca.issue("127.0.0.1", self.workdir / "server", server_host="127.0.0.1")
            self.tls = TlsFiles(str(self.workdir / "server.crt"),
                                str(self.workdir / "server.key"))
            self.ca_file = ca.cert_path
        self.nodes: list[NatsNode] = []
        self.nodes = [NatsNode(self, i) for i in range(size)]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", n.mqtt_port) for n in self.nodes]

    def start(self, timeout_s: float = 60.0, attempts: int = 3) -> NatsCluster:
        """Start every node; a port taken between picking it and binding it (another
        process on this machine got it first) means new ports for all, up to
        ``attempts`` times."""
        for attempt in range(attempts):
            for node in self.nodes:
                node.write_config()
            for node in self.nodes:
                node.start()
            try:
                for node in self.nodes:
                    node.wait_ready(timeout_s)
                return self
            except ServiceError as exc:
                self.stop()
                if "address already in use" not in str(exc) or attempt == attempts - 1:
                    raise NatsError(str(exc)) from exc
                for node in self.nodes:
                    shutil.rmtree(node.workdir / "js", ignore_errors=True)
                    node.pick_ports()
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
