"""Two real brokers (the gateway's and the centre's) and a gateway config pointing at them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest

from edge_agent import config
from edge_agent.agent import Agent
from edge_agent.config import GatewayConfig
from harness.mosquitto import LocalMosquitto
from harness.nats import NatsCluster
from runtime.backoff import Backoff
from runtime.broker import BrokerConnection
from runtime.limits import EDGE_MAX_INFLIGHT
from telemetry.clock import SystemClock


@contextmanager
def _broker(extra_config: str = "") -> Iterator[LocalMosquitto]:
    broker = LocalMosquitto(persistence=True, extra_config=extra_config).start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def edge_broker() -> Iterator[LocalMosquitto]:
    """The gateway's broker, with the in-flight window the generated edge config sets."""
    with _broker(f"max_inflight_messages {EDGE_MAX_INFLIGHT}") as broker:
        yield broker


@pytest.fixture
def central_broker() -> Iterator[LocalMosquitto]:
    with _broker() as broker:
        yield broker


@pytest.fixture
def gateway_config(tmp_path: Path, edge_broker: LocalMosquitto,
                   central_broker: LocalMosquitto) -> GatewayConfig:
    """The shipped sample config (home h00000 of the simulator), on the test brokers;
    without its daily test alarm, which would add a reading on whichever day a test's run
    falls in its window (it has tests of its own)."""
    sample = config.load(config.SAMPLE)
    return msgspec.structs.replace(
        sample, data_dir=str(tmp_path / "edge-data"), link_test=False,
        local=BrokerConnection(port=edge_broker.port),
        uplink=BrokerConnection(port=central_broker.port))


@contextmanager
def running_agent(cfg: GatewayConfig) -> Iterator[Agent]:
    """An edge agent in this process, with a quick heartbeat and a short reconnect backoff."""
    agent = Agent(cfg, SystemClock(), heartbeat_s=0.5, uplink_backoff=Backoff(0.05, 1.0))
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:
        yield agent
    finally:
        agent.stop()
        runner.join(20)


@pytest.fixture
def agent(gateway_config: GatewayConfig) -> Iterator[Agent]:
    with running_agent(gateway_config) as a:
        yield a


NATS_PARTITIONS = 4


@pytest.fixture
def nats() -> Iterator[NatsCluster]:
    """Three real NATS nodes with their MQTT listeners (a clustered broker)."""
    cluster = NatsCluster(3, NATS_PARTITIONS).start()
    try:
        yield cluster
    finally:
        cluster.close()
