"""The project's one exception root, and this package's.

Every package's own errors derive from its root here or in its ``errors`` module, and
every root from ``EldercareError``, so the command (``eldercare_cli.main``) can report any
of them as a clear message instead of a traceback. The root lives in the lowest layer so
the message model's own errors can derive from it."""

from __future__ import annotations


class EldercareError(Exception):
    """Anything the project raises on purpose: bad input, bad config, a service away."""


class TelemetryError(EldercareError):
    """A message, topic or payload that does not follow the contract."""
