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
    registry_cmd,
    simulate_cmd,
    users_cmd,
)
from telemetry.errors import EldercareError


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
    registry_cmd.register(sub)
    simulate_cmd.register(sub)
    users_cmd.register(sub)
    return parser


# the tools: in a source checkout (``pip install -e tools``), never in the product's wheel
TOOLS = frozenset({"firmware_stubs", "harness", "evaluation", "bench"})


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except EldercareError as exc:  # every package's errors: a message, not a traceback
        print(f"eldercare {args.command}: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in TOOLS:
            raise
        print(f"eldercare {args.command}: needs the tools ({exc.name}), which are not part "
              "of the product: run it from a source checkout (scripts/setup.sh installs "
              "them, or pip install -e tools)", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
