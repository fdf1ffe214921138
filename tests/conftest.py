"""Shared fixtures: real services on free loopback ports, stopped by PID."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.influx import LocalInfluxd
from harness.mosquitto import LocalMosquitto
from harness.postgres import LocalPostgres
from harness.process import free_port
from tests.support.wait import wait_until

PROXY = Path(__file__).resolve().parents[2] / "shared" / "tools" / "influx_v2_write_proxy.py"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--clock-ahead-days", type=int, default=0,
                     help="move this process's real clock (SystemClock) so many days ahead, "
                          "to prove no test depends on the calendar date")


def pytest_configure(config: pytest.Config) -> None:
    days = config.getoption("--clock-ahead-days")
    if days:
        from telemetry.clock import SystemClock

        real = SystemClock.now_ms
        ahead_ms = days * 86_400_000
        SystemClock.now_ms = lambda self: real(self) + ahead_ms  # type: ignore[method-assign]


@pytest.fixture
def mosquitto() -> Iterator[LocalMosquitto]:
    """A real Mosquitto broker on a free loopback port for one test."""
    broker = LocalMosquitto().start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL 15 cluster (Debian ``postgresql``) in a temporary folder for the
    session; each test makes its own database (``fresh_database``)."""
    server = LocalPostgres().start()
    try:
        yield server
    finally:
        server.close()


_databases = iter(range(1, 1_000_000))


@pytest.fixture
def fresh_database(postgres: LocalPostgres) -> str:
    """The DSN of a new, empty PostgreSQL database for one test."""
    return postgres.create_database(f"test_{next(_databases)}")


@pytest.fixture(scope="session")
def influxd() -> Iterator[LocalInfluxd]:
    """A real InfluxDB 1.6 (Debian ``influxd``) for the session; tests use own databases."""
    server = LocalInfluxd().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def influx_v2_proxy(influxd: LocalInfluxd) -> Iterator[str]:
    """The shared tool that forwards v2 writes to InfluxDB 1.x, so ``influxdb-client``'s
    write path runs against the real engine. Yields its URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(PROXY), "--listen", str(port),
                             "--upstream", influxd.url])
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(up, 15, "the v2 write proxy")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
