"""The exception root of the gateway's process (the project's root is ``telemetry.errors``)."""

from __future__ import annotations

from telemetry.errors import EldercareError


class EdgeError(EldercareError):
    """Raised on purpose by the gateway's process."""
