"""Secrets (passwords, tokens) live in files of their own, never in a config file: this
reads one, for every process and every setting that names one."""

from __future__ import annotations

from pathlib import Path

from runtime.errors import ProcessError


class SecretError(ProcessError):
    """A secret file named in a configuration cannot be read."""


def read_secret(path: str) -> str:
    """The secret in ``path``, without surrounding whitespace."""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise SecretError(f"cannot read secret file {path}: {exc}") from exc
