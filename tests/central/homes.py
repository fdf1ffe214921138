"""A home and its centre on real Mosquitto brokers and one fake clock: the central process
and the real edge agent of the sample gateway (gw-00000), its pendant able to answer."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import msgspec
import yaml

import registry
from alerts.settings import AlertSettings
from central.config import CentralConfig
from central.process import CentralProcess
from edge_agent import config as edge_config
from edge_agent.agent import Agent
from harness.mosquitto import LocalMosquitto
from harness.process import free_port
from runtime.broker import BrokerConnection
from telemetry import topics
from telemetry.clock import FakeClock
from tests.support.mqtt import Recorder
from tests.support.wait import wait_until

RESIDENT = "res-00000"
PROMPTER = topics.z2m_set("h00000/sos_pendant")


class Home(NamedTuple):
    clock: FakeClock
    central: CentralProcess
    agent: Agent
    edge: LocalMosquitto
    prompts: Recorder


def _ten_in_the_morning() -> int:
    """The next 02:00 UTC (10:00 at the sample sites, Shanghai): a daytime silence, and a
    centre a little ahead of the real time, never behind it."""
    now = dt.datetime.now(dt.UTC)
    at = now.replace(hour=2, minute=0, second=0, microsecond=0)
    if at <= now:
        at += dt.timedelta(days=1)
    return int(at.timestamp() * 1000)


@contextmanager
def running_home(tmp_path: Path) -> Iterator[Home]:
    data = yaml.safe_load(registry.SAMPLE.read_text())
    for device in data["devices"]:  # the pendant's double press answers
        if device["device_id"] == "sos-button" and device["resident_id"] == RESIDENT:
            device["kinds"] = [*device["kinds"], "answer"]
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(data))
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump({"default": {"steps": {}}}))
    clock = FakeClock(_ten_in_the_morning())
    with LocalMosquitto() as centre_broker, LocalMosquitto() as edge:
        cfg = CentralConfig(data_dir=str(tmp_path / "central"),
                            registry=str(tmp_path / "registry.yaml"),
                            broker=BrokerConnection(port=centre_broker.port),
                            alerts=AlertSettings(policy=str(tmp_path / "policy.yaml"),
                                                 callback_port=free_port(),
                                                 prompt_answer_s=120))
        central = CentralProcess(cfg, clock)
        gateway = msgspec.structs.replace(
            edge_config.load(edge_config.SAMPLE), data_dir=str(tmp_path / "edge"),
            local=BrokerConnection(port=edge.port),
            uplink=BrokerConnection(port=centre_broker.port))
        agent = Agent(gateway, clock, heartbeat_s=5)
        runner = threading.Thread(target=agent.run, daemon=True)
        prompts = Recorder(edge.port, [PROMPTER])
        try:
            central.start()
            assert central.ingest.ready.wait(30)
            runner.start()
            wait_until(lambda: agent.local_ready.is_set() and agent.uplink.connected.is_set()
                       and central.commander is not None
                       and central.commander.connected.is_set(), 20, "all connected")
            yield Home(clock, central, agent, edge, prompts)
        finally:
            prompts.close()
            agent.stop()
            runner.join(20)
            central.close()
