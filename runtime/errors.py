"""The runtime's exception root (the project's root is ``telemetry.errors``)."""

from __future__ import annotations

from telemetry.errors import EldercareError


class ProcessError(EldercareError):
    """A process could not get what it runs on: a secret, a port, a broker."""
