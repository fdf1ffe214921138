"""The gateway's side of the command path (``telemetry.commands``): each command the centre
sends is done once and answered. A command whose id was seen before is answered as it
was the first time, not done again; one past its expiry, one the gateway does not know,
or one whose arguments are wrong is answered with the reason. Bytes that are not a command
at all cannot be answered (no id): they are counted and logged. Nothing here raises into
the uplink's thread.

Known commands: ``ping``; ``devices``, the gateway's devices as the registry has them
(kept in ``devices.json`` in the agent's data folder, for the next start too); and
``sound``, nobody at the desk took a fall or SOS in time: the home's fallback alarm
(``on_sound``); ``prompt``, the centre asks the resident before a check reaches the desk
(``on_prompt``; refused with the reason if the home has no prompt device)."""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from telemetry import commands as wire
from telemetry.clock import Clock

log = logging.getLogger(__name__)

REMEMBERED = 256  # command ids whose answers are kept for a repeat


class CommandHandler:
    def __init__(self, gateway_id: str, clock: Clock, data_dir: Path,
                 on_sound: Callable[[wire.Sound], None] | None = None,
                 on_prompt: Callable[[wire.Prompt], None] | None = None) -> None:
        self.gateway_id = gateway_id
        self._on_sound = on_sound
        self._on_prompt = on_prompt
        self.clock = clock
        self._devices_file = data_dir / "devices.json"
        self._done: collections.OrderedDict[str, wire.Result] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()
        self.devices: list[wire.DeviceEntry] = self._load_devices()

    def _load_devices(self) -> list[wire.DeviceEntry]:
        try:
            return wire.devices_of(wire.Command("", wire.DEVICES, 0, 0, {
                "devices": json.loads(self._devices_file.read_text())}))
        except FileNotFoundError:
            return []
        except (OSError, ValueError, wire.CommandError) as exc:
            log.warning("the device list kept from the centre is unreadable (%s); "
                        "waiting for the next one", exc)
            return []

    def __call__(self, raw: bytes) -> wire.Result | None:
        """The answer to a command's bytes (None: not a command, nothing to answer)."""
        try:
            command = wire.decode_command(raw)
        except wire.CommandError as exc:
            self.counts["refused"] += 1
            log.warning("a command from the centre was refused: %s", exc)
            return None
        with self._lock:
            again = self._done.get(command.id)
            if again is not None:
                self.counts["repeated"] += 1
                return again
            result = self._do(command)
            self._done[command.id] = result
            while len(self._done) > REMEMBERED:
                self._done.popitem(last=False)
        self.counts["done" if result.ok else "failed"] += 1
        if not result.ok:
            log.warning("command %s (%s) not done: %s", command.id, command.name, result.reason)
        return result

    def _do(self, command: wire.Command) -> wire.Result:
        now = self.clock.now_ms()
        if now > command.expires_ms:
            return self._answer(command, wire.EXPIRED)
        try:
            if command.name == wire.PING:
                return self._answer(command)
            if command.name == wire.DEVICES:
                self._keep_devices(wire.devices_of(command))
                return self._answer(command)
            if command.name == wire.SOUND and self._on_sound is not None:
                self._on_sound(wire.sound_of(command))
                return self._answer(command)
            if command.name == wire.PROMPT and self._on_prompt is not None:
                self._on_prompt(wire.prompt_of(command))
                return self._answer(command)
        except wire.CommandError as exc:
            return self._answer(command, f"{wire.BAD}: {exc}")
        except OSError as exc:  # the data folder: full or read-only
            return self._answer(command, f"cannot keep it: {exc}")
        return self._answer(command, f"{wire.UNKNOWN}: {command.name}")

    def _answer(self, command: wire.Command, reason: str = "") -> wire.Result:
        return wire.Result(command.id, self.gateway_id, not reason, self.clock.now_ms(),
                           reason)

    def _keep_devices(self, devices: list[wire.DeviceEntry]) -> None:
        """Written whole to a new file, then put in place: a crash leaves the old list or
        the new one, never half of one."""
        fresh = self._devices_file.with_suffix(".json.new")
        with fresh.open("w") as f:
            json.dump([{"device_id": d.device_id, "kinds": d.kinds, "room": d.room,
                        "resident_id": d.resident_id} for d in devices], f)
            f.flush()
            os.fsync(f.fileno())
        fresh.replace(self._devices_file)
        self.devices = devices
