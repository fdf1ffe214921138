"""The gateway process: local broker -> adapters -> outbox -> uplink, plus local safety.

Threads: paho's network thread for the local broker (it translates each device message
and raises the local alarm, then hands the reading to the outbox writer), the
``outbox-writer`` (``runtime.group_commit``: commits readings to the outbox in groups, an
urgent one at once, and acknowledges the device's messages after the commit), the
``uplink`` thread (see ``uplink.py``), and the caller's thread running ``run()`` for the
watchdog and the heartbeat; with ``[metrics]``, the ``ops-http`` server thread.
"""

from __future__ import annotations

import collections
import logging
import shutil
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.adapters import Adapter, AdapterError, Observation
from edge_agent.adapters.esphome import EsphomeAdapter
from edge_agent.adapters.native import NativeAdapter
from edge_agent.adapters.zigbee2mqtt import Zigbee2mqttAdapter
from edge_agent.commands import CommandHandler
from edge_agent.config import GatewayConfig
from edge_agent.local_rules import (
    CENTRE_UNREACHABLE,
    POSSIBLE_FALL_UNANSWERED,
    LocalAlarm,
    PromptOut,
    alarm_for,
    encode_alarm,
    encode_prompt,
    is_alarm,
)
from edge_agent.outbox import Outbox, OutboxError
from edge_agent.uplink.session import Uplink
from edge_agent.watchdog import Watchdog
from runtime.backoff import Backoff
from runtime.group_commit import GroupWriter
from runtime.limits import EDGE_MAX_INFLIGHT
from runtime.mqtt import MQTTv311, new_client, release
from telemetry import commands as wire
from telemetry import health, topics
from telemetry.clock import DAY_MS, Clock
from telemetry.kinds import FallStatus, Kind, is_urgent, unit_of
from telemetry.parts import GATEWAY_SELF, ZIGBEE_COORDINATOR
from telemetry.reading import Reading
from telemetry.refusal import Refusal
from telemetry.topics import Channel, Dialect

log = logging.getLogger(__name__)

GROUP_WINDOW_S = 0.1  # how long a group of routine messages may gather before its commit


