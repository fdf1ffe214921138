"""The central broker's ACL and password file, generated from ``telemetry.topics``."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

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
