"""InfluxDB behind the store interface.

Writes are line protocol, either to the 1.x ``/write`` endpoint or through the v2 write
API of ``influxdb-client`` (InfluxDB 2.x / 3.x / Cloud, and 1.8+). Queries are InfluxQL over
``/query``, which 1.x, 2.x (with a DBRP mapping) and 3.x all answer.

One point per reading in measurement ``reading``: tags ``site``, ``gateway``, ``device``,
``kind``, ``resident``; fields ``value``, ``seq``, ``received_ms``; time = the device's
time in ms. A replayed reading is the same series at the same time, so InfluxDB keeps it
once (it overwrites); ``write`` therefore cannot say how many were new and returns the
batch size. Retention rolls old raw points into ``reading_hourly`` (min, total, max, n per
series and hour, merged with what an earlier run rolled) and deletes them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from ingest.store.base import Bucket, Point, StoreError
from telemetry.clock import HOUR_MS
from telemetry.kinds import Kind
from telemetry.reading import Reading

RAW, HOURLY = "reading", "reading_hourly"


def _tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def line(r: Reading) -> str:
    tags = f"site={_tag(r.site_id)},gateway={_tag(r.gateway_id)},device={_tag(r.device_id)}," \
           f"kind={r.kind.value}"
    if r.resident_id:
        tags += f",resident={_tag(r.resident_id)}"
    return f"{RAW},{tags} value={r.value!r},seq={r.seq}i,received_ms={r.received_time_ms}i " \
           f"{r.device_time_ms}"


def refused_for_good(status: int) -> bool:
    """The one place InfluxDB write statuses are classified: 400 (a malformed point, a
    field type conflict; InfluxDB writes the good points of the batch and refuses the rest)
    and 413 (too large) will fail the same way again; 401/403/404 are settings an operator
    mends (keep the data until then), 429 and 5xx pass later."""
    return status in (400, 413, 422)


class InfluxStore:
    """Args:
        query_url: the server answering InfluxQL on ``/query`` (and 1.x ``/write``).
        write_api: ``"v1"`` (POST /write) or ``"v2"`` (``influxdb-client``).
        v2_url / v2_token / v2_org: where the v2 write API is, and its credentials;
            the bucket is ``database`` (``database/rp`` on 1.x through DBRP).
    """

    def __init__(self, query_url: str, database: str, *, write_api: str = "v1",
                 username: str = "", password: str = "", v2_url: str = "",
                 v2_token: str = "", v2_org: str = "-", timeout_s: float = 30.0) -> None:
        if write_api not in ("v1", "v2"):
            raise ValueError("write_api is v1 or v2")
        self.query_url = query_url.rstrip("/")
        self.database = database
        self.write_api = write_api
        self._auth = {"u": username, "p": password} if username else {}
        self.timeout_s = timeout_s
        self._v2: Any = None
        if write_api == "v2":
            from influxdb_client.client.influxdb_client import InfluxDBClient
            from influxdb_client.client.write_api import SYNCHRONOUS

            self._client: Any = InfluxDBClient(url=v2_url, token=v2_token, org=v2_org,
                                          timeout=int(timeout_s * 1000))
            self._v2 = self._client.write_api(write_options=SYNCHRONOUS)

    # --- writing ---------------------------------------------------------------------

    def write(self, readings: Sequence[Reading]) -> int:
        if not readings:
            return 0
        self._write_lines([line(r) for r in readings])
        return len(readings)

    def _write_lines(self, lines: list[str]) -> None:
        if self.write_api == "v2":
            from influxdb_client.domain.write_precision import WritePrecision
            from influxdb_client.rest import ApiException
            from urllib3.exceptions import HTTPError

            try:
                self._v2.write(bucket=self.database, record=lines,
                               write_precision=WritePrecision.MS)
            except ApiException as exc:
                raise StoreError(f"influx v2 write answered {exc.status}: {exc.reason}",
                                 permanent=refused_for_good(exc.status or 0)) from exc
            except (HTTPError, OSError) as exc:
                raise StoreError(f"influx v2 write failed: {exc}") from exc
            return
        params = {"db": self.database, "precision": "ms", **self._auth}
        request = urllib.request.Request(
            f"{self.query_url}/write?{urllib.parse.urlencode(params)}",
            data="\n".join(lines).encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace")
            exc.close()
            raise StoreError(f"influx /write answered {exc.code}: {detail}",
                             permanent=refused_for_good(exc.code)) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise StoreError(f"influx unreachable: {exc}") from exc

    # --- reading ---------------------------------------------------------------------

    def _query(self, q: str) -> list[dict[str, Any]]:
        params = {"db": self.database, "q": q, "epoch": "ms", **self._auth}
        try:
            with urllib.request.urlopen(
                    f"{self.query_url}/query",
                    data=urllib.parse.urlencode(params).encode(),
                    timeout=self.timeout_s) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            exc.close()
            raise StoreError(f"influx /query answered {exc.code}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise StoreError(f"influx query failed: {exc}") from exc
        series: list[dict[str, Any]] = []
        for result in body.get("results", []):
            if "error" in result:
                raise StoreError(f"influx: {result['error']}")
            series += result.get("series", [])
        return series

    def latest(self, resident_id: str, kind: Kind) -> Point | None:
        rows = self._query(f"SELECT last(value) FROM {RAW} WHERE resident = "
                           f"{_literal(resident_id)} AND kind = {_literal(kind.value)}")
        if not rows or not rows[0]["values"]:
            return None
        t, value = rows[0]["values"][0]
        return Point(int(t), float(value))

    def buckets(self, resident_id: str, kind: Kind, start_ms: int, end_ms: int,
                bucket_ms: int) -> list[Bucket]:
        if bucket_ms <= 0 or end_ms <= start_ms:
            raise ValueError("need bucket_ms > 0 and end_ms > start_ms")
        where = (f"resident = {_literal(resident_id)} AND kind = {_literal(kind.value)} AND "
                 f"time >= {start_ms}ms AND time < {end_ms}ms")
        group = f"GROUP BY time({bucket_ms}ms, {start_ms % bucket_ms}ms) fill(none)"
        raw = self._query(f"SELECT min(value), sum(value), max(value), count(value) "
                          f"FROM {RAW} WHERE {where} {group}")
        rolled = self._query(f"SELECT min(minimum), sum(total), max(maximum), sum(n) "
                             f"FROM {HOURLY} WHERE {where} {group}")
        merged: dict[int, list[float]] = {}
        for s in raw + rolled:
            for t, lo, total, hi, n in s["values"]:
                if not n:
                    continue
                m = merged.get(int(t))
                if m is None:
                    merged[int(t)] = [lo, total, hi, n]
                else:
                    m[0], m[1], m[2], m[3] = min(m[0], lo), m[1] + total, max(m[2], hi), \
                        m[3] + n
        return [Bucket(t, lo, total / n, hi, int(n))
                for t, (lo, total, hi, n) in sorted(merged.items())]

    def count(self) -> int:
        rows = self._query(f"SELECT count(value) FROM {RAW}")
        return int(rows[0]["values"][0][1]) if rows and rows[0]["values"] else 0

    def recent_keys(self, since_ms: int, limit: int) -> list[tuple[str, int]]:
        """Nothing: a replay overwrites the same point, so storage is exactly-once anyway
        (the alert core dedups its alerts by condition)."""
        return []

    # --- retention -------------------------------------------------------------------

    def apply_retention(self, now_ms: int, raw_keep_ms: int,
                        rollup_keep_ms: int | None = None) -> int:
        removed = self._roll_up((now_ms - raw_keep_ms) // HOUR_MS * HOUR_MS)
        if rollup_keep_ms is not None:  # after the roll-up, which may add old hours
            self._query(f"DELETE FROM {HOURLY} WHERE time < {now_ms - rollup_keep_ms}ms")
        return removed

    def _roll_up(self, cutoff: int) -> int:
        """Raw points before ``cutoff`` into hourly aggregates; returns how many went."""
        by = "GROUP BY time(1h), resident, kind fill(none)"
        fresh = self._query(f"SELECT min(value), sum(value), max(value), count(value) "
                            f"FROM {RAW} WHERE time < {cutoff}ms {by}")
        if not fresh:
            return 0
        old = self._query(f"SELECT min(minimum), sum(total), max(maximum), sum(n) "
                          f"FROM {HOURLY} WHERE time < {cutoff}ms {by}")
        known: dict[tuple[str, str, int], list[float]] = {}
        for s in old:
            tags = s.get("tags", {})
            for t, lo, total, hi, n in s["values"]:
                known[(tags.get("resident", ""), tags.get("kind", ""), int(t))] = \
                    [lo, total, hi, n]
        lines, removed = [], 0
        for s in fresh:
            tags = s.get("tags", {})
            resident, kind = tags.get("resident", ""), tags.get("kind", "")
            for t, lo, total, hi, n in s["values"]:
                removed += int(n)
                prior = known.get((resident, kind, int(t)))
                if prior is not None:
                    lo, total, hi, n = min(lo, prior[0]), total + prior[1], \
                        max(hi, prior[2]), n + prior[3]
                tag_text = f"kind={_tag(kind)}" + (f",resident={_tag(resident)}"
                                                   if resident else "")
                lines.append(f"{HOURLY},{tag_text} minimum={float(lo)!r},total="
                             f"{float(total)!r},maximum={float(hi)!r},n={int(n)}i {int(t)}")
        self._write_lines(lines)
        self._query(f"DELETE FROM {RAW} WHERE time < {cutoff}ms")
        return removed

    def erase_resident(self, resident_id: str) -> None:
        for measurement in (RAW, HOURLY):
            self._query(f"DELETE FROM {measurement} WHERE resident = {_literal(resident_id)}")

    def close(self) -> None:
        if self._v2 is not None:
            self._client.close()

