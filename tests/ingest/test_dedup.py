"""The dedup window: each (gateway, seq) passes once, in order, until it is forgotten."""

from __future__ import annotations

import msgspec

from ingest.dedup import Dedup
from telemetry.kinds import Kind
from telemetry.reading import Reading
from tests.support.readings import reading


def _r(gateway: str, seq: int) -> Reading:
    return msgspec.structs.replace(reading(Kind.HEART_RATE, 70, 0, gateway_id=gateway),
                                   seq=seq)


def _passes(dedup: Dedup, gateway: str, seq: int) -> bool:
    return dedup.new_only([_r(gateway, seq)]) != []


def test_new_only_keeps_order_and_drops_repeats_within_and_across_batches() -> None:
    dedup = Dedup()
    first = [_r("gw-a", 1), _r("gw-b", 1), _r("gw-a", 1), _r("gw-a", 2)]
    assert [(r.gateway_id, r.seq) for r in dedup.new_only(first)] == \
        [("gw-a", 1), ("gw-b", 1), ("gw-a", 2)]
    second = [_r("gw-a", 2), _r("gw-a", 3)]
    assert [(r.gateway_id, r.seq) for r in dedup.new_only(second)] == [("gw-a", 3)]
    assert _passes(dedup, "gw-a", 4) and not _passes(dedup, "gw-a", 3)


def test_warm_keys_count_as_seen_and_the_oldest_are_forgotten_past_capacity() -> None:
    dedup = Dedup(capacity=3)
    dedup.warm([("gw-a", 1), ("gw-a", 2)])
    assert dedup.new_only([_r("gw-a", 1), _r("gw-a", 2)]) == []
    assert _passes(dedup, "gw-a", 3)
    assert _passes(dedup, "gw-a", 4)  # the window holds 2, 3, 4 now
    assert _passes(dedup, "gw-a", 1)  # forgotten: a replay this old passes again
    assert not _passes(dedup, "gw-a", 4)
