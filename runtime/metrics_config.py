"""Where a process serves its operators' port (``[metrics]`` in the central and gateway
configs); kept apart from ``runtime.ops_server`` so reading a config never imports the
metrics library."""

from __future__ import annotations

import msgspec


class MetricsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                    omit_defaults=True):
    """Where a process serves ``/metrics`` and ``/health/…`` (``[metrics]``)."""

    host: str = "127.0.0.1"
    port: int = 9108  # 0: any free port (the process logs which)
