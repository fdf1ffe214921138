"""Device and gateway health: silent devices, low batteries, gateways offline.

The authority on a device's silence is the edge: its watchdog knows each device's class
and expected interval (a vital-sign radar reports every few seconds while someone is in
bed and not at all otherwise; a battery door contact may sleep for hours) and reports
availability as readings, forwarded here. The centre adds a backstop: any device of the
registry not heard from for ``BACKSTOP_SILENT_MS`` (26 h, longer than the longest sleep of
the devices we know), counted from the process start for devices never heard from. A
gateway that is offline (its retained last will) is one alert; the alert pipeline
(``alerts.pipeline.Inhibitor``, the one place that decides it) holds back the silence
alerts of every device behind it meanwhile: one problem, one alert. A gateway's radio
(``telemetry.parts``) going down is one alert for the gateway (``RADIO_OFFLINE``) at once,
cleared when it is back; the gateway holds its own silence reports of the devices behind
it meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from alerts.detectors.base import FleetBase
from alerts.model import Condition, Signal
from telemetry.kinds import Kind
from telemetry.parts import GATEWAY_PARTS
from telemetry.reading import Reading

if TYPE_CHECKING:
    from alerts.model import Alert

# the conditions whose state the health monitor keeps, and takes up from the store
HEALTH_CONDITIONS = (Condition.GATEWAY_OFFLINE, Condition.RADIO_OFFLINE,
                     Condition.DEVICE_SILENT, Condition.LOW_BATTERY)

BACKSTOP_SILENT_MS = 26 * 3_600_000
BUCKET_MS = 600_000  # devices indexed by the 10 minutes they were last heard in
LOW_BATTERY_PCT = 15.0
BATTERY_OK_PCT = 25.0


class DeviceHealth(NamedTuple):
    device_id: str
    last_seen_ms: int | None  # None: not heard from since the process started
    battery_pct: float | None
    silent: bool
    low_battery: bool


class _Device:
    __slots__ = ("battery", "bucket", "gateway_id", "heard", "last_ms", "low_battery",
                 "silent", "site_id")

    def __init__(self, site_id: str, gateway_id: str, last_ms: int) -> None:
        self.site_id, self.gateway_id = site_id, gateway_id
        self.last_ms = last_ms
        self.heard = False
        self.silent = False
        self.low_battery = False
        self.battery: float | None = None
        self.bucket = -1  # the index bucket it is in; -1: none (judged silent)


class HealthMonitor(FleetBase):
    """Health of every device and gateway (one instance for all of them).

    Devices are indexed by the 10 minutes they were last heard in, so the silence sweep
    looks only at those last heard longer ago than the silence threshold, not at all of
    them; a reading moves its device at most once per 10 minutes.
    """

    def __init__(self, silent_after_ms: int = BACKSTOP_SILENT_MS) -> None:
        self.silent_after_ms = silent_after_ms
        self._devices: dict[tuple[str, str], _Device] = {}
        self._buckets: dict[int, set[tuple[str, str]]] = {}
        self._offline: dict[str, tuple[str, int]] = {}  # gateway -> (site, since)
        self._radio_down: set[tuple[str, str]] = set()  # (gateway, part)

    def restore(self, open_alerts: list[Alert]) -> None:
        """Take up what the store says is wrong now (a node taking a partition over, or
        restarting): gateways offline, radios down, devices silent or with a low battery
        keep their open alerts, so they are cleared when they come back, and a device
        behind an offline gateway is not alarmed for its silence."""
        for alert in open_alerts:
            if not alert.active:
                continue
            if alert.condition is Condition.GATEWAY_OFFLINE:
                self._offline[alert.gateway_id] = (alert.site_id, alert.opened_ms)
            elif alert.condition is Condition.RADIO_OFFLINE:
                self._radio_down.add((alert.gateway_id, alert.device_id))
            elif alert.condition in (Condition.DEVICE_SILENT, Condition.LOW_BATTERY):
                key = (alert.gateway_id, alert.device_id)
                d = self._devices.get(key)
                if d is None:
                    d = self._devices[key] = _Device(alert.site_id, alert.gateway_id,
                                                     alert.opened_ms)
                    self._index(key, d)
                if alert.condition is Condition.LOW_BATTERY:
                    d.low_battery = True
                elif not d.silent:
                    d.silent = True  # out of the index until heard from, as when judged
                    if d.bucket >= 0:
                        self._unindex(key, d)

    def expect(self, site_id: str, gateway_id: str, device_id: str, since_ms: int) -> None:
        """A device of the registry: silent from ``since_ms`` until heard from."""
        key = (gateway_id, device_id)
        if key not in self._devices:
            self._devices[key] = d = _Device(site_id, gateway_id, since_ms)
            self._index(key, d)

    def forget(self, gateway_id: str, device_id: str) -> None:
        """A device taken out of the registry (removed, replaced): no longer expected."""
        key = (gateway_id, device_id)
        d = self._devices.pop(key, None)
        if d is not None and d.bucket >= 0:
            self._unindex(key, d)

    def _index(self, key: tuple[str, str], d: _Device) -> None:
        bucket = d.last_ms // BUCKET_MS
        if bucket == d.bucket:
            return
        if d.bucket >= 0:
            self._unindex(key, d)
        self._buckets.setdefault(bucket, set()).add(key)
        d.bucket = bucket

    def _unindex(self, key: tuple[str, str], d: _Device) -> None:
        members = self._buckets[d.bucket]
        members.discard(key)
        if not members:
            del self._buckets[d.bucket]
        d.bucket = -1

    @staticmethod
    def subject(gateway_id: str, device_id: str) -> str:
        return f"{gateway_id}/{device_id}"

    def _signal(self, condition: Condition, d: _Device, device_id: str, active: bool,
                t_ms: int, detail: str) -> Signal:
        return Signal(condition, self.subject(d.gateway_id, device_id), active, t_ms,
                      d.site_id, d.gateway_id, detail, device_id)

    def _part(self, reading: Reading) -> list[Signal]:
        """A report about the gateway's own part: only its availability means anything."""
        if reading.kind is not Kind.AVAILABILITY:
            return []
        key = (reading.gateway_id, reading.device_id)
        down = reading.value == 0
        if down == (key in self._radio_down):
            return []
        if down:
            self._radio_down.add(key)
        else:
            self._radio_down.discard(key)
        return [Signal(Condition.RADIO_OFFLINE, self.subject(*key), down,
                       reading.device_time_ms, reading.site_id, reading.gateway_id,
                       f"{reading.device_id} {'offline' if down else 'online again'}",
                       reading.device_id)]

    def radio_down(self, gateway_id: str) -> bool:
        return any(gw == gateway_id for gw, _ in list(self._radio_down))

    def observe(self, reading: Reading) -> list[Signal]:
        if reading.device_id in GATEWAY_PARTS:
            return self._part(reading)
        key = (reading.gateway_id, reading.device_id)
        d = self._devices.get(key)
        if d is None:
            d = self._devices[key] = _Device(reading.site_id, reading.gateway_id,
                                             reading.device_time_ms)
        if reading.device_time_ms > d.last_ms:
            d.last_ms = reading.device_time_ms
        if d.last_ms // BUCKET_MS != d.bucket:
            self._index(key, d)
        d.heard = True
        out: list[Signal] = []
        t = reading.device_time_ms
        if reading.kind is Kind.AVAILABILITY:
            if reading.value == 0 and not d.silent:
                d.silent = True
                out.append(self._signal(Condition.DEVICE_SILENT, d, reading.device_id,
                                        True, t, "reported offline by the gateway"))
            elif reading.value > 0 and d.silent:
                d.silent = False
                out.append(self._signal(Condition.DEVICE_SILENT, d, reading.device_id,
                                        False, t, "online again"))
            return out
        if d.silent:
            d.silent = False
            out.append(self._signal(Condition.DEVICE_SILENT, d, reading.device_id, False, t,
                                    "heard from again"))
        if reading.kind is Kind.BATTERY:
            d.battery = reading.value
            if reading.value < LOW_BATTERY_PCT and not d.low_battery:
                d.low_battery = True
                out.append(self._signal(Condition.LOW_BATTERY, d, reading.device_id, True,
                                        t, f"battery {reading.value:.0f} %"))
            elif reading.value >= BATTERY_OK_PCT and d.low_battery:
                d.low_battery = False
                out.append(self._signal(Condition.LOW_BATTERY, d, reading.device_id, False,
                                        t, f"battery {reading.value:.0f} %"))
        return out

    def devices_of(self, gateway_id: str) -> list[DeviceHealth]:
        """What the desk sees of a gateway's devices (safe to call from another thread)."""
        return [DeviceHealth(device_id, d.last_ms if d.heard else None, d.battery, d.silent,
                             d.low_battery)
                for (gw, device_id), d in list(self._devices.items()) if gw == gateway_id]

    def gateway_offline(self, gateway_id: str) -> bool:
        return gateway_id in self._offline

    def gateway_status(self, gateway_id: str, site_id: str, online: bool,
                       t_ms: int) -> list[Signal]:
        """The gateway's retained status changed (birth ``online``, will ``offline``)."""
        if not online and gateway_id not in self._offline:
            self._offline[gateway_id] = (site_id, t_ms)
            return [Signal(Condition.GATEWAY_OFFLINE, gateway_id, True, t_ms, site_id,
                           gateway_id, "gateway offline (last will)")]
        if online and gateway_id in self._offline:
            del self._offline[gateway_id]
            return [Signal(Condition.GATEWAY_OFFLINE, gateway_id, False, t_ms, site_id,
                           gateway_id, "gateway online")]
        return []

    def slow_chunks(self, now_ms: int, chunk: int = 5_000) -> Iterator[list[Signal]]:
        """Silence checks in chunks of devices (a caller can release its lock between).
        Only the buckets that can hold a device silent for long enough are looked at; a
        device judged silent leaves the index until it is heard from again."""
        threshold = now_ms - self.silent_after_ms
        due = sorted(b for b in self._buckets if b * BUCKET_MS <= threshold)
        keys = [key for b in due for key in self._buckets[b]]
        for lo in range(0, len(keys), chunk):
            out: list[Signal] = []
            for key in keys[lo:lo + chunk]:
                d = self._devices[key]
                if d.bucket < 0 or d.bucket * BUCKET_MS > threshold:
                    continue  # heard from again since the list was made
                if d.silent:  # reported offline by the gateway: already judged
                    self._unindex(key, d)
                    continue
                if now_ms - d.last_ms < self.silent_after_ms:
                    continue
                self._unindex(key, d)
                d.silent = True  # one silence, judged once (the pipeline inhibits it if
                # its gateway is offline: the one place that decides)
                minutes = (now_ms - d.last_ms) / 60_000
                out.append(self._signal(Condition.DEVICE_SILENT, d, key[1], True, now_ms,
                                        f"silent for {minutes:.0f} min"))
            yield out
