"""``eldercare bench ingest``: the fleet runner into a real Mosquitto, drained by ingest.

Two phases on the same machine, the same seeded stream: (1) the fleet runner at gateway
level publishes for ``duration`` seconds while ingest (registry checks, dedup, a no-op
alert hook, group-committed writes to the embedded store) drains it; (2) the same stream
again, drained by a bare paho subscriber that only decodes the envelopes. Reported:
``readings_per_s`` (stored readings over the time from the first to the last stored),
``baseline_readings_per_s`` (decoded readings over the same span for the bare
subscriber), their ratio, ``lost`` and ``duplicates`` (from the store's (gateway, seq)).
(3) When ``influxd`` is installed, the same stream into ingest with InfluxDB 1.6 as the
store: ``influx_readings_per_s`` and the points InfluxDB holds afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from firmware_stubs import site_registry
from harness.influx import LocalInfluxd, influxd_binary
from harness.mosquitto import LocalMosquitto
from ingest.consumer import Ingest
from ingest.deadletter import DeadLetters
from ingest.store.influx import InfluxStore
from ingest.store.sqlite import SqliteStore
from runtime.broker import BrokerConnection
from runtime.mqtt import MQTTv311, new_client
from telemetry import codec, topics
from telemetry.clock import SystemClock
from telemetry.topics import Channel


def simulate(port: int, homes: int, speed: float, duration: float) -> dict[str, Any]:
    import datetime as dt
    import json

    # Simulated time ends now, so the centre's timestamp checks accept every reading.
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=speed * duration + 60)
    done = subprocess.run(
        [sys.executable, "-m", "eldercare_cli.main", "simulate", "--level", "gateway",
         "--homes", str(homes), "--speed", str(speed), "--duration", str(duration),
         "--broker", f"mqtt://127.0.0.1:{port}", "--stats", "--start", start.isoformat(),
         "--incident-rate", "0"], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


class _Arrivals:
    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.count = 0
        self.first = 0.0
        self.last = 0.0

    def add(self, n: int) -> None:
        now = time.monotonic()
        with self.lock:
            if self.count == 0:
                self.first = now
            self.count += n
            self.last = now
            self.lock.notify_all()

    def wait_for(self, n: int, timeout_s: float = 600.0) -> None:
        """Until ``n`` readings have been stored, or ``timeout_s`` (the caller counts)."""
        with self.lock:
            self.lock.wait_for(lambda: self.count >= n, timeout_s)

    def rate(self) -> float:
        with self.lock:
            return self.count / max(self.last - self.first, 1e-9)


def _processes_phase(broker: LocalMosquitto, homes: int, speed: float, duration: float,
                     processes: int, work: Path, out: Any) -> dict[str, Any]:
    """``processes`` ``eldercare ingest`` processes on one shared subscription, one
    embedded store (SQLite WAL takes writers from several processes in turn)."""
    import sqlite3

    import yaml

    from central import config

    (work / "registry.yaml").write_text(yaml.safe_dump(site_registry.registry_data(homes, 1)))
    data = work / "shared-store"
    procs = []
    for i in range(processes):
        cfg = config.CentralConfig(data_dir=str(data), registry=str(work / "registry.yaml"),
                                   broker=BrokerConnection(port=broker.port),
                                   client_id=f"eldercare-ingest-{i}", share_group="bench")
        path = work / f"central-{i}.toml"
        path.write_bytes(config.dump(cfg))
        procs.append(subprocess.Popen([sys.executable, "-m", "eldercare_cli.main", "ingest",
                                       "--config", str(path)], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True))
    try:
        for proc in procs:  # each prints its line once subscribed
            assert proc.stdout is not None
            proc.stdout.readline()
        print(f"phase 1: {processes} ingest processes on a shared subscription, {homes} "
              f"homes at speed {speed} for {duration} s", file=out)
        offered: dict[str, Any] = {}
        sim = threading.Thread(target=lambda: offered.update(
            simulate(broker.port, homes, speed, duration)), daemon=True)
        sim.start()
        db = sqlite3.connect(data / "store.db", timeout=30)
        first = last = 0.0
        count = 0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            count = db.execute("SELECT COUNT(*) FROM raw").fetchone()[0]
            now = time.monotonic()
            if count and not first:
                first = now
            if offered and count >= offered["readings"]:
                last = now
                break
            time.sleep(1.0)  # a count scans the table: not too often
        stored = db.execute("SELECT COUNT(*) FROM raw").fetchone()[0]
        db.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
            if proc.stdout is not None:
                proc.stdout.close()
    return {"processes": processes, "offered_readings_per_s": offered["readings_per_s"],
            "readings_per_s": round(count / max((last or time.monotonic()) - first, 1e-9), 1),
            "readings": offered["readings"], "lost": offered["readings"] - stored,
            # the store's (gateway, seq) key stores each once; what each process handed to
            # its alert core is not visible from here (the alerts bench counts notices)
            "duplicates": None}


def _single_phase(broker: LocalMosquitto, registry: Any, homes: int, speed: float,
                  duration: float, work: Path, out: Any) -> dict[str, Any]:
    store = SqliteStore(work / "store.db")
    stored = _Arrivals()
    handed: set[tuple[str, int]] = set()
    handed_twice = [0]

    def consume(readings: list[Any]) -> None:  # what the alert core would be given
        for r in readings:
            key = (r.gateway_id, r.seq)
            if key in handed:
                handed_twice[0] += 1
            handed.add(key)

    ingest = Ingest(host="127.0.0.1", port=broker.port, registry=registry, store=store,
                    dead_letters=DeadLetters(work / "dead.db"), clock=SystemClock(),
                    consumers=[consume], on_stored=stored.add)
    ingest.start()
    ingest.ready.wait(10)
    print(f"phase 1: ingest, {homes} homes at speed {speed} for {duration} s", file=out)
    offered = simulate(broker.port, homes, speed, duration)
    stored.wait_for(offered["readings"])
    ingest.close()
    count = store.count()
    store.close()
    return {"processes": 1, "offered_readings_per_s": offered["readings_per_s"],
            "readings_per_s": round(stored.rate(), 1), "readings": offered["readings"],
            "lost": offered["readings"] - count,
            "duplicates": handed_twice[0],  # handed to the alert core more than once
            "redeliveries_dropped": ingest.counts["duplicates"],
            "refused": sum(v for k, v in ingest.counts.items() if k.startswith("refused"))}


def run(homes: int = 10_000, speed: float = 60.0, duration: float = 20.0,
        out: Any = sys.stderr, influx: bool = True, processes: int = 1) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="eldercare-bench-ingest-"))
    registry = site_registry.registry(homes, seed=1)
    result: dict[str, Any] = {}
    with LocalMosquitto() as broker:
        if processes > 1:
            result.update(_processes_phase(broker, homes, speed, duration, processes, work,
                                           out))
        else:
            result.update(_single_phase(broker, registry, homes, speed, duration, work, out))

        print("phase 2: the same stream into a bare paho subscriber that only decodes",
              file=out)
        decoded = _Arrivals()

        def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
            batch = codec.decode(bytes(msg.payload), now_ms=SystemClock().now_ms(),
                                 max_past_ms=10**12, max_future_ms=10**12)
            decoded.add(len(batch.readings))

        bare = new_client(client_id="bench-bare",
                           clean_session=False, protocol=MQTTv311)
        bare.on_message = on_message
        subscribed = threading.Event()
        bare.on_subscribe = lambda *_: subscribed.set()
        bare.connect("127.0.0.1", broker.port)
        bare.subscribe([(topics.central_filter(c), 1)
                        for c in (Channel.READINGS, Channel.URGENT)])
        bare.loop_start()
        subscribed.wait(10)
        again = simulate(broker.port, homes, speed, duration)
        deadline = time.monotonic() + 600
        while decoded.count < again["readings"] and time.monotonic() < deadline:
            time.sleep(0.2)
        bare.loop_stop()
        bare.disconnect()
        result["baseline_readings_per_s"] = round(decoded.rate(), 1)
        result["ratio_to_baseline"] = round(
            result["readings_per_s"] / max(result["baseline_readings_per_s"], 1e-9), 3)
        if influx and influxd_binary() is not None:
            print("phase 3: the same stream into ingest with InfluxDB 1.6 (v1 /write) as the "
                  "store", file=out)
            result.update(_influx_phase(broker, registry, homes, speed, duration, work))
    return result


def _influx_phase(broker: LocalMosquitto, registry: Any, homes: int, speed: float,
                  duration: float, work: Path) -> dict[str, Any]:
    server = LocalInfluxd().start()
    try:
        store = InfluxStore(server.url, "eldercare")
        stored = _Arrivals()
        ingest = Ingest(host="127.0.0.1", port=broker.port, registry=registry, store=store,
                        dead_letters=DeadLetters(work / "dead-influx.db"), clock=SystemClock(),
                        consumers=[lambda readings: None], on_stored=stored.add,
                        client_id="eldercare-ingest-influx")
        ingest.start()
        ingest.ready.wait(10)
        offered = simulate(broker.port, homes, speed, duration)
        stored.wait_for(offered["readings"])
        ingest.close()
        points = store.count()
        store.close()
    finally:
        server.close()
    # a device's two readings of one kind in the same millisecond would be one point
    return {"influx_readings_per_s": round(stored.rate(), 1),
            "influx_readings": offered["readings"], "influx_points": points,
            "influx_lost": offered["readings"] - points}


