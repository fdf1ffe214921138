"""The exception root of the alert core (the project's root is ``telemetry.errors``)."""

from __future__ import annotations

from telemetry.errors import EldercareError


class AlertsError(EldercareError):
    """Raised on purpose by the alert core."""
