"""What an ingest process takes from the broker and what it stores (see ``Ingest``)."""

from __future__ import annotations

import enum


class ProcessRole(enum.StrEnum):
    ALL = "all"  # urgent and routine channels, both stored
    ALERTS = "alerts"  # every channel to the consumers; stored by STORE processes
    STORE = "store"  # urgent and routine readings stored; no consumers, no gateway status
