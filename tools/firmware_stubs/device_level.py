"""Device level: observations become what each home's devices send to the gateway's broker."""

from __future__ import annotations

import numpy as np

from firmware_stubs import layout
from firmware_stubs.dialects import DeviceSim, Message
from firmware_stubs.dialects.esphome import EsphomeNode
from firmware_stubs.dialects.native import NativeDevice
from firmware_stubs.dialects.zigbee2mqtt import Z2mDevice
from firmware_stubs.incidents import Incident, IncidentKind
from firmware_stubs.vitals import KINDS, Samples
from telemetry import topics
from telemetry.health import ONLINE
from telemetry.topics import Dialect


def make_device(home: int, device: layout.Device) -> DeviceSim:
    name = layout.local_name(home, device)
    if device.dialect is Dialect.ZIGBEE2MQTT:
        # Half the homes run zigbee2mqtt with the newer JSON availability payload.
        return Z2mDevice(device.model, name, legacy_availability=home % 2 == 0,
                         last_seen=home % 3 == 0)
    if device.dialect is Dialect.ESPHOME:
        return EsphomeNode(device.model, name)
    return NativeDevice(device.model, name)


class DeviceRenderer:
    """Every device of every home, rendering observations in its own dialect.

    With ``accel`` the pendants also stream raw accelerometer blocks (one per second of
    simulated time) with an impact where a fall is injected.
    """

    def __init__(self, homes: int, incidents: list[Incident], *, accel: bool = False,
                 seed: int = 0) -> None:
        self.devices = [[make_device(h, d) for d in layout.DEVICES] for h in range(homes)]
        self.accel = accel
        self._rng = np.random.default_rng([seed, 13])
        # (home, impact time, end of lying on the floor) of each injected fall
        self._falls = [
            (i.home_index, i.start_ms + 8000, i.end_ms) for i in incidents
            if i.incident is IncidentKind.FALL
        ]

    def birth(self, t_ms: int) -> list[Message]:
        out = [Message(topics.z2m_bridge_state(), ONLINE, True)]
        for devices in self.devices:
            for device in devices:
                out.extend(device.birth(t_ms))
        return out

    def render(self, s: Samples, t0_ms: int, t1_ms: int) -> tuple[list[Message], int]:
        out: list[Message] = []
        for h, slot, k, v, t in zip(s.home.tolist(), s.slot.tolist(), s.kind.tolist(),
                                    s.value.tolist(), s.t_ms.tolist(), strict=True):
            out.extend(self.devices[h][slot].observe(KINDS[k], v, t))
        count = len(out)
        if self.accel:
            wrist = layout.SLOT["pendant"]
            for h, devices in enumerate(self.devices):
                band = devices[wrist]
                assert isinstance(band, NativeDevice)
                for second in range(t0_ms - t0_ms % 1000, t1_ms, 1000):
                    if second < t0_ms:
                        continue
                    impact = next((t for (home, t, _) in self._falls
                                   if home == h and second <= t < second + 1000), None)
                    lying = any(home == h and t < second and second < end
                                for (home, t, end) in self._falls)
                    out.append(band.accel(second, 1.0, self._rng, impact, lying))
        return out, count

