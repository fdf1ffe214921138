"""The central broker's ACL and password file, generated from ``telemetry.topics``."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import NamedTuple

from broker_config.certs import Authority
from telemetry import topics


def acl_text(ingest_user: str = "ingest") -> str:
    """Mosquitto ACL: each gateway writes only its own topics and reads its own commands;
    the ingest user reads every gateway topic and writes commands."""
    lines = [f"user {ingest_user}", f"topic read {topics.CENTRAL_ROOT}/#",
             f"topic write {topics.CENTRAL_ROOT}/+/cmd/#", ""]
    lines += [f"pattern {access} {topic}" for access, topic in topics.acl_patterns()]
    return "\n".join(lines) + "\n"


def write_password_file(path: Path, users: dict[str, str]) -> None:
    """Hash ``users`` (name -> password) into a Mosquitto password file."""
    path.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
    path.chmod(0o600)
    subprocess.run(["mosquitto_passwd", "-U", str(path)], check=True, capture_output=True)


INGEST_USER = "ingest"


class Provisioning(NamedTuple):
    out: Path  # where the files are written (absolute)
    where: Path  # where they will be on the server: the path the configs name
    ca: Authority
    passwords: dict[str, str]  # per gateway and for ingest


def provision(out: Path, target: Path | None, gateways: list[str]) -> Provisioning:
    """What every broker's files start with: the output folder, the gateway ids checked,
    the project's CA, and a fresh password per gateway and for ingest (written to
    ``out/credentials/`` to hand out at provisioning)."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for gateway in gateways:
        topics.check_id(gateway, "gateway id")
    passwords = new_credentials(out / "credentials", [*gateways, INGEST_USER])
    return Provisioning(out, target if target is not None else out, Authority(out / "ca"),
                        passwords)


def new_credentials(folder: Path, users: list[str]) -> dict[str, str]:
    """A fresh password for each of ``users``, each also written to
    ``folder/<user>.password`` (mode 600) to hand to whoever connects as that user."""
    folder.mkdir(parents=True, exist_ok=True)
    passwords = {name: secrets.token_urlsafe(24) for name in users}
    for name, password in passwords.items():
        path = folder / f"{name}.password"
        path.write_text(password + "\n")
        path.chmod(0o600)
    return passwords
