from __future__ import annotations

import pytest

from telemetry.clock import FakeClock, ScaledClock


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(start_ms=1_000)
    assert clock.now_ms() == 1_000
    clock.advance(2.5)
    assert clock.now_ms() == 3_500
    assert clock.monotonic_s() == 2.5
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_scaled_clock_runs_faster_than_its_base() -> None:
    base = FakeClock()
    clock = ScaledClock(start_ms=10_000, speed=60, base=base)
    base.advance(2)
    assert clock.now_ms() == 10_000 + 120_000
    assert clock.monotonic_s() == 120
