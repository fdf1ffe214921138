"""``eldercare install gateway|central``: lay down config, the local broker's config, systemd
units, the service user and data directories on a Debian or Raspberry Pi OS machine.

Into ``--root`` (default ``/``), so a package build or a test can install into a directory.
Config files that exist are kept (an upgrade never loses an operator's settings); units are
rewritten (they belong to the code). Then, on the machine itself:
``systemctl daemon-reload && systemctl enable --now <units>``.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

CONF = Path("etc/eldercare")
UNITS = Path("lib/systemd/system")
SYSUSERS = Path("usr/lib/sysusers.d/eldercare.conf")
USER = "eldercare"
BROKER_USER = "mosquitto"  # Debian's mosquitto package makes it

# What every unit of ours runs under: no new privileges, a read-only system apart from its
# own state, no devices, no kernel knobs, only IP and local sockets.
HARDENING = """\
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
CapabilityBoundingSet=
UMask=0027"""


def _unit(description: str, *, after: str, service: str) -> str:
    return f"""\
[Unit]
Description={description}
Documentation=https://example.invalid/eldercare
After={after}
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
{service}
Restart=always
RestartSec=2
TimeoutStopSec=20
KillSignal=SIGTERM
{HARDENING}

[Install]
WantedBy=multi-user.target
"""


def _eldercare_unit(description: str, after: str, command: str, state: str) -> str:
    """A unit running an eldercare command as the service user, writing only ``state``."""
    return _unit(description, after=after, service=f"""\
Type=simple
User={USER}
Group={USER}
ExecStart={command}
StateDirectory={state}
StateDirectoryMode=0750
ReadOnlyPaths=/{CONF}""")


def central_unit(exe: str) -> str:
    return _eldercare_unit("eldercare central process: ingest, alert core, duty desk",
                           "network-online.target eldercare-central-broker.service",
                           f"{exe} ingest --config /{CONF}/central.toml", "eldercare")


def broker_unit(description: str, folder: str) -> str:
    """Mosquitto on the config ``eldercare broker-config`` made in ``/etc/eldercare/<folder>``,
    as Debian's ``mosquitto`` user, writing only its persistence."""
    return _unit(description, after="network-online.target", service=f"""\
Type=simple
User={BROKER_USER}
Group={BROKER_USER}
ExecStart=/usr/sbin/mosquitto -c /{CONF}/{folder}/mosquitto.conf
ReadWritePaths=/{CONF}/{folder}/data""")


def edge_broker_unit() -> str:
    return broker_unit("eldercare gateway: the home's local MQTT broker", "edge")


def edge_unit(exe: str) -> str:
    return _eldercare_unit("eldercare gateway: the edge agent (devices to outbox to centre)",
                           "network-online.target eldercare-edge-broker.service",
                           f"{exe} edge --config /{CONF}/gateway.toml", "eldercare-edge")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "install", help="install a gateway or the central process as systemd services",
        description=__doc__)
    p.add_argument("what", choices=["gateway", "central"])
    p.add_argument("--root", type=Path, default=Path("/"),
                   help="install into this directory as if it were / (default /)")
    p.add_argument("--exec", dest="exe", default=None,
                   help="the eldercare command the units run (default: this one)")
    p.add_argument("--bind", default="127.0.0.1",
                   help="gateway: the address the home's devices reach its broker on; off "
                        "loopback the broker takes passwords (default 127.0.0.1)")
    p.add_argument("--host", default=None,
                   help="central: the name gateways connect to; with it the central broker "
                        "(TLS certificates, passwords, ACL) and its unit are laid down too")
    p.add_argument("--gateway", action="append", default=[], metavar="ID",
                   help="central, with --host: a gateway to make credentials for (repeat)")
    p.set_defaults(handler=_handle)


def _this_command() -> str | None:
    beside = Path(sys.executable).with_name("eldercare")
    return str(beside) if beside.exists() else shutil.which("eldercare")


def _keep_or_write(path: Path, text: str, made: list[str], kept: list[str]) -> None:
    if path.exists():
        kept.append(str(path))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o640)
    made.append(str(path))


def _write(path: Path, text: str, made: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)
    made.append(str(path))


