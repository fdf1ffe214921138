"""Gateway level: observations become readings in batched envelopes, as edge agents send them.

Routine readings of a gateway are held and sent together every ``flush_every`` steps (or
when ``batch_max`` are waiting); urgent events (see ``telemetry.kinds.is_urgent``) go out at
once, alone. Sequence numbers count per gateway from 1.
"""

from __future__ import annotations

import numpy as np

from firmware_stubs import layout
from firmware_stubs.dialects import Message
from firmware_stubs.vitals import KIND_CODE, KINDS, Samples
from telemetry import codec, topics
from telemetry.clock import DAY_MS
from telemetry.health import ONLINE, link_test_due_ms
from telemetry.kinds import SPECS, URGENT_KINDS, Kind, unit_of
from telemetry.parts import GATEWAY_SELF
from telemetry.reading import Reading
from telemetry.topics import Channel

RECEIVE_DELAY_MS = 40
_URGENT_CODES = np.array(sorted(KIND_CODE[k] for k in URGENT_KINDS), dtype=np.int64)
_UNITS = [SPECS[k].unit for k in KINDS]
_DEVICE_IDS = [d.device_id for d in layout.DEVICES]


class GatewayRenderer:
    def __init__(self, homes: int, flush_every: int = 10, batch_max: int = 500) -> None:
        self.homes = homes
        self.flush_every = max(1, flush_every)
        self.batch_max = batch_max
        self.sites = [layout.site_id(h) for h in range(homes)]
        self.gateways = [layout.gateway_id(h) for h in range(homes)]
        self.residents = [layout.resident_id(h) for h in range(homes)]
        self.readings_topic = [topics.central(g, Channel.READINGS) for g in self.gateways]
        self.urgent_topic = [topics.central(g, Channel.URGENT) for g in self.gateways]
        self.seq = np.zeros(homes, dtype=np.int64)
        self.pending: list[list[Reading]] = [[] for _ in range(homes)]
        self._step = 0
        self._dues: dict[int, list[int]] = {}  # (UTC) day -> each home's test time

    def birth(self, t_ms: int) -> list[Message]:
        return [
            Message(topics.central(g, Channel.STATUS), ONLINE, True) for g in self.gateways
        ]

    def readings(self, s: Samples) -> list[Reading]:
        """One step's observations as readings, numbered per gateway (as an edge would)."""
        starts = np.searchsorted(s.home, s.home, side="left")
        seq = self.seq[s.home] + (np.arange(len(s.home)) - starts) + 1
        np.add.at(self.seq, s.home, 1)
        sites, gws, res = self.sites, self.gateways, self.residents
        return [
            Reading(sites[h], gws[h], _DEVICE_IDS[slot], KINDS[k], v, _UNITS[k], t,
                    t + RECEIVE_DELAY_MS, q, res[h])
            for h, slot, k, v, t, q in zip(
                s.home.tolist(), s.slot.tolist(), s.kind.tolist(), s.value.tolist(),
                s.t_ms.tolist(), seq.tolist(), strict=True)
        ]

    def render(self, s: Samples, now_ms: int) -> tuple[list[Message], int]:
        """Turn one step's observations into messages; returns them and the readings sent."""
        out: list[Message] = []
        sent = 0
        if len(s.home):
            readings = self.readings(s)
            urgent = np.isin(s.kind, _URGENT_CODES) & (s.value > 0)
            for i in np.flatnonzero(urgent).tolist():
                r = readings[i]
                h = int(s.home[i])
                out.append(Message(
                    self.urgent_topic[h],
                    codec.encode(r.gateway_id, r.site_id, now_ms, [r]), False))
                sent += 1
            bounds = np.flatnonzero(np.diff(s.home)) + 1
            lo = 0
            homes = s.home.tolist()
            flags = urgent.tolist()
            for hi in [*bounds.tolist(), len(homes)]:
                bucket = self.pending[homes[lo]]
                bucket.extend(r for r, u in zip(readings[lo:hi], flags[lo:hi], strict=True)
                              if not u)
                lo = hi
        offset = self._step % self.flush_every
        self._step += 1
        for h in range(offset, self.homes, self.flush_every):
            sent += self._flush(h, now_ms, out)
        if len(s.home):
            for h in np.unique(s.home).tolist():
                if len(self.pending[h]) >= self.batch_max:
                    sent += self._flush(h, now_ms, out)
        return out, sent

    def link_tests(self, t0_ms: int, t1_ms: int) -> tuple[list[Message], int]:
        """The daily test alarms due in [t0, t1), each alone and at once, as a gateway
        sends it (``telemetry.health.link_test_due_ms``)."""
        out: list[Message] = []
        for day in range(t0_ms // DAY_MS, (t1_ms - 1) // DAY_MS + 1):
            dues = self._dues.get(day)
            if dues is None:
                self._dues = {day: [link_test_due_ms(g, day * DAY_MS) for g in self.gateways]}
                dues = self._dues[day]
            for h, due in enumerate(dues):
                if t0_ms <= due < t1_ms:
                    self.seq[h] += 1
                    r = Reading(self.sites[h], self.gateways[h], GATEWAY_SELF, Kind.LINK_TEST,
                                1.0, unit_of(Kind.LINK_TEST), due, due + RECEIVE_DELAY_MS,
                                int(self.seq[h]), None)
                    out.append(Message(self.urgent_topic[h],
                                       codec.encode(r.gateway_id, r.site_id, t1_ms, [r]),
                                       False))
        return out, len(out)

    def drain(self, now_ms: int) -> tuple[list[Message], int]:
        out: list[Message] = []
        sent = sum(self._flush(h, now_ms, out) for h in range(self.homes))
        return out, sent

    def _flush(self, h: int, now_ms: int, out: list[Message]) -> int:
        bucket = self.pending[h]
        if not bucket:
            return 0
        self.pending[h] = []
        out.append(Message(
            self.readings_topic[h],
            codec.encode(self.gateways[h], self.sites[h], now_ms, bucket), False))
        return len(bucket)
