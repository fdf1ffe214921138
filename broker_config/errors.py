"""The exception root of generating the brokers' configs (the project's root is
``telemetry.errors``)."""

from __future__ import annotations

from telemetry.errors import EldercareError


class BrokerConfigError(EldercareError, ValueError):
    """Raised on purpose by generating the brokers' configs."""
