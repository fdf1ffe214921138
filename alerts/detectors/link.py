"""The daily test alarm: every gateway sends one a day at its own time
(``telemetry.health.link_test_due_ms``), the whole way an alarm travels. One that has not
reached the centre ``LINK_TEST_WINDOW_MS`` after its time is a link fault on the desk
(``LINK_TEST_MISSED``, subject the gateway), ended by the next test that arrives (also
one raised before a restart or by another node). Only
test times after the detector started watching a gateway are judged (what came before it
was not seen here)."""

from __future__ import annotations

from collections.abc import Iterator

from alerts.detectors.base import FleetBase
from alerts.model import Condition, Signal
from telemetry.clock import DAY_MS
from telemetry.health import LINK_TEST_WINDOW_MS, link_test_due_ms
from telemetry.kinds import Kind
from telemetry.reading import Reading


class LinkTests(FleetBase):
    kinds = frozenset({Kind.LINK_TEST})

    def __init__(self) -> None:
        self._gateways: dict[str, tuple[str, int]] = {}  # gateway -> (site, watched since)
        self._last: dict[str, int] = {}  # gateway -> its last test's time
        self._missed: dict[str, int] = {}  # gateway -> the test time it missed

    def expect(self, gateways: dict[str, str], now_ms: int) -> None:
        """Watch these gateways (id -> site) from now; forget any other."""
        for gone in set(self._gateways) - set(gateways):
            del self._gateways[gone]
            self._last.pop(gone, None)
            self._missed.pop(gone, None)
        for gateway_id, site_id in gateways.items():
            since = self._gateways.get(gateway_id, (site_id, now_ms))[1]
            self._gateways[gateway_id] = (site_id, since)

    def observe(self, reading: Reading) -> list[Signal]:
        if reading.kind is not Kind.LINK_TEST or reading.value <= 0:
            return []
        gateway_id = reading.gateway_id
        if reading.device_time_ms > self._last.get(gateway_id, -1):
            self._last[gateway_id] = reading.device_time_ms
        self._missed.pop(gateway_id, None)
        # ended whether or not this detector raised it: one raised before a restart or on
        # the node that had this gateway before is ended too (a lookup, once a day)
        return [Signal(Condition.LINK_TEST_MISSED, gateway_id, False, reading.device_time_ms,
                       reading.site_id, gateway_id, "test alarm arrived", reading.device_id)]

    def slow_chunks(self, now_ms: int) -> Iterator[list[Signal]]:
        out: list[Signal] = []
        today = now_ms - now_ms % DAY_MS
        for gateway_id, (site_id, since) in self._gateways.items():
            if gateway_id in self._missed:
                continue
            for day in (today - DAY_MS, today):  # (yesterday's, if late in its window)
                due = link_test_due_ms(gateway_id, day)
                if due <= since or now_ms < due + LINK_TEST_WINDOW_MS:
                    continue
                if self._last.get(gateway_id, -1) >= due - LINK_TEST_WINDOW_MS:
                    continue
                self._missed[gateway_id] = due
                minute = (due % DAY_MS) // 60_000
                out.append(Signal(Condition.LINK_TEST_MISSED, gateway_id, True, now_ms,
                                  site_id, gateway_id, f"the daily test alarm due at "
                                  f"{minute // 60:02d}:{minute % 60:02d} UTC did not arrive"))
                break
        yield out
