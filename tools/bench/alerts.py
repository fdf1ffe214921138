"""``eldercare bench alerts``: the alert core's speed and size.

Three measurements, each with a baseline taken in the same run:

1. **Fall to notice** under background load: the fleet runner publishes ``homes`` homes
   at gateway level into a real Mosquitto while the central process (ingest + the alert
   core, as configured with ``store_workers`` store worker processes writing the embedded
   store beside it) drains it; meanwhile single falls are published (as an edge publishes
   them) for one resident after another, with a policy that texts the family at once through a real
   Kannel. Reported: p50 / p99 from the publish to the dashboard-facing event
   (``fall_to_event_ms_*``) and to Kannel accepting the SMS (``fall_to_notice_ms_*``);
   baseline: the same publishes received by a bare subscriber (the broker's own latency);
   and, after the run, Kannel's own answer time for the same sendsms with nothing else
   running (``kannel_alone_ms_*``: asking for a delivery report, an answer takes 1-3 ms,
   but some 38 ms when a report of the message before crossed the bearerbox-smsbox link
   within the last ~40 ms: that link has no TCP_NODELAY, so the second write waits for
   smsbox's delayed ACK).
   ``background_readings_per_s`` is what the alert core took in while the falls were
   published, ``stored_readings_per_s`` what reached the store over the same span.
2. **Detector throughput**: the full bank of 10,000 residents over two minutes of their
   readings (noon), against a baseline loop that only looks each reading's device up in
   the registry (the least any consumer does).
3. **Memory**: a fresh process with the registry and bank of 100,000 residents after a
   step of their readings; baseline: the same process with the registry only.
"""

from __future__ import annotations

import functools
import json
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml

from alerts.model import AlertChange, Change, Notice, NoticeState
from alerts.notify.kannel import KannelNotifier
from alerts.settings import AlertSettings, KannelSettings
from bench.ingest import simulate
from bench.stats import pct
from central.config import CentralConfig
from central.process import CentralProcess
from firmware_stubs import layout, site_registry
from harness.kannel import LocalKannel, reply_url
from harness.mosquitto import LocalMosquitto
from harness.process import free_port
from runtime.broker import BrokerConnection
from runtime.mqtt import MQTTv311, new_client
from telemetry import codec, topics
from telemetry.clock import SystemClock
from telemetry.kinds import FallStatus, Kind, unit_of
from telemetry.reading import Reading
from telemetry.topics import Channel

SEED = 1


def _now_ms() -> float:
    return time.time_ns() / 1e6


