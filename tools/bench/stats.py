"""The benches' one percentile: nearest rank (the smallest value with at least ``q`` of
the values at or below it; of 100 values, p99 is the 99th, p50 the 50th)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def pct(values: Sequence[float], q: float, digits: int = 1) -> float | None:
    """The ``q`` quantile of ``values`` by nearest rank, to ``digits`` decimals (None: no
    values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return round(ordered[rank - 1], digits)
