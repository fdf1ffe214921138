"""The fleet runner: many simulated homes publishing at once, on accelerated time."""

from __future__ import annotations

import enum
import json
import sys
import time
from collections.abc import Callable
from typing import IO

import msgspec
import numpy as np

from firmware_stubs import incidents as inc
from firmware_stubs.device_level import DeviceRenderer
from firmware_stubs.dialects import Message
from firmware_stubs.engine import Fleet
from firmware_stubs.gateway_level import GatewayRenderer
from firmware_stubs.routine import Profiles
from telemetry.clock import DAY_MS, Clock, SystemClock


class Level(enum.StrEnum):
    DEVICE = "device"
    GATEWAY = "gateway"


class RunConfig(msgspec.Struct, frozen=True, kw_only=True):
    level: Level = Level.DEVICE
    homes: int = 3
    speed: float = 60.0
    duration_s: float = 60.0
    seed: int = 1
    start_ms: int
    step_s: float = 5.0
    batch_window_s: float = 2.0
    incident_rate: float = 0.1
    extra_incidents: tuple[inc.Incident, ...] = ()
    accel: bool = False


class RunStats(msgspec.Struct, kw_only=True):
    level: str
    homes: int
    speed: float
    sim_seconds: float
    elapsed_s: float
    readings: int
    messages: int
    bytes: int
    readings_per_s: float
    messages_per_s: float
    behind_s: float
    incidents: int


def plan_incidents(cfg: RunConfig) -> list[inc.Incident]:
    """The incidents of this run: random ones at ``incident_rate`` plus the extra ones."""
    end_ms = cfg.start_ms + int(cfg.duration_s * cfg.speed * 1000)
    days = (end_ms - cfg.start_ms) // DAY_MS + 1
    risk = Profiles(cfg.seed, cfg.homes).wandering_risk
    planned = inc.schedule(np.random.default_rng([cfg.seed, 5]), cfg.homes, cfg.start_ms, int(days),
                           cfg.incident_rate, wandering_risk=risk)
    planned = [i for i in planned if i.start_ms < end_ms] + list(cfg.extra_incidents)
    planned.sort(key=lambda i: (i.start_ms, i.home_index))
    return planned


def run(
    cfg: RunConfig,
    publish: Callable[[list[Message]], None],
    *,
    labels: IO[bytes] | None = None,
    progress: IO[str] | None = None,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunStats:
    """Simulate ``cfg`` and hand every message to ``publish``, paced to ``speed``.

    ``clock`` and ``sleep`` pace the run (a ``FakeClock`` and its ``advance`` in tests).
    A run that falls behind its pace stops at ``duration_s`` of ``clock`` time.
    """
    clock = clock or SystemClock()
    incidents = plan_incidents(cfg)
    if labels is not None:
        inc.write_labels(incidents, labels)
        labels.flush()
    fleet = Fleet(cfg.homes, cfg.seed, cfg.start_ms, incidents)
    step_ms = int(cfg.step_s * 1000)
    step_real_s = cfg.step_s / cfg.speed
    gateway: GatewayRenderer | None = None
    device: DeviceRenderer | None = None
    if cfg.level is Level.GATEWAY:
        gateway = GatewayRenderer(cfg.homes, flush_every=round(cfg.batch_window_s / step_real_s))
        publish(gateway.birth(cfg.start_ms))
    else:
        device = DeviceRenderer(cfg.homes, incidents, accel=cfg.accel, seed=cfg.seed)
        publish(device.birth(cfg.start_ms))
    steps = max(1, round(cfg.duration_s * cfg.speed * 1000 / step_ms))
    readings = messages = size = 0
    began = clock.monotonic_s()
    behind = 0.0
    last_report = began
    done = 0
    for i in range(steps):
        t0 = cfg.start_ms + i * step_ms
        samples = fleet.step(t0, t0 + step_ms)
        if gateway is not None:
            out, n = gateway.render(samples, t0 + step_ms)
            tests, m = gateway.link_tests(t0, t0 + step_ms)
            out += tests
            n += m
        else:
            assert device is not None
            out, n = device.render(samples, t0, t0 + step_ms)
        # The last step, or running behind past the budget: send what gateways hold.
        last = i == steps - 1 or clock.monotonic_s() - began >= cfg.duration_s
        if last and gateway is not None:
            tail, m = gateway.drain(t0 + step_ms)
            out += tail
            n += m
        publish(out)
        done = i + 1
        readings += n
        messages += len(out)
        size += sum(len(m.payload) for m in out)
        due = began + done * step_real_s
        now = clock.monotonic_s()
        if due > now:
            if not last:
                sleep(due - now)
        else:
            behind = now - due
        if last:
            break
        if progress is not None and now - last_report >= 5.0:
            last_report = now
            rate = readings / max(now - began, 1e-9)
            print(f"t+{now - began:6.1f}s  {readings} readings  {rate:,.0f}/s  "
                  f"behind {behind:.2f}s", file=progress, flush=True)
    elapsed = max(clock.monotonic_s() - began, 1e-9)
    return RunStats(
        level=cfg.level.value, homes=cfg.homes, speed=cfg.speed,
        sim_seconds=done * cfg.step_s, elapsed_s=round(elapsed, 3), readings=readings,
        messages=messages, bytes=size, readings_per_s=round(readings / elapsed, 1),
        messages_per_s=round(messages / elapsed, 1), behind_s=round(behind, 3),
        incidents=len(incidents),
    )


def print_messages(out: IO[str] = sys.stdout) -> Callable[[list[Message]], None]:
    """A publish function that prints each message (for a look at what devices send)."""

    def show(messages: list[Message]) -> None:
        for message in messages:
            flag = " (retained)" if message.retain else ""
            out.write(f"{message.topic}{flag}  {message.payload.decode(errors='replace')}\n")

    return show


def stats_json(stats: RunStats) -> str:
    return json.dumps(msgspec.to_builtins(stats))
