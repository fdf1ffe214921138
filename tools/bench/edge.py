"""``eldercare bench edge``: the edge agent against real local and central Mosquitto.

Measures, in one run on this machine:
  * ``cpu_us_per_reading``: the agent's CPU time per reading at a steady offered load,
    and ``baseline_cpu_us_per_message``: a bare paho subscriber's CPU time per message on
    the same stream in the same run (their ratio is ``cpu_ratio_to_baseline``);
  * ``rss_mb``: the agent's peak resident memory (VmHWM, the kernel's high-water mark), and
    ``baseline_rss_mb`` the bare paho subscriber's, for scale;
  * ``outbox_write_per_s``: one-reading outbox transactions per second (as the agent
    writes them, one per device message), measured in this process;
  * ``drain_per_s``: readings per second delivered to the centre once it returns after an
    outage under that steady load, with the backlog the outage built;
  * ``lost``: readings published by devices that never reached the centre (must be 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import msgspec
import paho.mqtt.client as mqtt

from edge_agent import config
from edge_agent.outbox import Outbox
from harness.mosquitto import LocalMosquitto
from runtime.broker import BrokerConnection
from runtime.limits import EDGE_MAX_INFLIGHT
from runtime.mqtt import MQTTv311, new_client
from telemetry import codec, health, native, topics
from telemetry.kinds import Kind, unit_of
from telemetry.reading import Reading
from telemetry.topics import Channel, NativeStream

DEVICE = "h00000-wristband"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    """The process's true peak resident memory so far (``VmHWM``), not a sample."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class CentralCounter:
    """Counts unique (gateway, seq) readings arriving at the central broker."""

    def __init__(self, port: int) -> None:
        self.seqs: set[int] = set()
        self.messages = 0
        self.arrivals: list[tuple[float, int]] = []  # (monotonic time, unique count)
        self.online_at: list[float] = []  # when the gateway's birth message arrived
        self._lock = threading.Lock()
        self._client = new_client(client_id="bench-ingest",
                                   clean_session=False, protocol=MQTTv311)
        self._client.reconnect_delay_set(1, 2)
        self._client.on_connect = lambda c, *a: c.subscribe(
            [(topics.central_filter(Channel.READINGS), 1),
             (topics.central_filter(Channel.URGENT), 1),
             (topics.central_filter(Channel.STATUS), 1)])
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object,
                    msg: mqtt.MQTTMessage) -> None:
        if topics.parse_central(msg.topic).channel is Channel.STATUS:
            if msg.payload == health.ONLINE:
                self.online_at.append(time.monotonic())
            return
        batch = codec.decode(bytes(msg.payload), now_ms=time.time_ns() // 1_000_000,
                             max_past_ms=10**12)
        with self._lock:
            self.messages += 1
            self.seqs.update(r.seq for r in batch.readings)
            self.arrivals.append((time.monotonic(), len(self.seqs)))

    def unique(self) -> int:
        with self._lock:
            return len(self.seqs)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def _wait(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _paced_publish(port: int, rate_per_s: float, seconds: float, per_message: int = 1) -> int:
    """Publish native wristband vitals at ``rate_per_s`` readings a second, each message
    carrying ``per_message`` readings (1: heart rate; 4: also SpO2, skin temperature,
    battery); returns the readings sent."""
    client = new_client(client_id="bench-devices",
                         protocol=MQTTv311)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    topic = topics.native(DEVICE, NativeStream.VITALS)
    began = time.monotonic()
    count = 0
    total = int(rate_per_s * seconds)
    last = None
    while count < total:
        due = began + count / rate_per_s
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        ts = time.time_ns() // 1_000_000
        if per_message == 4:
            vitals = native.Vitals(ts=ts, hr=60.0 + count % 40, spo2=97.0, skin_temp=33.5,
                                   battery=80.0)
        else:
            vitals = native.Vitals(ts=ts, hr=60.0 + count % 40)
        last = client.publish(topic, native.encode(vitals), qos=1)
        count += per_message
    if last is not None:
        last.wait_for_publish(30)
    client.loop_stop()
    client.disconnect()
    return count


BASELINE = """
import sys, threading
from runtime.mqtt import new_client
c = new_client(client_id="bench-baseline")
c.on_connect = lambda c, *a: c.subscribe("native/#", 1)
c.connect("127.0.0.1", int(sys.argv[1]))
print("ready", flush=True)
c.loop_forever()
"""


def _outbox_writes_per_s(folder: Path, seconds: float = 3.0) -> float:
    box = Outbox(folder / "bench-outbox.db", 512 * 1024 * 1024)
    r = Reading("site-000", "gw-00000", "wristband", Kind.HEART_RATE, 70.0,
                unit_of(Kind.HEART_RATE), 0, 0, 0, "res-00000")
    began = time.monotonic()
    n = 0
    while time.monotonic() - began < seconds:
        box.append([r])
        n += 1
    rate = n / (time.monotonic() - began)
    box.close()
    return rate


def run(rate_per_s: float = 1000.0, steady_s: float = 20.0, outage_s: float = 60.0,
        out: IO[str] = sys.stderr) -> dict[str, float | int]:
    work = Path(tempfile.mkdtemp(prefix="eldercare-bench-edge-"))
    edge = LocalMosquitto(persistence=True,  # as `eldercare broker-config edge` sets it
                          extra_config=f"max_inflight_messages {EDGE_MAX_INFLIGHT}").start()
    central = LocalMosquitto(persistence=True).start()
    cfg_path = work / "gateway.toml"
    sample = config.load(config.SAMPLE)
    cfg = msgspec.structs.replace(
        sample, data_dir=str(work / "edge-data"), link_test=False,  # (counts every reading)
        local=BrokerConnection(port=edge.port),
        uplink=BrokerConnection(port=central.port))
    cfg_path.write_bytes(config.dump(cfg))
    counter = CentralCounter(central.port)
    agent = subprocess.Popen([sys.executable, "-m", "eldercare_cli.main", "edge", "--config",
                              str(cfg_path)], stdout=subprocess.DEVNULL,
                             stderr=(work / "agent.log").open("wb"))
    baseline = subprocess.Popen([sys.executable, "-c", BASELINE, str(edge.port)],
                                stdout=subprocess.PIPE, text=True)
    result: dict[str, float | int] = {}
    try:
        assert baseline.stdout is not None
        baseline.stdout.readline()
        # Probe readings until one arrives end to end: the agent is up, subscribed and
        # connected. Probes sent before it subscribed are gone (they were never its), so
        # the count starts from the probes that arrived.
        for _ in range(100):
            _paced_publish(edge.port, 10.0, 0.1)
            if _wait(lambda: counter.unique() > 0, 1.0):
                break
        time.sleep(1.0)  # let a probe still on its way land before counting
        probe = counter.unique()
        print(f"steady load: {rate_per_s:.0f} readings/s for {steady_s:.0f} s", file=out)
        a0, b0 = cpu_s(agent.pid), cpu_s(baseline.pid)
        steady = _paced_publish(edge.port, rate_per_s, steady_s)
        sent = probe + steady
        _wait(lambda: counter.unique() >= sent, 30)
        a1, b1 = cpu_s(agent.pid), cpu_s(baseline.pid)
        result["cpu_us_per_reading"] = round((a1 - a0) / steady * 1e6, 1)
        result["baseline_cpu_us_per_message"] = round((b1 - b0) / steady * 1e6, 1)
        result["cpu_ratio_to_baseline"] = round((a1 - a0) / max(b1 - b0, 1e-9), 2)
        print("steady load again, four readings per device message", file=out)
        a0 = cpu_s(agent.pid)
        steady4 = _paced_publish(edge.port, rate_per_s, steady_s, per_message=4)
        sent += steady4
        _wait(lambda: counter.unique() >= sent, 30)
        result["cpu_us_per_reading_4_per_message"] = round(
            (cpu_s(agent.pid) - a0) / steady4 * 1e6, 1)
        print(f"outage: central stopped for {outage_s:.0f} s under the same load", file=out)
        central.stop()
        backlog = _paced_publish(edge.port, rate_per_s, outage_s)
        sent += backlog
        before = counter.unique()
        births = len(counter.online_at)
        central.start()
        _wait(lambda: counter.unique() >= sent, 300)
        # The drain runs from the uplink's reconnection (its birth message reaching the
        # centre, after its backoff) to the last reading of the backlog.
        reconnected = counter.online_at[births] if len(counter.online_at) > births else 0.0
        last_arrival, last_count = counter.arrivals[-1]
        result["drain_per_s"] = round((last_count - before) / max(
            last_arrival - reconnected, 1e-3), 1)
        result["backlog_readings"] = backlog
        result["rss_mb"] = round(peak_rss_mb(agent.pid), 1)
        result["baseline_rss_mb"] = round(peak_rss_mb(baseline.pid), 1)
        result["outbox_write_per_s"] = round(_outbox_writes_per_s(work), 1)
        result["readings_sent"] = sent
        result["lost"] = sent - counter.unique()
    finally:
        agent.terminate()
        agent.wait(20)
        baseline.terminate()
        baseline.wait(10)
        counter.close()
        edge.close()
        central.close()
    return result
