"""``eldercare registry``: the registry the central runs from is in its database; a YAML
file goes in (``import``: checked whole, every problem listed, nothing changed if any)
and comes out (``export``: bulk enrolment, backups, the demo)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "registry", help="the sites, gateways, residents and devices the central runs "
                         "from: import a YAML file into its database, or export it")
    which = p.add_subparsers(dest="which", required=True, metavar="import|export")
    i = which.add_parser("import", help="replace the registry by a YAML file's (the running "
                                        "processes take it up within seconds)")
    i.add_argument("--config", required=True, type=Path, help="the central TOML config")
    i.add_argument("file", type=Path)
    i.set_defaults(handler=_import)
    e = which.add_parser("export", help="write the registry as YAML (standard output "
                                        "without a file)")
    e.add_argument("--config", required=True, type=Path, help="the central TOML config")
    e.add_argument("file", type=Path, nargs="?")
    e.set_defaults(handler=_export)


def _store(config_path: Path) -> Any:
    from central import config
    from registry.db import RegistryStore

    cfg = config.load(config_path)
    Path(cfg.data_dir).mkdir(parents=True, exist_ok=True)
    return RegistryStore(config.registry_location(cfg))


def _import(args: argparse.Namespace) -> int:
    from registry.db import import_file

    with _store(args.config) as store:
        version = import_file(store, args.file)
        registry = store.load()
    print(f"registry imported from {args.file}: {len(registry.sites)} sites, "
          f"{len(registry.gateways)} gateways, {len(registry.residents)} residents, "
          f"{len(registry.devices)} devices (version {version})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from registry.db import export_file

    with _store(args.config) as store:
        text = export_file(store, args.file)
    if args.file is None:
        sys.stdout.write(text)
    return 0
