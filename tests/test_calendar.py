"""No test depends on today's date: the edge tests that once pinned a date (and went red
when the calendar passed it) pass with the process's real clock a year ahead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_the_edge_flow_passes_with_the_clock_a_year_ahead() -> None:
    test = "tests/edge_agent/test_agent_flow.py::" \
           "test_readings_reach_the_centre_once_with_birth_heartbeat_and_local_alarm"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--clock-ahead-days=365", test], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
