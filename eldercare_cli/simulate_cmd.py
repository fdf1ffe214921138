"""``eldercare simulate``: the fleet runner."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the simulator (numpy) loads only when this command runs
    from firmware_stubs.dialects import Message
    from firmware_stubs.mqtt_out import Publisher


def _start_ms(text: str | None) -> int:
    if text is None:
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        return int(now.timestamp() * 1000)
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return int(stamp.timestamp() * 1000)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help="run simulated homes that publish like real devices or edge agents",
        description=(
            "Simulate homes (a resident's seeded routine, injected incidents, devices in "
            "three dialects) on accelerated time. --level device publishes what devices send "
            "to a gateway's local broker; --level gateway publishes the batched envelopes "
            "edge agents send to the central broker. Without --broker, messages are printed."
        ),
    )
    p.add_argument("--broker", help="mqtt://HOST:PORT to publish to (default: print)")
    p.add_argument("--level", choices=["device", "gateway"], default="device")
    p.add_argument("--homes", type=int, default=3, help="number of homes (default 3)")
    p.add_argument("--speed", type=float, default=60.0,
                   help="simulated seconds per real second (default 60)")
    p.add_argument("--duration", type=float, default=60.0,
                   help="real seconds to run (default 60)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--start", help="simulated start, ISO 8601 UTC (default: now)")
    p.add_argument("--step", type=float, default=5.0,
                   help="simulated seconds per step (default 5)")
    p.add_argument("--batch-window", type=float, default=2.0,
                   help="real seconds a gateway collects routine readings (default 2)")
    p.add_argument("--incident-rate", type=float, default=0.1,
                   help="injected incidents per home and simulated day (default 0.1)")
    p.add_argument("--accel", action="store_true",
                   help="wristbands also stream raw 20 Hz accelerometer blocks")
    p.add_argument("--labels", help="write the ground-truth labels (JSON lines) here")
    p.add_argument("--qos", type=int, choices=[0, 1], default=1)
    p.add_argument("--stats", action="store_true",
                   help="report progress; the last line is JSON with the rates")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from firmware_stubs.mqtt_out import Publisher, PublishError
    from firmware_stubs.runner import Level, RunConfig, print_messages, run, stats_json

    if args.homes < 1 or args.speed <= 0 or args.duration <= 0 or args.step <= 0:
        print("error: --homes, --speed, --duration and --step must be positive",
              file=sys.stderr)
        return 2
    cfg = RunConfig(
        level=Level(args.level), homes=args.homes, speed=args.speed,
        duration_s=args.duration, seed=args.seed, start_ms=_start_ms(args.start),
        step_s=args.step, batch_window_s=args.batch_window,
        incident_rate=args.incident_rate, accel=args.accel,
    )
    publisher: Publisher | None = None
    publish: Callable[[list[Message]], None]
    if args.broker:
        try:
            publisher = Publisher(args.broker, f"eldercare-sim-{args.seed}", qos=args.qos)
        except (PublishError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        publish = publisher.publish
    else:
        publish = print_messages()
    labels = open(args.labels, "wb") if args.labels else None  # noqa: SIM115
    try:
        stats = run(cfg, publish, labels=labels,
                    progress=sys.stderr if args.stats else None)
        if publisher is not None and not publisher.flush(120.0):
            print("error: the broker did not acknowledge every message", file=sys.stderr)
            return 1
    finally:
        if labels is not None:
            labels.close()
        if publisher is not None:
            publisher.close()
    if args.stats:
        print(stats_json(stats), flush=True)
    return 0
