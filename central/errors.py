"""The exception root of the central process (the project's root is ``telemetry.errors``)."""

from __future__ import annotations

from telemetry.errors import EldercareError


class CentralError(EldercareError):
    """Raised on purpose by the central process."""