def install(what: str, root: Path, exe: str, bind: str = "127.0.0.1", host: str | None = None,
            gateways: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Lay the files down; returns what was written, what was kept and the units."""
    import registry
    from alerts import policy  # here, not at the top: every eldercare command loads this file
    from central import config as central_config
    from edge_agent import config as edge_config

    made: list[str] = []
    kept: list[str] = []
    conf = root / CONF
    units: dict[str, str] = {}
    home = "/var/lib/eldercare" if what == "central" else "/var/lib/eldercare-edge"
    _write(root / SYSUSERS, f'u {USER} - "eldercare services" {home}\n', made)
    if what == "central":
        _keep_or_write(conf / "central.toml", central_config.SAMPLE.read_text(),
                       made, kept)
        _keep_or_write(conf / "registry.yaml", registry.SAMPLE.read_text(),
                       made, kept)
        _keep_or_write(conf / "policy.yaml", policy.SAMPLE.read_text(),
                       made, kept)
        units["eldercare-central.service"] = central_unit(exe)
        broker = conf / "central"
        if (broker / "mosquitto.conf").exists():  # an upgrade: its unit is written again
            kept.append(str(broker / "mosquitto.conf"))
        elif host is not None:
            from broker_config import generate

            generate.central(broker, host=host, gateways=list(gateways),
                             target=Path("/") / CONF / "central")
            made.append(str(broker / "mosquitto.conf"))
        if (broker / "mosquitto.conf").exists():
            units["eldercare-central-broker.service"] = broker_unit(
                "eldercare centre: the MQTT broker the gateways reach (TLS)", "central")
    else:
        _keep_or_write(conf / "gateway.toml", edge_config.SAMPLE.read_text(),
                       made, kept)
        broker = conf / "edge"
        if (broker / "mosquitto.conf").exists():
            kept.append(str(broker / "mosquitto.conf"))
        else:
            from broker_config import generate

            generate.edge(broker, bind=bind, target=Path("/") / CONF / "edge")
            made.append(str(broker / "mosquitto.conf"))
        units["eldercare-edge-broker.service"] = edge_broker_unit()
        units["eldercare-edge.service"] = edge_unit(exe)
    for name, text in units.items():
        _write(root / UNITS / name, text, made)
    (root / home.lstrip("/")).mkdir(parents=True, exist_ok=True, mode=0o750)
    if root.resolve() == Path("/") and os.geteuid() == 0:
        _own(what, root)
    return {"made": made, "kept": kept, "units": sorted(units)}


def _own(what: str, root: Path) -> None:
    """On the machine itself: make the users, then hand each service what it writes."""
    subprocess.run(["systemd-sysusers", str(root / SYSUSERS)], check=True)
    if what == "gateway":
        _own_broker(root / CONF / "edge", "agent.password")
    else:
        _own_broker(root / CONF / "central", "ingest.password")


def _own_broker(folder: Path, ours: str) -> None:
    """The broker reads its config and writes its data; the password our process signs in
    with is ours; the CA's key and the gateways' credentials stay root's."""
    if not folder.exists():
        return
    try:
        broker, agent = pwd.getpwnam(BROKER_USER), pwd.getpwnam(USER)
    except KeyError:
        return
    for path in [folder, *folder.rglob("*")]:
        if path.name == ours:
            os.chown(path, agent.pw_uid, agent.pw_gid)
        elif path.name != "ca.key" and "credentials" not in path.relative_to(folder).parts:
            os.chown(path, broker.pw_uid, broker.pw_gid)


def _handle(args: argparse.Namespace) -> int:
    exe = args.exe or _this_command()
    if exe is None:
        print("error: cannot tell where the eldercare command is; pass --exec",
              file=sys.stderr)
        return 1
    try:
        done = install(args.what, args.root, exe, args.bind, args.host, tuple(args.gateway))
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in done["made"]:
        print(f"wrote {path}")
    for path in done["kept"]:
        print(f"kept  {path} (exists)")
    if "eldercare-central-broker.service" in done["units"]:
        print("first: systemctl disable --now mosquitto  (Debian's own broker holds port 1883, "
              "where ingest reads ours)")
    print(f"then: systemctl daemon-reload && systemctl enable --now {' '.join(done['units'])}")
    return 0
