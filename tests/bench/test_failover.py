"""The failover benchmark's test-sized variant (``eldercare bench failover`` runs the full
one): three NATS nodes, PostgreSQL, three alert nodes, a real Kannel and the fleet
simulator. The alert node holding the most partitions, or (in a second run) the broker
node leading the most partitions' JetStream consumers, is killed -9 while falls arrive: every fall
reaches the desk's live push and is texted once, nothing is lost, and the escalations
started before the kill go on on time. (A gateway's own broker node killed under traffic:
tests/edge_agent/test_broker_cluster.py.)"""

from __future__ import annotations

import io

import pytest

from bench.failover import WINDOW_S, run

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kill", ["alert-node", "broker-node"])
def test_a_node_killed_under_load_loses_no_fall_and_texts_none_twice(kill: str) -> None:
    result = run(homes=120, falls=24, duration=16.0, kill=kill, out=io.StringIO())
    assert result["partitions_hit"] >= 1, result
    assert result["lost_falls"] == 0 and result["falls_not_pushed"] == 0, result
    assert result["falls_unacknowledged_by_broker"] == 0, result
    assert result["lost"] == 0 and result["readings_published"] > 1000, result
    assert result["duplicate_sms"] == 0, result
    assert result["sms_sent"] == 2 * result["falls"], result  # each fall: two contacts
    # a desk sent a responder to each fall: each texted once, whichever node sent it
    assert result["responders_sent"] == result["falls"] == result["responder_sms"], result
    assert result["duplicate_responder_sms"] == 0, result
    assert result["falls_during_takeover"] >= 4, result
    if kill == "alert-node":  # the survivors hold its partitions within the lease's ttl
        assert result["takeover_s"] is not None and result["takeover_s"] < WINDOW_S, result
        assert result["fall_to_desk_ms_max_during_takeover"] <= 10_000, result
        # and take up what it had learned of its residents' routines
        assert result["routines_moved"] >= 10, result
        assert result["routines_restored"] == result["routines_moved"], result
    else:  # its sessions move once the cluster has re-elected its streams' leaders
        assert result["consumers_hit"] >= 1, result  # it led partitions' consumers
        assert result["fall_to_desk_ms_max_during_takeover"] <= 30_000, result
    # the second contact of falls raised before the kill is texted on time (one tick)
    assert result["escalations_in_flight"] >= 3, result
    assert result["escalation_late_ms_max"] < 2_000, result


@pytest.mark.parametrize("kill", ["postgres-restart", "pause-node", "postgres"])
def test_the_store_away_or_a_node_paused_loses_no_fall_and_texts_none_twice(
        kill: str) -> None:
    """The shared store stopped 10 s (longer than the lease) and started again, the
    busiest alert node stopped (SIGSTOP) for twice the lease and let go on, or the
    primary of the store run by Patroni (synchronous standby, three etcd members) killed
    -9 with the nodes on its multi-host address: every fall reaches the desk and is texted
    once to each contact. (How fast is the benchmark's to say.)"""
    result = run(homes=120, falls=24, duration=16.0, kill=kill, out=io.StringIO())
    assert result["lost_falls"] == 0 and result["falls_not_pushed"] == 0, result
    assert result["falls_unacknowledged_by_broker"] == 0, result
    assert result["lost"] == 0, result
    assert result["duplicate_sms"] == 0, result
    assert result["sms_sent"] == 2 * result["falls"], result
    assert result["responders_sent"] == result["falls"] == result["responder_sms"], result
    assert result["duplicate_responder_sms"] == 0, result
    assert result["falls_during_takeover"] >= 4, result
    assert result["takeover_s"] is not None, result
    if kill == "postgres":  # the standby was promoted and took writes
        assert result["switch_s"] is not None, result
