"""The exception root of the central consumer and its stores (the project's root is
``telemetry.errors``)."""

from __future__ import annotations

from telemetry.errors import EldercareError


class IngestError(EldercareError):
    """Raised on purpose by the central consumer and its stores."""
