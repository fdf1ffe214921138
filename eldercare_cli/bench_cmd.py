"""``eldercare bench``: the project's benchmarks; the last line printed is JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "bench", help="benchmarks against real services; the last line is JSON")
    which = p.add_subparsers(dest="which", required=True,
                             metavar="edge|ingest|alerts|failover|stores|soak|response")
    e = which.add_parser("edge", help="edge agent: CPU, memory, outbox, drain after an outage")
    e.add_argument("--rate", type=float, default=1000.0, help="steady readings/s (1000)")
    e.add_argument("--steady", type=float, default=20.0, help="seconds of steady load (20)")
    e.add_argument("--outage", type=float, default=60.0, help="seconds the centre is down (60)")
    e.set_defaults(handler=_edge)
    i = which.add_parser("ingest", help="ingest + embedded store under the fleet runner")
    i.add_argument("--homes", type=int, default=10_000)
    i.add_argument("--speed", type=float, default=60.0)
    i.add_argument("--duration", type=float, default=20.0)
    i.add_argument("--processes", type=int, default=1,
                   help="ingest processes on one shared subscription (default 1)")
    i.set_defaults(handler=_ingest)
    a = which.add_parser("alerts", help="alert core: fall to notice under load, detector "
                                        "throughput, memory at 100k residents")
    a.add_argument("--homes", type=int, default=None, help="10,000 (2,000 with --nodes)")
    a.add_argument("--speed", type=float, default=60.0)
    a.add_argument("--duration", type=float, default=20.0)
    a.add_argument("--falls", type=int, default=200)
    a.add_argument("--nodes", type=int, default=0,
                   help="instead: intake with 1..N alert nodes on NATS and PostgreSQL, "
                        "readings/s and CPU per reading per node")
    a.add_argument("--store-workers", type=int, default=1,
                   help="store worker processes beside the alert core's (0: it stores "
                        "everything itself; default 1)")
    a.set_defaults(handler=_alerts)
    f = which.add_parser("failover", help="alert nodes on a NATS cluster and PostgreSQL, "
                                          "under load: kill -9 an alert node, a broker node, "
                                          "restart PostgreSQL, pause an alert node, kill the "
                                          "PostgreSQL primary; takeover "
                                          "time, fall to desk, loss, SMS twice")
    f.add_argument("--homes", type=int, default=2000)
    f.add_argument("--nodes", type=int, default=3, help="alert nodes (3)")
    f.add_argument("--partitions", type=int, default=6)
    f.add_argument("--falls", type=int, default=90, help="falls per run (90)")
    f.add_argument("--duration", type=float, default=45.0, help="seconds of load per run")
    f.add_argument("--kill", choices=["alert-node", "broker-node", "postgres-restart",
                                      "pause-node", "postgres", "all"], default="all",
                   help="what fails (all: each in turn, a run each; postgres: the primary "
                        "of a Patroni-run PostgreSQL with a synchronous standby, killed -9)")
    f.add_argument("--pause-node", dest="kill", action="store_const", const="pause-node",
                   help="the same as --kill pause-node")
    f.set_defaults(handler=_failover)
    r = which.add_parser("response", help="a month of alarms answered by a scripted desk: "
                                          "the response report against the script")
    r.add_argument("--beds", type=int, default=200, help="the care home's residents (200)")
    r.add_argument("--homes", type=int, default=2000, help="elders at home (2000)")
    r.add_argument("--alarms-per-resident", type=float, default=1.0,
                   help="falls and SOS per resident in the month (1.0)")
    r.add_argument("--state", default=None, help="a PostgreSQL DSN (default: embedded)")
    r.add_argument("--seed", type=int, default=7)
    r.set_defaults(handler=_response)
    st = which.add_parser("stores", help="write throughput and size: SQLite, DuckDB (if "
                                         "installed), InfluxDB 1.6")
    st.add_argument("--points", type=int, default=300_000)
    st.set_defaults(handler=_stores)
    so = which.add_parser("soak", help="the central process for simulated weeks: memory, "
                                       "disk, every incident on the desk, no loss")
    so.add_argument("--homes", type=int, default=1000)
    so.add_argument("--days", type=float, default=30.0)
    so.add_argument("--step", type=float, default=60.0,
                    help="simulated seconds per fleet step (60; vitals are sampled per step)")
    so.add_argument("--incident-rate", type=float, default=0.1,
                    help="incidents per home and day (0.1)")
    so.add_argument("--restart-at-day", type=float, default=None,
                    help="stop and start the central process at this simulated day "
                         "(default half-way; 0: never)")
    so.add_argument("--warm-up-days", type=float, default=3.0,
                    help="incidents before this day are not scored (3: the detectors learn)")
    so.set_defaults(handler=_soak)
    rg = which.add_parser("registry", help="the registry at a city's size: the desk's list "
                                           "and supervisor pages, a change reaching another "
                                           "node, the registry's memory")
    rg.add_argument("--residents", type=int, default=100_000)
    rg.add_argument("--sites", type=int, default=2_000)
    rg.add_argument("--reads", type=int, default=200, help="list pages read (200)")
    rg.set_defaults(handler=_registry)


def _edge(args: argparse.Namespace) -> int:
    from bench import edge

    result = edge.run(rate_per_s=args.rate, steady_s=args.steady, outage_s=args.outage)
    print(json.dumps(result), flush=True)
    return 0 if result.get("lost") == 0 else 1


def _ingest(args: argparse.Namespace) -> int:
    from bench import ingest

    result = ingest.run(homes=args.homes, speed=args.speed, duration=args.duration,
                        processes=args.processes)
    print(json.dumps(result), flush=True)
    return 0 if result["lost"] == 0 and result["duplicates"] in (0, None) else 1


def _alerts(args: argparse.Namespace) -> int:
    from bench import alerts

    if args.nodes:
        from bench import nodes

        scaled = nodes.run(max_nodes=args.nodes, homes=args.homes or nodes.HOMES,
                           speed=args.speed, duration=args.duration)
        print(json.dumps(scaled), flush=True)
        return 0 if scaled["lost"] == 0 else 1

    result = alerts.run(homes=args.homes or 10_000, speed=args.speed, duration=args.duration,
                        falls=args.falls, store_workers=args.store_workers)
    print(json.dumps(result), flush=True)
    return 0 if result["notices_sent"] == result["falls"] else 1


def _failover(args: argparse.Namespace) -> int:
    from bench import failover

    kills = list(failover.KILLS) if args.kill == "all" else [args.kill]
    results = [failover.run(homes=args.homes, alert_nodes=args.nodes,
                            partitions=args.partitions, falls=args.falls,
                            duration=args.duration, kill=kill) for kill in kills]
    for kill, r in zip(kills, results, strict=True):
        print(f"{kill}: falls lost {r['lost_falls']}, falls not on the desk "
              f"{r['falls_not_pushed']}, duplicate SMS {r['duplicate_sms']}", flush=True)
    summary = dict(results[0])
    for kill, r in zip(kills[1:], results[1:], strict=True):
        summary[kill.replace("-", "_")] = r
    print(json.dumps(summary), flush=True)
    ok = all(r["lost"] == 0 and r["lost_falls"] == 0 and r["duplicate_sms"] == 0
             and r["falls_not_pushed"] == 0 for r in results)
    return 0 if ok else 1


def _registry(args: argparse.Namespace) -> int:
    from bench import registry

    result = registry.run(residents=args.residents, sites=args.sites, reads=args.reads)
    print(json.dumps(result), flush=True)
    return 0


def _stores(args: argparse.Namespace) -> int:
    from bench import stores

    print(json.dumps(stores.run(points=args.points)), flush=True)
    return 0


def _soak(args: argparse.Namespace) -> int:
    from bench import soak

    result = soak.run_soak(homes=args.homes, days=args.days, step_s=args.step,
                           incident_rate=args.incident_rate,
                           restart_at_day=args.restart_at_day, warm_up_days=args.warm_up_days)
    print(json.dumps(result), flush=True)
    ok = result["lost"] == 0 and result["duplicated"] == 0 and result["duplicate_sms"] == 0 \
        and result["incidents_on_desk"] == result["incidents"]
    return 0 if ok else 1


def _response(args: argparse.Namespace) -> int:
    import sys

    from bench import response

    print(f"response: a month of a {args.beds}-bed care home and {args.homes} homes, "
          f"{args.alarms_per_resident} alarms per resident", flush=True)
    result = response.run(beds=args.beds, homes=args.homes,
                          alarms_per_resident=args.alarms_per_resident, state=args.state,
                          seed=args.seed, out=sys.stdout)
    wrong = response.checks(result)
    for line in wrong:
        print(f"WRONG: {line}", flush=True)
    print(json.dumps(result), flush=True)
    return 1 if wrong else 0
