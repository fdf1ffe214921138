"""``eldercare bench registry``: the registry at a city's size (100,000 residents at 2,000
sites under a city → district → street tree), in the database the desk changes it in.

Measured, through the real API (FastAPI's test client over the app the desk serves):

* ``list_api_ms_p99``: a page of the resident list (``GET /api/residents``), a nurse's site
  and a district supervisor paging through the district, filtered and paged by the database;
* ``supervisor_api_ms_p99``: the supervisor page (``GET /api/supervision``) of a district
  supervisor (200 sites) and of the city's (every site);
* ``change_to_node_s``: a resident moved on one node, until another node's registry (its
  own connection and follower, as on another machine) has it: the worst of several;
* ``registry_rss_mb``: the memory the in-process registry takes (the process's resident
  size before and after reading it whole).
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
from fastapi.testclient import TestClient

from alerts.core import AlertCore
from alerts.model import Condition, Signal
from alerts.policy import Policies, PolicyFile
from alerts.store import AlertStore
from alerts.store.queries import StoreQueries
from bench.stats import pct
from dashboard.accounts.model import Role
from dashboard.accounts.store import Accounts
from dashboard.app import create_app
from dashboard.context import DashboardContext
from registry.db import RegistryFollower, RegistryStore
from registry.model import Device, Gateway, Org, RegistryFile, Resident, Site, put
from telemetry.clock import FakeClock, SystemClock
from telemetry.kinds import Kind

PASSWORD = "bench-only password"
DISTRICTS, STREETS_PER_DISTRICT = 10, 10
RESIDENTS_PER_GATEWAY = 10
POLICY = {"default": {"steps": {"fall": [{"after_s": 0, "channel": "console", "to": "family"}]}},
          "sites": {}}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def city(residents: int, sites: int) -> RegistryFile:
    """A city of ``sites`` sites (every other one a care institution) in 10 districts of
    10 streets, ``residents`` residents spread evenly, each with a door contact and a
    living-room motion sensor; every name obviously fake."""
    orgs = [Org("city-1", "Test City", "city")]
    for d in range(DISTRICTS):
        orgs.append(Org(f"district-{d}", f"Test District {d}", "district", "city-1"))
        orgs += [Org(f"street-{d}-{s}", f"Test Street {d}-{s}", "street", f"district-{d}")
                 for s in range(STREETS_PER_DISTRICT)]
    streets = [o.org_id for o in orgs if o.level == "street"]
    site_list = [Site(f"site-{i:05d}", f"Test Site {i}", kind="institution" if i % 2 else "home",
                      org=streets[i % len(streets)]) for i in range(sites)]
    gateways: list[Gateway] = []
    people: list[Resident] = []
    devices: list[Device] = []
    current: dict[str, tuple[Gateway, int]] = {}  # per site: its newest gateway, its load
    for i in range(residents):
        site = site_list[i % sites]
        gateway, served = current.get(site.site_id, (None, RESIDENTS_PER_GATEWAY))
        if gateway is None or served >= RESIDENTS_PER_GATEWAY:
            gateway, served = Gateway(f"gw-{len(gateways):06d}", site.site_id), 0
            gateways.append(gateway)
        current[site.site_id] = (gateway, served + 1)
        rid = f"res-{i:06d}"
        people.append(Resident(rid, site.site_id, f"room-{(i // sites) % 500:03d}",
                               f"Test Resident {i}", floor=str((i // sites) % 5 + 1)))
        devices += [Device(f"door-{i:06d}", gateway.gateway_id, rid, "hall", [Kind.DOOR]),
                    Device(f"pir-{i:06d}", gateway.gateway_id, rid, "living", [Kind.MOTION])]
    return RegistryFile(site_list, gateways, people, devices, orgs)


def _timed(client: TestClient, path: str, out: list[float]) -> Any:
    began = time.perf_counter()
    response = client.get(path)
    out.append((time.perf_counter() - began) * 1000)
    response.raise_for_status()
    return response


def run(residents: int = 100_000, sites: int = 2_000, reads: int = 200, changes: int = 5,
        open_alarms: int = 500, seed: int = 7, out: Any = sys.stderr) -> dict[str, Any]:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="eldercare-bench-registry-"))
    data = city(residents, sites)
    store = RegistryStore(work / "registry.db")
    began = time.monotonic()
    store.replace(data)
    seeded_s = time.monotonic() - began
    print(f"registry: {residents} residents, {sites} sites, {len(data.devices)} devices "
          f"written in {seeded_s:.1f} s", file=out, flush=True)
    del data
    before = _rss_mb()
    began = time.monotonic()
    registry = store.load()
    load_s = time.monotonic() - began
    registry_mb = _rss_mb() - before
    clock = FakeClock(SystemClock().now_ms())
    db = AlertStore(work / "alerts.db")
    core = AlertCore(db, registry, Policies(msgspec.convert(POLICY, PolicyFile)), clock)
    people = list(registry.residents.values())
    for r in rng.sample(people, min(open_alarms, len(people))):
        gateway = registry.devices_of(r.resident_id)[0].gateway_id
        core.handle([Signal(Condition.FALL, r.resident_id, True, clock.now_ms(), r.site_id,
                            gateway, "fall reported", "door")])
    accounts = Accounts(work / "accounts.db")
    now = clock.now_ms()
    accounts.create_user("bench-city", PASSWORD, Role.VIEWER, now, org="city-1")
    accounts.create_user("bench-district", PASSWORD, Role.VIEWER, now, org="district-3")
    site = sorted(registry.sites)[len(registry.sites) // 2]
    accounts.create_user("bench-nurse", PASSWORD, Role.NURSE, now, (site,))
    ctx = DashboardContext(accounts, registry, core, StoreQueries(db), core.policies, clock,
                           registry_db=store)
    lists: list[float] = []
    supervision: list[float] = []
    with TestClient(create_app(ctx)) as client:
        def sign_in(name: str) -> None:
            client.post("/api/login", json={"username": name, "password": PASSWORD}
                        ).raise_for_status()
        sign_in("bench-nurse")
        for _ in range(reads // 2):
            _timed(client, f"/api/residents?site_id={site}", lists)
        sign_in("bench-district")
        total = int(_timed(client, "/api/residents?limit=1", []).headers["X-Total-Count"])
        for _ in range(reads // 2):
            offset = rng.randrange(max(1, total - 1000))
            _timed(client, f"/api/residents?limit=1000&offset={offset}", lists)
        district_sites = 0
        for _ in range(max(1, reads // 10)):
            district_sites = len(_timed(client, "/api/supervision", supervision).json()["sites"])
        sign_in("bench-city")
        city_sites = 0
        for _ in range(max(1, reads // 10)):
            city_sites = len(_timed(client, "/api/supervision", supervision).json()["sites"])
    print(f"list API p99 {pct(lists, 0.99)} ms over {len(lists)} pages; supervisor API "
          f"p99 {pct(supervision, 0.99)} ms ({district_sites} and {city_sites} sites)",
          file=out, flush=True)
    # another node: its own connection to the database, its own registry and follower
    other_store = RegistryStore(work / "registry.db")
    other = other_store.load()
    seen = threading.Event()
    follower = RegistryFollower(other_store, other, seen.set)
    follower.start()
    took: list[float] = []
    for i in range(changes):
        who = rng.choice(people)
        moved = msgspec.structs.replace(registry.residents[who.resident_id],
                                        room=f"room-moved-{i}")
        seen.clear()
        began = time.monotonic()
        store.write([put(moved)], registry)
        while other.residents[who.resident_id].room != moved.room:
            if not seen.wait(30):
                raise RuntimeError("the other node did not hear of the change in 30 s")
            seen.clear()
        took.append(time.monotonic() - began)
    follower.stop()
    other_store.close()
    store.close()
    db.close()
    accounts.close()
    result = {"residents": len(registry.residents), "sites": len(registry.sites),
              "devices": len(registry.devices), "seed_s": round(seeded_s, 1),
              "load_s": round(load_s, 2),
              "list_api_ms_p50": pct(lists, 0.5), "list_api_ms_p99": pct(lists, 0.99),
              "supervisor_api_ms_p50": pct(supervision, 0.5),
              "supervisor_api_ms_p99": pct(supervision, 0.99),
              "supervisor_sites": [district_sites, city_sites],
              "change_to_node_s": round(max(took), 2),
              "change_to_node_s_p50": round(pct(took, 0.5) or 0.0, 2),
              "registry_rss_mb": round(registry_mb, 1)}
    return result
