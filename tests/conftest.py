"""Shared fixtures: real services on free loopback ports, stopped by PID."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from broker_config.local import LocalMosquitto


@pytest.fixture
def mosquitto() -> Iterator[LocalMosquitto]:
    """A real Mosquitto broker on a free loopback port for one test."""
    broker = LocalMosquitto().start()
    try:
        yield broker
    finally:
        broker.close()
