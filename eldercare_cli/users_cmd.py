"""``eldercare users``: duty-desk accounts (the first admin is made here; there is no
default password)."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "users", help="duty-desk accounts: add a user (e.g. the first admin), list users")
    which = p.add_subparsers(dest="which", required=True, metavar="add|list")
    a = which.add_parser("add", help="add a user; prints a generated password unless "
                                     "--password-stdin")
    a.add_argument("--config", required=True, type=Path, help="the central TOML config")
    a.add_argument("--username", required=True)
    a.add_argument("--role", default="admin", choices=["admin", "manager", "nurse", "viewer"])
    a.add_argument("--site", action="append", default=[], metavar="SITE_ID",
                   help="a site this user sees (repeat for several; none: every site)")
    a.add_argument("--org", default="", metavar="ORG_ID",
                   help="the node of the supervising tree (city, district, street, community) "
                        "this user belongs to: they see every site below it")
    a.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input")
    a.set_defaults(handler=_add)
    ls = which.add_parser("list", help="list users and roles")
    ls.add_argument("--config", required=True, type=Path)
    ls.set_defaults(handler=_list)


def _accounts(config_path: Path) -> Any:
    from central import config
    from dashboard.accounts.store import Accounts

    cfg = config.load(config_path)
    if cfg.cluster is not None:  # the desk users every node shares
        return Accounts(cfg.cluster.state)
    data = Path(cfg.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    return Accounts(data / "accounts.db")


def _add(args: argparse.Namespace) -> int:
    from central.config import CentralConfigError
    from dashboard.accounts.model import AccountError, Role
    from runtime.sql import StateError
    from telemetry.clock import SystemClock

    generated = not args.password_stdin
    password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().strip()
    try:
        accounts = _accounts(args.config)
        accounts.create_user(args.username, password, Role(args.role), SystemClock().now_ms(),
                             tuple(args.site), args.org)
    except (AccountError, CentralConfigError, StateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    accounts.close()
    print(f"user {args.username} ({args.role}) created"
          + (f"; password: {password}" if generated else ""))
    return 0


def _list(args: argparse.Namespace) -> int:
    from central.config import CentralConfigError
    from runtime.sql import StateError

    try:
        accounts = _accounts(args.config)
    except (CentralConfigError, StateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for username, role in accounts.users():
        print(f"{username}\t{role.value}")
    accounts.close()
    return 0
