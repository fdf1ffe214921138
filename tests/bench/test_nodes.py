"""``eldercare bench alerts --nodes N``, test-sized: with two alert nodes each stores its own
partitions' share of the fleet's readings, and between them nothing is lost."""

from __future__ import annotations

import io

import pytest

from bench.nodes import run

pytestmark = pytest.mark.integration


def test_two_alert_nodes_share_the_intake_and_lose_nothing() -> None:
    result = run(max_nodes=2, homes=60, speed=60.0, duration=6.0, out=io.StringIO())
    one, two = result["runs"]
    assert result["lost"] == 0, result
    assert one["readings"] > 500 and two["readings"] > 500, result
    assert [len(r["per_node"]) for r in (one, two)] == [1, 2]
    assert all(node["readings_per_s"] > 0 and node["cpu_s"] > 0 for node in two["per_node"]), two
    assert two["stored"] == two["readings"] and two["stored_by_two_nodes"] == 0, two
