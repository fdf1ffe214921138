"""``eldercare broker-config``: write Mosquitto configurations for the centre or a gateway."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from telemetry.topics import TopicError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "broker-config", help="write Mosquitto configs (central TLS broker, gateway broker)",
        description="Write complete Mosquitto configurations: the central broker (TLS for "
                    "gateways, passwords, ACL from the topic module, a CA) or a gateway's "
                    "local broker.")
    which = p.add_subparsers(dest="which", required=True, metavar="central|edge|nats")
    c = which.add_parser("central", help="the central broker: TLS, passwords, ACL, CA")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--host", required=True, help="the name gateways connect to (DNS or IP)")
    c.add_argument("--port", type=int, default=8883)
    c.add_argument("--gateway", action="append", default=[], metavar="ID",
                   help="a gateway id (its MQTT username); repeat for each")
    c.add_argument("--ingest-port", type=int, default=1883,
                   help="loopback listener for ingest on this host (0: none)")
    c.add_argument("--client-certs", action="store_true",
                   help="also require and issue client certificates")
    c.set_defaults(handler=_central)
    n = which.add_parser("nats", help="a clustered broker for several alert nodes: one NATS "
                                      "config per node (MQTT over TLS, JetStream, routes, "
                                      "the partition mapping, per-gateway users)")
    n.add_argument("--out", type=Path, required=True)
    n.add_argument("--host", action="append", default=[], metavar="NAME", required=True,
                   help="a broker node's name (DNS or IP); repeat for each, 3 for a quorum")
    n.add_argument("--gateway", action="append", default=[], metavar="ID",
                   help="a gateway id (its MQTT username); repeat for each")
    n.add_argument("--partitions", type=int, default=6,
                   help="partitions of gateways; [cluster] partitions must say the same")
    n.add_argument("--port", type=int, default=8883, help="MQTT over TLS for gateways")
    n.set_defaults(handler=_nats)
    e = which.add_parser("edge", help="a gateway's local broker for its devices")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--port", type=int, default=1883)
    e.add_argument("--bind", default="127.0.0.1", help="address devices reach (home LAN); "
                   "off loopback the broker takes passwords")
    e.add_argument("--allow-anonymous", action="store_true",
                   help="no passwords even off loopback (only on a LAN you trust)")
    e.set_defaults(handler=_edge)


def _central(args: argparse.Namespace) -> int:
    from broker_config import generate

    try:
        generate.central(args.out, host=args.host, port=args.port, gateways=args.gateway,
                         ingest_port=args.ingest_port or None, client_certs=args.client_certs)
    except (TopicError, OSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}/mosquitto.conf; credentials for the gateways are in "
          f"{args.out}/credentials/ (hand each to its gateway, then delete)")
    return 0


def _nats(args: argparse.Namespace) -> int:
    from broker_config import nats

    try:
        nats.cluster(args.out, hosts=args.host, gateways=args.gateway,
                     partitions=args.partitions, mqtt_port=args.port)
    except (TopicError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {', '.join(f'{args.out}/nats-{i + 1}.conf' for i in range(len(args.host)))}"
          f" (run nats-server -c on each node); credentials for the gateways and for ingest "
          f"are in {args.out}/credentials/")
    return 0


def _edge(args: argparse.Namespace) -> int:
    from broker_config import generate

    try:
        passwords = generate.edge(args.out, port=args.port, bind=args.bind,
                                  passwords=False if args.allow_anonymous else None)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}/mosquitto.conf"
          + (f"; passwords for {', '.join(passwords)} are in {args.out}/credentials/"
             if passwords else ""))
    return 0
