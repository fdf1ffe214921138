"""Two real brokers (the gateway's and the centre's) and a gateway config pointing at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from broker_config.local import LocalMosquitto
from edge_agent import config
from edge_agent.config import BrokerConfig, GatewayConfig


@pytest.fixture
def edge_broker() -> Iterator[LocalMosquitto]:
    broker = LocalMosquitto(persistence=True).start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def central_broker() -> Iterator[LocalMosquitto]:
    broker = LocalMosquitto(persistence=True).start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def gateway_config(tmp_path: Path, edge_broker: LocalMosquitto,
                   central_broker: LocalMosquitto) -> GatewayConfig:
    """The shipped sample config (home h00000 of the simulator), on the test brokers."""
    sample = config.load(config.SAMPLE)
    return msgspec.structs.replace(
        sample, data_dir=str(tmp_path / "edge-data"),
        local=BrokerConfig(port=edge_broker.port),
        uplink=BrokerConfig(port=central_broker.port))