class Agent:
    def __init__(self, cfg: GatewayConfig, clock: Clock, *, heartbeat_s: float | None = None,
                 battery_budget_s: float = 2 * 3600, mains_budget_s: float = 15 * 60,
                 batch_window_s: float = 1.0, uplink_backoff: Backoff | None = None) -> None:
        self.cfg = cfg
        self.clock = clock
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None \
            else health.heartbeat_every_s(cfg.gateway_class)
        data = Path(cfg.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self._data = data
        self.outbox = Outbox(data / "outbox.db", cfg.outbox_max_bytes)
        self.commands = CommandHandler(cfg.gateway_id, clock, data,
                                       on_sound=self._sound_for_centre,
                                       on_prompt=self._prompt_for_centre)
        self.uplink = Uplink(cfg.gateway_id, cfg.site_id, cfg.uplink, self.outbox, clock,
                             batch_window_s=batch_window_s, backoff=uplink_backoff,
                             on_command=self.commands)
        self.watchdog = Watchdog(cfg.devices, clock, battery_budget_s=battery_budget_s,
                                 mains_budget_s=mains_budget_s)
        self._devices = {d.device_id: d for d in cfg.devices}
        by_dialect = {dialect: [d for d in cfg.devices if d.dialect is dialect]
                      for dialect in Dialect}
        self._z2m = Zigbee2mqttAdapter(by_dialect[Dialect.ZIGBEE2MQTT], cfg.z2m_base)
        self._native = NativeAdapter(by_dialect[Dialect.NATIVE])
        self._esphome = EsphomeAdapter(by_dialect[Dialect.ESPHOME])
        self.refused: collections.Counter[str] = collections.Counter()
        self.readings_total = 0
        self.alarms_raised = 0
        self.fallback_alarms = 0
        self.prompts = 0  # questions played on the prompt device
        self.last_tick_ms = 0  # when the periodic round last finished
        self.link_tests = 0  # daily test alarms sent
        self._tested_day = -1  # the (UTC) day whose test alarm went
        # the prompt device: the first zigbee2mqtt device whose button answers
        self._prompter = next((d for d in cfg.devices if Kind.ANSWER in d.kinds
                               and d.dialect is Dialect.ZIGBEE2MQTT), None)
        self._possible: dict[str, int] = {}  # device -> when its possible fall was asked
        self._fell_back: collections.OrderedDict[int, None] = collections.OrderedDict()
        self._started_s = clock.monotonic_s()
        self._stop = threading.Event()
        self.local_ready = threading.Event()  # subscribed on the local broker
        self._lock = threading.Lock()
        self._local = self._make_local_client()
        # Routine messages are committed and acknowledged in groups of up to 100 ms (the
        # commits and acknowledgements were most of the agent's CPU per reading); an urgent
        # one is committed at once.
        self._writer = GroupWriter(self.outbox.append, self._local.ack, self._stored,
                                   self._store_failed, errors=(OutboxError,),
                                   max_delay_s=GROUP_WINDOW_S,
                                   max_items=EDGE_MAX_INFLIGHT - 10, name="outbox-writer")

    # --- local side --------------------------------------------------------------------

    def _make_local_client(self) -> mqtt.Client:
        client = new_client(client_id=f"{self.cfg.gateway_id}-edge-agent",
                             clean_session=False, protocol=MQTTv311, manual_ack=True)
        b = self.cfg.local
        if b.username:
            client.username_pw_set(b.username, b.password())
        client.on_connect = self._on_local_connect
        client.on_subscribe = lambda *_: self.local_ready.set()
        client.on_message = self._on_local_message
        return client

    def _subscriptions(self) -> list[str]:
        adapters: list[Adapter] = [self._z2m, self._native, self._esphome]
        return [f for adapter in adapters for f in adapter.subscriptions()]

    def _on_local_connect(self, client: mqtt.Client, userdata: object, flags: object,
                          reason: ReasonCode, props: object) -> None:
        if not reason.is_failure:
            client.subscribe([(f, 1) for f in self._subscriptions()])

    def _adapter_for(self, topic: str) -> Adapter:
        if topic.startswith(self.cfg.z2m_base + "/"):
            return self._z2m
        if topic.startswith(topics.NATIVE_ROOT + "/"):
            return self._native
        return self._esphome

    def _on_local_message(self, client: mqtt.Client, userdata: object,
                          msg: mqtt.MQTTMessage) -> None:
        # paho re-raises a callback's exception and its network loop dies with it, while
        # the heartbeat goes on saying all is well: so nothing may escape from here.
        try:
            self._handle_local(client, msg)
        except Exception:
            with self._lock:
                self.refused[Refusal.INTERNAL_ERROR] += 1
            log.exception("local message on %s could not be handled; refused", msg.topic)
            self._writer.submit([], msg.mid, msg.qos)

    def _handle_local(self, client: mqtt.Client, msg: mqtt.MQTTMessage) -> None:
        try:
            observations = self._adapter_for(msg.topic).translate(msg.topic, bytes(msg.payload))
        except AdapterError as exc:
            with self._lock:
                self.refused[exc.reason.value] += 1
            log.info("refused local message on %s: %s", msg.topic, exc.reason)
            # Never redeliver what can never be read; acknowledge it in turn, like the rest.
            self._writer.submit([], msg.mid, msg.qos)
            return
        for observation in observations:
            if alarm_for(observation):
                self._raise_local_alarm(client, observation)
                self._possible.pop(observation.device_id, None)
                if observation.kind is Kind.SOS:  # a press by mistake may be cancelled
                    self._ask(wire.ASK_SOS, self.cfg.sos_cancel_s)
            elif observation.kind is Kind.FALL and observation.value == FallStatus.MAYBE_FALL:
                with self._lock:
                    self._possible.setdefault(observation.device_id, self.clock.now_ms())
                self._ask(wire.ASK_POSSIBLE_FALL, self.cfg.possible_fall_s)
            elif observation.kind is Kind.FALL and observation.value == FallStatus.NONE:
                with self._lock:  # the radar withdrew it
                    self._possible.pop(observation.device_id, None)
            elif observation.kind is Kind.ANSWER and observation.value > 0:
                with self._lock:
                    self._possible.clear()
            elif observation.device_id == ZIGBEE_COORDINATOR:
                self.watchdog.hold(self._z2m.zigbee_devices(), held=observation.value == 0)
        revived = [o for ob in observations for o in self.watchdog.seen(ob.device_id)]
        readings = self._readings(revived + observations)
        # Acknowledgements go out in the order the messages came, all through the writer:
        # Mosquitto reorders what it delivers when a client acknowledges out of order.
        self._writer.submit(readings, msg.mid, msg.qos,
                            flush=any(is_urgent(r.kind, r.value) for r in readings))

    def _raise_local_alarm(self, client: mqtt.Client, observation: Observation) -> None:
        device = self._devices[observation.device_id]
        alarm = LocalAlarm(device.device_id, device.room, observation.kind,
                           self.clock.now_ms())
        client.publish(self.cfg.local_alarm_topic, encode_alarm(alarm), qos=1)
        with self._lock:
            self.alarms_raised += 1

    def _readings(self, observations: list[Observation]) -> list[Reading]:
        """Stamp observations with who, when (gateway receive time) and the unit."""
        now = self.clock.now_ms()
        cfg = self.cfg
        return [
            Reading(cfg.site_id, cfg.gateway_id, o.device_id, o.kind, o.value, unit_of(o.kind),
                    o.device_time_ms if o.device_time_ms is not None else now, now, 0,
                    self._resident_of(o.device_id))
            for o in observations
        ]

    def _resident_of(self, device_id: str) -> str | None:
        device = self._devices.get(device_id)  # None: a part of the gateway itself
        return device.resident_id if device else None

    def _stored(self, count: int) -> None:
        with self._lock:
            self.readings_total += count
        self.uplink.wake_up()

    def _store_failed(self, exc: Exception) -> None:
        with self._lock:
            self.refused[Refusal.OUTBOX_ERROR] += 1

    # --- the process -------------------------------------------------------------------

    def start(self) -> None:
        b = self.cfg.local
        self._local.connect_async(b.host, b.port, keepalive=30)
        self._writer.start()
        self._local.loop_start()
        self.uplink.start()

    def heartbeat(self) -> health.Heartbeat:
        oldest = self.outbox.oldest_received_ms()
        now = self.clock.now_ms()
        with self._lock:
            refused = dict(self.refused)
            total = self.readings_total
        return health.Heartbeat(
            gateway_id=self.cfg.gateway_id, site_id=self.cfg.site_id, sent_time_ms=now,
            uptime_s=round(self.clock.monotonic_s() - self._started_s, 1),
            outbox_depth=self.outbox.depth(),
            oldest_pending_age_s=None if oldest is None else (now - oldest) / 1000,
            dropped_total=self.outbox.dropped,
            disk_free_bytes=shutil.disk_usage(self._data).free,
            readings_total=total, refused=refused)

    def tick(self) -> None:
        """Periodic work: the watchdog, and the fallback alarm."""
        silent = self.watchdog.check()
        if silent:
            self._writer.submit(self._readings(silent))
        self._fall_back()
        self._possible_unanswered()
        self._link_test()
        self.last_tick_ms = self.clock.now_ms()

    def _link_test(self) -> None:
        """Today's test alarm, once, at its time (``telemetry.health.link_test_due_ms``):
        committed like an alarm and sent at once, the whole way to the centre's store. An
        agent that starts within the window after the time sends it then."""
        if not self.cfg.link_test:
            return
        now = self.clock.now_ms()
        day = now // DAY_MS
        due = health.link_test_due_ms(self.cfg.gateway_id, day * DAY_MS)
        if day == self._tested_day or not due <= now < due + health.LINK_TEST_WINDOW_MS:
            return
        self._tested_day = day
        self._writer.submit(self._readings([Observation(GATEWAY_SELF, Kind.LINK_TEST, 1.0)]),
                            flush=True)
        with self._lock:
            self.link_tests += 1
        log.info("daily test alarm sent")

    def _sound_for_centre(self, sound: wire.Sound) -> None:
        """The centre says nobody at the desk took this home's fall or SOS in time."""
        device = self._devices.get(sound.device_id)
        kind = Kind(sound.kind) if sound.kind in {k.value for k in Kind} else Kind.SOS
        self._sound_fallback(LocalAlarm(sound.device_id, device.room if device else "", kind,
                                        self.clock.now_ms(), fallback=True,
                                        reason=wire.NO_ANSWER_AT_DESK))

    def _ask(self, reason: str, within_s: float, language: str | None = None) -> bool:
        """Play a question on the prompt device (False: the home has none)."""
        if self._prompter is None:
            return False
        prompt = PromptOut(reason, language or self.cfg.language, within_s)
        self._local.publish(topics.z2m_set(self._prompter.local_name, self.cfg.z2m_base),
                            encode_prompt(prompt), qos=1)
        with self._lock:
            self.prompts += 1
        log.info("asked the resident (%s)", reason)
        return True

    def _prompt_for_centre(self, prompt: wire.Prompt) -> None:
        """The centre asks the resident (a check before it reaches the desk)."""
        if not self._ask(prompt.reason, prompt.answer_within_s, prompt.language):
            raise wire.CommandError("this home has no prompt device")

    def _possible_unanswered(self) -> None:
        """A possible fall nobody answered in ``possible_fall_s``: the home's alarm sounds,
        with or without the centre (which confirms it to the desk on its own clock)."""
        due = self.clock.now_ms() - int(self.cfg.possible_fall_s * 1000)
        with self._lock:
            late = [d for d, asked in self._possible.items() if asked <= due]
            for device_id in late:
                del self._possible[device_id]
        for device_id in late:
            device = self._devices.get(device_id)
            self._sound_fallback(LocalAlarm(device_id, device.room if device else "",
                                            Kind.FALL, self.clock.now_ms(), fallback=True,
                                            reason=POSSIBLE_FALL_UNANSWERED))

    def _sound_fallback(self, alarm: LocalAlarm) -> None:
        self._local.publish(self.cfg.local_alarm_topic, encode_alarm(alarm), qos=1)
        with self._lock:
            self.fallback_alarms += 1
        log.warning("fallback alarm for %s of %s: %s", alarm.kind, alarm.device_id,
                    alarm.reason)

    def _fall_back(self) -> None:
        """A fall or SOS still in the outbox ``fallback_after_s`` after it came (the
        centre's broker has not taken it: the uplink is down) sounds the fallback alarm,
        once per alarm."""
        now = self.clock.now_ms()
        try:
            waiting = self.outbox.unsent_urgent(now - int(self.cfg.fallback_after_s * 1000))
        except OutboxError as exc:  # the outbox's own trouble is counted where it writes
            log.error("the outbox cannot be read for the fallback alarm: %s", exc)
            return
        for r in waiting:
            if r.seq in self._fell_back or not is_alarm(r.kind, r.value):
                continue
            self._fell_back[r.seq] = None
            while len(self._fell_back) > 1000:
                self._fell_back.popitem(last=False)
            device = self._devices.get(r.device_id)
            self._sound_fallback(LocalAlarm(r.device_id, device.room if device else "",
                                            r.kind, now, fallback=True,
                                            reason=CENTRE_UNREACHABLE))

    def run(self) -> None:
        """Run until ``stop()``: the watchdog every second, the heartbeat periodically."""
        self.start()
        next_beat = self.clock.monotonic_s()
        while not self._stop.wait(1.0):
            self.tick()
            if self.clock.monotonic_s() >= next_beat:
                next_beat = self.clock.monotonic_s() + self.heartbeat_s
                self.uplink.publish_side(Channel.HEARTBEAT,
                                         health.encode_heartbeat(self.heartbeat()))
        self.close()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._local.loop_stop()
        self._writer.close()
        self._local.disconnect()
        release(self._local)
        self.uplink.stop()
        self.outbox.close()

