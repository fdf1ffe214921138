"""Run the simulator without a broker and collect what it would publish."""

from __future__ import annotations

from firmware_stubs.dialects import Message
from firmware_stubs.runner import RunConfig, RunStats, run
from telemetry.clock import FakeClock


def run_collect(cfg: RunConfig) -> tuple[RunStats, list[Message]]:
    """Run ``cfg`` on a fake clock, as fast as the machine allows; return every message."""
    out: list[Message] = []
    clock = FakeClock()
    stats = run(cfg, out.extend, clock=clock, sleep=clock.advance)
    return stats, out
