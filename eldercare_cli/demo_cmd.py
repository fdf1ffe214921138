"""``eldercare demo``: simulated homes publishing into a local broker, shown as they arrive.

Until the centre (ingest, alerts, dashboard) lands this shows the first half of the data
path: a real Mosquitto on a free loopback port (when installed), simulated devices in
their own dialects, and a subscriber printing what reaches the broker. Without Mosquitto
the messages are printed as they are made.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the simulator (numpy) loads only when this command runs
    from firmware_stubs import incidents as inc


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="run a small simulated home fleet into a local broker and show it",
        description=__doc__,
    )
    p.add_argument("--homes", type=int, default=3)
    p.add_argument("--speed", type=float, default=60.0)
    p.add_argument("--duration", type=float, default=120.0, help="real seconds (default 120)")
    p.set_defaults(handler=_handle)


def _scripted(start_ms: int) -> tuple[inc.Incident, ...]:
    """The first incidents, so something happens within the first two minutes."""
    from firmware_stubs import incidents as inc

    minute = inc.MIN_MS
    return (
        inc.make(inc.IncidentKind.FALL, 0, start_ms + 20 * minute, 30 * minute),
        inc.make(inc.IncidentKind.DESATURATION, 1 % 3, start_ms + 40 * minute, 20 * minute),
        inc.make(inc.IncidentKind.SOS, 2 % 3, start_ms + 70 * minute, minute),
    )


def _handle(args: argparse.Namespace) -> int:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from broker_config.local import BrokerError, LocalMosquitto
    from firmware_stubs.mqtt_out import Publisher
    from firmware_stubs.runner import Level, RunConfig, print_messages, run, stats_json

    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    start_ms = int(now.timestamp() * 1000)
    cfg = RunConfig(level=Level.DEVICE, homes=args.homes, speed=args.speed,
                    duration_s=args.duration, start_ms=start_ms, incident_rate=0.0,
                    extra_incidents=_scripted(start_ms) if args.homes >= 3 else ())
    try:
        broker = LocalMosquitto().start()
    except BrokerError as exc:
        print(f"no local broker ({exc}); printing what the devices send", file=sys.stderr)
        stats = run(cfg, print_messages())
        print(stats_json(stats))
        return 0
    print(f"mosquitto listening on {broker.url} (pid {broker.pid})", flush=True)
    lock = threading.Lock()

    def show(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with lock:
            print(f"{msg.topic}  {msg.payload.decode(errors='replace')}", flush=True)

    watcher = mqtt.Client(CallbackAPIVersion.VERSION2)
    watcher.on_message = show
    try:
        watcher.connect("127.0.0.1", broker.port)
        watcher.subscribe("#", qos=1)
        watcher.loop_start()
        publisher = Publisher(broker.url, "eldercare-demo-sim")
        try:
            stats = run(cfg, publisher.publish)
            publisher.flush()
        finally:
            publisher.close()
        print(stats_json(stats), flush=True)
    except KeyboardInterrupt:
        return 130
    finally:
        watcher.loop_stop()
        broker.close()
    return 0
