"""The store contract: every backend passes the same checks: the embedded SQLite store, and
InfluxDB 1.6 (real ``influxd``) written through its v1 ``/write`` and through
``influxdb-client``'s v2 write API (via the shared v2-to-v1 proxy)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.influx import LocalInfluxd
from ingest.store.base import Bucket, Point, Store, StoreError
from ingest.store.influx import InfluxStore
from ingest.store.sqlite import SqliteStore
from telemetry.clock import HOUR_MS
from telemetry.kinds import SPECS, Kind
from telemetry.reading import Reading

T0 = 1_795_305_600_000  # a whole hour


def reading(seq: int, t: int, value: float, kind: Kind = Kind.HEART_RATE,
            resident: str = "res-00001", gateway: str = "gw-00001") -> Reading:
    return Reading("site-000", gateway, "wristband", kind, value, SPECS[kind].unit, t, t, seq,
                   resident)


_databases = itertools.count()


@pytest.fixture(params=["sqlite", "influx-v1", "influx-v2"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    backend: SqliteStore | InfluxStore
    if request.param == "sqlite":
        backend = SqliteStore(tmp_path / "store.db")
    else:
        influxd: LocalInfluxd = request.getfixturevalue("influxd")
        database = f"contract{next(_databases)}"
        influxd.query(f'CREATE DATABASE "{database}"')
        if request.param == "influx-v1":
            backend = InfluxStore(influxd.url, database)
        else:
            proxy = request.getfixturevalue("influx_v2_proxy")
            backend = InfluxStore(influxd.url, database, write_api="v2", v2_url=proxy,
                                  v2_token="user:pass")
    yield backend
    backend.close()


def test_a_reading_is_stored_once_however_often_it_arrives(store: Store) -> None:
    batch = [reading(i, T0 + i * 1000, 60.0 + i) for i in range(1, 11)]
    assert store.write(batch) == 10
    # SQLite counts only the new one; InfluxDB cannot tell and counts the batch
    assert store.write([*batch[5:], reading(11, T0 + 11_000, 99.0)]) in (1, 6)
    (bucket,) = store.buckets("res-00001", Kind.HEART_RATE, T0, T0 + HOUR_MS, HOUR_MS)
    assert bucket.samples == 11


def test_the_same_seq_from_another_gateway_is_another_reading(store: Store) -> None:
    assert store.write([reading(1, T0, 60.0), reading(1, T0, 61.0, gateway="gw-00002")]) == 2


def test_latest_is_the_newest_by_device_time(store: Store) -> None:
    store.write([reading(2, T0 + 5000, 70.0), reading(1, T0 + 9000, 72.0),
                 reading(3, T0 + 1000, 65.0)])
    assert store.latest("res-00001", Kind.HEART_RATE) == Point(T0 + 9000, 72.0)
    assert store.latest("res-00001", Kind.SPO2) is None
    assert store.latest("res-99999", Kind.HEART_RATE) is None


def test_buckets_give_min_mean_max_count(store: Store) -> None:
    # Two readings in each 10-minute bucket, one resident and kind only.
    rows = []
    for b in range(6):
        rows += [reading(2 * b + 1, T0 + b * 600_000, 60.0 + b),
                 reading(2 * b + 2, T0 + b * 600_000 + 1000, 70.0 + b)]
    rows.append(reading(99, T0, 97.0, kind=Kind.SPO2))
    rows.append(reading(100, T0, 50.0, resident="res-00002"))
    store.write(rows)
    got = store.buckets("res-00001", Kind.HEART_RATE, T0, T0 + HOUR_MS, 600_000)
    assert got == [Bucket(T0 + b * 600_000, 60.0 + b, 65.0 + b, 70.0 + b, 2) for b in range(6)]
    assert store.buckets("res-00001", Kind.HEART_RATE, T0 + HOUR_MS, T0 + 2 * HOUR_MS,
                         600_000) == []


def test_retention_rolls_old_points_into_hourly_aggregates(store: Store) -> None:
    rows = [reading(i + 1, T0 + i * 60_000, float(i % 7 + 60)) for i in range(6 * 60)]
    store.write(rows)
    before = store.buckets("res-00001", Kind.HEART_RATE, T0, T0 + 6 * HOUR_MS, HOUR_MS)
    removed = store.apply_retention(now_ms=T0 + 6 * HOUR_MS, raw_keep_ms=2 * HOUR_MS)
    assert removed == 4 * 60  # the four oldest whole hours
    after = store.buckets("res-00001", Kind.HEART_RATE, T0, T0 + 6 * HOUR_MS, HOUR_MS)
    assert [(b.start_ms, b.minimum, b.maximum, b.samples) for b in after] == [
        (b.start_ms, b.minimum, b.maximum, b.samples) for b in before]
    assert all(a.mean == pytest.approx(b.mean) for a, b in zip(after, before, strict=True))
    # Retention twice changes nothing more, and late raw points for an old hour still add.
    assert store.apply_retention(now_ms=T0 + 6 * HOUR_MS, raw_keep_ms=2 * HOUR_MS) == 0
    store.write([reading(10_000, T0 + 30_000, 100.0)])
    store.apply_retention(now_ms=T0 + 6 * HOUR_MS, raw_keep_ms=2 * HOUR_MS)
    first = store.buckets("res-00001", Kind.HEART_RATE, T0, T0 + HOUR_MS, HOUR_MS)[0]
    assert first.samples == 61 and first.maximum == 100.0


def test_retention_drops_aggregates_past_their_own_keep(store: Store) -> None:
    store.write([reading(i + 1, T0 + i * HOUR_MS, 60.0) for i in range(6)])
    store.apply_retention(now_ms=T0 + 6 * HOUR_MS, raw_keep_ms=HOUR_MS,
                          rollup_keep_ms=3 * HOUR_MS)
    kept = store.buckets("res-00001", Kind.HEART_RATE, T0, T0 + 6 * HOUR_MS, HOUR_MS)
    # hours 0-2 are past the aggregates' keep; 3-4 are aggregates, 5 is still raw
    assert [b.start_ms for b in kept] == [T0 + h * HOUR_MS for h in (3, 4, 5)]


def test_erasing_a_resident_deletes_their_readings_raw_and_rolled_up_and_no_other(
        store: Store) -> None:
    for resident, first in (("res-00001", 1), ("res-00002", 1000)):
        store.write([reading(first + i, T0 + i * HOUR_MS, 60.0, resident=resident,
                             gateway=f"gw-{resident}") for i in range(6)])
    store.apply_retention(now_ms=T0 + 6 * HOUR_MS, raw_keep_ms=2 * HOUR_MS)  # 0-3 rolled
    store.erase_resident("res-00001")
    span = (Kind.HEART_RATE, T0, T0 + 6 * HOUR_MS, HOUR_MS)
    assert store.buckets("res-00001", *span) == []
    assert store.latest("res-00001", Kind.HEART_RATE) is None
    assert [b.samples for b in store.buckets("res-00002", *span)] == [1] * 6


def test_bad_arguments_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.buckets("res-00001", Kind.HEART_RATE, T0, T0, 1000)


def test_a_write_the_store_cannot_take_raises_store_error_and_leaves_it_usable(
        tmp_path: Path) -> None:
    """An integer past 64 bits (which the codec refuses, but a bug could let through) makes
    SQLite raise OverflowError: it becomes a StoreError, and no transaction stays open."""
    store = SqliteStore(tmp_path / "store.db")
    try:
        with pytest.raises(StoreError, match="OverflowError"):
            store.write([reading(1, T0, 60.0), reading(2**63, T0 + 1000, 61.0)])
        assert store.write([reading(3, T0 + 2000, 62.0)]) == 1
        assert store.count() == 1  # the failed batch left nothing half-written
    finally:
        store.close()


def test_the_dedup_warm_up_reads_an_index_range_and_at_most_its_limit(tmp_path: Path) -> None:
    """A store worker restarting on a store of 80 M rows must not read them all."""
    store = SqliteStore(tmp_path / "store.db")
    try:
        store.write([reading(i, T0 + i * 1000, 60.0) for i in range(1, 1001)])
        ran: list[str] = []
        store._db.set_trace_callback(ran.append)  # the SQL the warm-up really runs
        keys = store.recent_keys(T0 + 500_000, limit=100)
        store._db.set_trace_callback(None)
        assert keys == [("gw-00001", i) for i in range(901, 1001)]  # the newest, oldest first
        (query,) = [q for q in ran if q.lstrip().upper().startswith("SELECT")]
        plan = " ".join(row[3] for row in store._db.execute(f"EXPLAIN QUERY PLAN {query}"))
        assert "raw_time" in plan and "SCAN raw " not in f"{plan} ", plan
    finally:
        store.close()
