"""``eldercare``: one command, a subcommand per part of the system."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eldercare_cli import (
    bench_cmd,
    broker_config_cmd,
    demo_cmd,
    edge_cmd,
    eval_cmd,
    ingest_cmd,
    install_cmd,
    simulate_cmd,
    users_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eldercare",
        description="Edge-to-alert monitoring for nursing homes and elders living alone.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench_cmd.register(sub)
    broker_config_cmd.register(sub)
    demo_cmd.register(sub)
    edge_cmd.register(sub)
    eval_cmd.register(sub)
    ingest_cmd.register(sub)
    install_cmd.register(sub)
    simulate_cmd.register(sub)
    users_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
