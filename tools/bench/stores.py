"""``eldercare bench stores``: write throughput and size of the candidate stores, measured
here in one run on the same readings (the fleet simulator's, noon, 2,000 homes):

* SQLite (the embedded store as shipped: WAL, executemany, (gateway, seq) primary key),
  batches of 1,000 and 5,000;
* DuckDB through Arrow batches of 5,000 into a table with the same primary key
  (``INSERT OR IGNORE``), if ``duckdb`` and ``pyarrow`` are installed (not dependencies);
* InfluxDB 1.6 (the Debian ``influxd``, started here) over ``/write``, batches of 5,000.

Each figure is points per second and bytes per point on disk; ``*_ratio_to_sqlite`` puts
each beside SQLite's batches of 5,000 from the same run.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.influx import LocalInfluxd, influxd_binary
from ingest.store.influx import InfluxStore
from ingest.store.sqlite import SqliteStore
from telemetry.reading import Reading


def _readings(n: int) -> list[Reading]:
    from firmware_stubs.engine import Fleet
    from firmware_stubs.gateway_level import GatewayRenderer

    noon, homes = 1_767_268_800_000, 2000
    fleet, renderer = Fleet(homes, 1, noon, []), GatewayRenderer(homes)
    out: list[Reading] = []
    t = noon
    while len(out) < n:
        out += renderer.readings(fleet.step(t, t + 60_000))
        t += 60_000
    return out[:n]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _timed(write: Any, readings: list[Reading], batch: int) -> float:
    started = time.perf_counter()
    for lo in range(0, len(readings), batch):
        write(readings[lo:lo + batch])
    return len(readings) / (time.perf_counter() - started)


def _duckdb(readings: list[Reading], folder: Path) -> float | None:
    try:
        import duckdb
        import pyarrow as pa
    except ImportError:
        return None
    db = duckdb.connect(str(folder / "store.duckdb"))
    db.execute("CREATE TABLE raw (gateway VARCHAR, seq BIGINT, resident VARCHAR, kind VARCHAR,"
               " device VARCHAR, t BIGINT, value DOUBLE, PRIMARY KEY (gateway, seq))")

    def write(batch: list[Reading]) -> None:
        table = pa.table({
            "gateway": [r.gateway_id for r in batch], "seq": [r.seq for r in batch],
            "resident": [r.resident_id or "" for r in batch],
            "kind": [r.kind.value for r in batch], "device": [r.device_id for r in batch],
            "t": [r.device_time_ms for r in batch], "value": [r.value for r in batch]})
        db.register("incoming", table)
        db.execute("INSERT OR IGNORE INTO raw SELECT * FROM incoming")
        db.unregister("incoming")

    rate = _timed(write, readings, 5000)
    db.execute("CHECKPOINT")
    db.close()
    return rate


def run(points: int = 300_000) -> dict[str, Any]:
    readings = _readings(points)
    work = Path(tempfile.mkdtemp(prefix="eldercare-bench-stores-"))
    result: dict[str, Any] = {"points": len(readings)}
    try:
        for batch in (1000, 5000):
            folder = work / f"sqlite-{batch}"
            folder.mkdir()
            store = SqliteStore(folder / "store.db")
            result[f"sqlite_batch{batch}_points_per_s"] = round(
                _timed(store.write, readings, batch), 1)
            store.close()
            result[f"sqlite_batch{batch}_bytes_per_point"] = round(
                _size(folder) / len(readings), 1)
        base = result["sqlite_batch5000_points_per_s"]
        folder = work / "duckdb"
        folder.mkdir()
        duck = _duckdb(readings, folder)
        if duck is not None:
            result["duckdb_batch5000_points_per_s"] = round(duck, 1)
            result["duckdb_bytes_per_point"] = round(_size(folder) / len(readings), 1)
            result["duckdb_ratio_to_sqlite"] = round(duck / base, 2)
        else:
            result["duckdb"] = "not installed (pip install duckdb pyarrow to measure it)"
        if influxd_binary() is not None:
            server = LocalInfluxd().start()
            try:
                store_i = InfluxStore(server.url, "eldercare")
                rate = _timed(store_i.write, readings, 5000)
                result["influx_batch5000_points_per_s"] = round(rate, 1)
                result["influx_ratio_to_sqlite"] = round(rate / base, 2)
                store_i.close()
            finally:
                server.stop()
                result["influx_bytes_per_point"] = round(_size(server.dir / "data")
                                                         / len(readings), 1)
                server.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result
