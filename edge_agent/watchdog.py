"""Last-seen watchdog: a device silent past its class's budget is reported unavailable.

zigbee2mqtt marks a battery device unavailable only after 25 hours; a fall sensor that has
been dead since yesterday is no protection, so the gateway keeps its own, shorter budget
per device class. A device counts from the agent's start, so one that never reports is
noticed too.

Devices behind a radio that is down (the Zigbee coordinator) are held: the radio's own
report covers them, one problem, one alert. When the radio is back each held device gets a
fresh budget from that moment.
"""

from __future__ import annotations

import threading

from edge_agent.adapters import Observation
from edge_agent.config import DeviceConfig
from telemetry.clock import Clock
from telemetry.kinds import Kind


class Watchdog:
    def __init__(self, devices: list[DeviceConfig], clock: Clock, *, battery_budget_s: float,
                 mains_budget_s: float) -> None:
        self._clock = clock
        now = clock.monotonic_s()
        self._budget = {d.device_id: battery_budget_s if d.battery_powered else mains_budget_s
                        for d in devices}
        self._last_seen = {d.device_id: now for d in devices}
        self._silent: set[str] = set()
        self._held: set[str] = set()
        self._lock = threading.Lock()  # seen() on the broker's thread, check() on another

    def seen(self, device_id: str) -> list[Observation]:
        """The device sent something; if it had been reported silent, it is back."""
        if device_id not in self._last_seen:
            return []
        with self._lock:
            self._last_seen[device_id] = self._clock.monotonic_s()
            if device_id in self._silent:
                self._silent.discard(device_id)
                return [Observation(device_id, Kind.AVAILABILITY, 1.0)]
        return []

    def hold(self, device_ids: list[str], held: bool) -> None:
        """Stop judging these devices (their radio is down), or judge them again afresh."""
        now = self._clock.monotonic_s()
        known = [d for d in device_ids if d in self._last_seen]
        with self._lock:
            if held:
                self._held.update(known)
                return
            for device_id in known:
                if device_id in self._held:
                    self._held.discard(device_id)
                    self._last_seen[device_id] = now

    def check(self) -> list[Observation]:
        """Devices that have just gone past their budget (each reported once)."""
        now = self._clock.monotonic_s()
        out = []
        with self._lock:
            for device_id, last in self._last_seen.items():
                if device_id in self._silent or device_id in self._held:
                    continue
                if now - last > self._budget[device_id]:
                    self._silent.add(device_id)
                    out.append(Observation(device_id, Kind.AVAILABILITY, 0.0))
        return out