def fall_latency(homes: int, speed: float, duration: float, falls: int, out: Any,
                 store_workers: int = 1) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="eldercare-bench-alerts-"))
    (work / "registry.yaml").write_text(
        yaml.safe_dump(site_registry.registry_data(homes, SEED)))
    policy = work / "policy.yaml"
    policy.write_text(yaml.safe_dump({"default": {"steps": {"fall": [
        {"after_s": 0, "channel": "sms", "to": "family"}]}}}))
    callback_port = free_port()
    token = secrets.token_urlsafe(24)
    kannel = LocalKannel(reply_url(callback_port, token))
    (work / "kannel.password").write_text(kannel.password)
    (work / "callback.token").write_text(token)
    settings = AlertSettings(policy=str(policy), callback_port=callback_port,
                             reply_token_file=str(work / "callback.token"),
                             kannel=KannelSettings(kannel.sendsms_url, kannel.username,
                                                   str(work / "kannel.password")))
    published: dict[str, float] = {}
    evented: dict[str, float] = {}
    received: dict[str, float] = {}

    def on_change(change: AlertChange) -> None:
        if change.change is Change.OPENED:
            evented.setdefault(change.alert.subject, _now_ms())

    result: dict[str, Any] = {}
    with LocalMosquitto() as broker:
        kannel.start()
        cfg = CentralConfig(data_dir=str(work / "central"), registry=str(work / "registry.yaml"),
                            broker=BrokerConnection(port=broker.port), alerts=settings,
                            store_workers=store_workers)
        central = CentralProcess(cfg, SystemClock())
        assert central.alerts is not None
        service = central.alerts
        service.core.listeners.append(on_change)
        bare = new_client(client_id="bench-bare-urgent",
                           protocol=MQTTv311)

        def on_bare(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
            gateway = topics.parse_central(msg.topic).gateway_id
            received.setdefault(gateway, _now_ms())

        bare.on_message = on_bare
        bare.connect("127.0.0.1", broker.port)
        bare.subscribe(topics.central_filter(Channel.URGENT), qos=1)
        bare.loop_start()
        central.start()
        central.ingest.ready.wait(10)
        detected = functools.partial(central.ingest.count,
                                     "handed" if store_workers else "stored")
        stored = _StoredCount(work / "central" / "store.db")
        load: dict[str, Any] = {}
        sim = threading.Thread(target=lambda: load.update(
            simulate(broker.port, homes, speed, duration)), daemon=True)
        print(f"fall latency: {falls} falls under {homes} homes at speed {speed}, "
              f"{store_workers} store workers", file=out)
        sim.start()
        while detected() < 50_000 and sim.is_alive():
            time.sleep(0.1)
        load_start = (time.monotonic(), detected(), stored.count())
        publisher = new_client(client_id="bench-edge",
                                protocol=MQTTv311)
        publisher.connect("127.0.0.1", broker.port)
        publisher.loop_start()
        gap_s = max(0.05, duration * 0.6 / falls)
        for i in range(falls):
            home = (i * 7919) % homes
            gateway, site = layout.gateway_id(home), layout.site_id(home)
            now = int(_now_ms())
            fall = Reading(site, gateway, "pendant", Kind.FALL, float(FallStatus.FALL),
                           unit_of(Kind.FALL), now, now, 10**9 + i, layout.resident_id(home))
            payload = codec.encode(gateway, site, now, [fall])
            published[layout.resident_id(home)] = _now_ms()
            received.pop(gateway, None)
            publisher.publish(topics.central(gateway, Channel.URGENT), payload, qos=1)
            time.sleep(gap_s)
        load_end = (time.monotonic(), detected(), stored.count())
        sim.join()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(service.db.notices.of()) < falls:
            time.sleep(0.2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
                n.sent_ms is None for n in service.db.notices.of()):
            time.sleep(0.2)
        publisher.loop_stop()
        bare.loop_stop()
        notices = service.db.notices.of()
        alerts = {a.alert_id: a.subject for a in service.db.alerts.find()}
        central.close()
        stored.close()
        kannel_ms = _kannel_alone(kannel, falls)
        kannel.close()
    base = [received[layout.gateway_id(int(r[4:]))] - t for r, t in published.items()
            if layout.gateway_id(int(r[4:])) in received]
    to_event = [evented[r] - t for r, t in published.items() if r in evented]
    to_notice = [n.sent_ms - published[alerts[n.alert_id]] for n in notices
                 if n.sent_ms is not None and alerts[n.alert_id] in published]
    span = max(load_end[0] - load_start[0], 1e-9)
    result.update({
        "falls": falls, "alerts_opened": len(evented), "notices_sent": len(to_notice),
        "store_workers": store_workers,
        "background_readings_per_s": round((load_end[1] - load_start[1]) / span, 1),
        "stored_readings_per_s": round((load_end[2] - load_start[2]) / span, 1),
        "offered_readings_per_s": load.get("readings_per_s"),
        "fall_to_event_ms_p50": pct(to_event, 0.5), "fall_to_event_ms_p99": pct(to_event, 0.99),
        "fall_to_notice_ms_p50": pct(to_notice, 0.5),
        "fall_to_notice_ms_p99": pct(to_notice, 0.99),
        "baseline_broker_ms_p50": pct(base, 0.5), "baseline_broker_ms_p99": pct(base, 0.99),
        "kannel_alone_ms_p50": pct(kannel_ms, 0.5), "kannel_alone_ms_p99": pct(kannel_ms, 0.99),
    })
    return result


def _kannel_alone(kannel: LocalKannel, n: int) -> list[float]:
    """Kannel's own share: the same sendsms the notifier makes (a delivery report asked
    for), one at a time with nothing else running, from the request to its answer."""
    notifier = KannelNotifier(kannel.sendsms_url, kannel.username, kannel.password,
                              callback_base="http://127.0.0.1:9", callback_token="t" * 24)
    out = []
    for i in range(n):
        notice = Notice(i + 1, 1, 0, 0, "sms", "+8613800000000", "en", "bench", "bench",
                        "{}", NoticeState.PENDING, 0, 0, 0)
        started = _now_ms()
        notifier.send(notice)
        out.append(_now_ms() - started)
        time.sleep(0.02)
    return out


class _StoredCount:
    """Rows in the embedded store, whichever process wrote them."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, timeout=30)

    def count(self) -> int:
        n: int = self._db.execute("SELECT COUNT(*) FROM raw").fetchone()[0]
        return n

    def close(self) -> None:
        self._db.close()


def detector_throughput(homes: int = 10_000, seconds: int = 120) -> dict[str, Any]:
    from alerts.detectors.bank import DetectorBank
    from firmware_stubs.engine import Fleet
    from firmware_stubs.gateway_level import GatewayRenderer

    noon = 1_767_268_800_000  # 2026-01-01 12:00 UTC, the simulated homes' noon
    registry = site_registry.registry(homes, SEED)
    fleet = Fleet(homes, SEED, noon - 3_600_000, [])
    renderer = GatewayRenderer(homes)
    fleet.step(noon - 3_600_000, noon)
    steps = [renderer.readings(fleet.step(noon + k * 10_000, noon + (k + 1) * 10_000))
             for k in range(seconds // 10)]
    total = sum(len(s) for s in steps)
    bank = DetectorBank(registry, noon - 3_600_000)
    bank.tick(noon)  # the slow sweep once, as a running bank would have done
    started = time.perf_counter()
    for k, batch in enumerate(steps):
        for lo in range(0, len(batch), 2000):
            bank.observe(batch[lo:lo + 2000])
        bank.tick(noon + (k + 1) * 10_000)
    bank_s = time.perf_counter() - started
    started = time.perf_counter()
    found = 0
    for batch in steps:
        for r in batch:
            found += registry.device(r.gateway_id, r.device_id) is not None
    base_s = time.perf_counter() - started
    return {"detector_residents": homes, "detector_readings": total,
            "detector_readings_per_s": round(total / bank_s, 1),
            "baseline_lookup_readings_per_s": round(total / base_s, 1),
            "detector_ratio_to_baseline": round(base_s / bank_s, 3)}


_RSS_PROBE = """
import json, sys
from firmware_stubs import site_registry
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
homes = int(sys.argv[1]); with_bank = sys.argv[2] == '1'
registry = site_registry.registry(homes, 1)
if with_bank:
    from alerts.detectors.bank import DetectorBank
    from firmware_stubs.engine import Fleet
    from firmware_stubs.gateway_level import GatewayRenderer
    noon = 1_767_268_800_000
    bank = DetectorBank(registry, noon)
    fleet = Fleet(homes, 1, noon, [])
    batch = GatewayRenderer(homes).readings(fleet.step(noon, noon + 10_000))
    for lo in range(0, len(batch), 5000):
        bank.observe(batch[lo:lo + 5000])
    bank.tick(noon + 10_000)
    del batch, fleet
print(json.dumps({"rss_mb": rss()}))
"""


def memory(residents: int = 100_000) -> dict[str, Any]:
    def probe(with_bank: bool) -> float:
        done = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(residents),
                               "1" if with_bank else "0"], capture_output=True, text=True,
                              check=True)
        value: float = json.loads(done.stdout.splitlines()[-1])["rss_mb"]
        return round(value, 1)

    with_bank = probe(True)
    registry_only = probe(False)
    return {"rss_mb_at_100k_residents": with_bank, "baseline_registry_rss_mb": registry_only,
            "bank_mb_per_1k_residents": round((with_bank - registry_only)
                                              / (residents / 1000), 2)}


def run(homes: int = 10_000, speed: float = 60.0, duration: float = 20.0, falls: int = 200,
        out: Any = sys.stderr, store_workers: int = 1) -> dict[str, Any]:
    result = fall_latency(homes, speed, duration, falls, out, store_workers)
    print("detector throughput at 10,000 residents", file=out)
    result.update(detector_throughput())
    print("memory at 100,000 residents", file=out)
    result.update(memory())
    notice, broker = result["fall_to_notice_ms_p99"], result["baseline_broker_ms_p99"]
    result["fall_ratio_to_broker_p99"] = None if notice is None or broker is None \
        else round(notice / max(broker, 1e-9), 1)
    return result
