"""Commands from the centre to one gateway, and the gateway's answers: the one place of
their wire format (JSON, schema version in ``v``)::

    eldercare/v1/<gateway_id>/cmd/<name>   {"v": 1, "id": "c-…", "name": "devices",
                                            "args": {…}, "issued_ms": …, "expires_ms": …}
    eldercare/v1/<gateway_id>/result       {"v": 1, "id": "c-…", "gateway_id": "gw-…",
                                            "ok": true, "reason": "", "done_ms": …}

A command carries an id: a gateway that gets the same id again (the broker's redelivery,
the centre sending it once more) answers as it did the first time and does not do it
twice. One past ``expires_ms`` is refused with the reason ``expired``. A command the
gateway does not know, or that fails, is answered with ``ok`` false and a reason."""

from __future__ import annotations

from typing import Any, Final, TypeVar

import msgspec

from telemetry.errors import TelemetryError

COMMAND_VERSION: Final = 1
T = TypeVar("T")
MAX_COMMAND_BYTES: Final = 64 * 1024

PING: Final = "ping"  # answered at once: the command path works end to end
DEVICES: Final = "devices"  # the gateway's devices as the registry has them
# nobody at the desk has taken a fall or SOS of this home in time: sound the home's
# fallback alarm (args: ``Sound``)
SOUND: Final = "sound"
# ask the resident "are you all right?" on the home's prompt device (args: ``Prompt``)
PROMPT: Final = "prompt"
NAMES: Final = (PING, DEVICES, SOUND, PROMPT)
NO_ANSWER_AT_DESK: Final = "no_answer_at_desk"  # why a ``sound`` command sounds

# why a resident is asked (a prompt's ``reason``, also the words the prompt device plays)
ASK_INACTIVITY: Final = "inactivity_check"  # the centre: less activity than usual
ASK_POSSIBLE_FALL: Final = "possible_fall"  # the gateway: a fall detector is unsure
ASK_SOS: Final = "sos_cancel"  # the gateway: help is called, a mistaken press may cancel

# reasons a gateway gives for not doing a command
EXPIRED: Final = "expired"
UNKNOWN: Final = "unknown command"
BAD: Final = "bad command"


class CommandError(TelemetryError):
    """Bytes that are not a command or a result of this version."""


class Command(msgspec.Struct, frozen=True, tag_field="v", tag=COMMAND_VERSION):
    id: str
    name: str
    issued_ms: int
    expires_ms: int
    args: dict[str, Any] = {}


class Result(msgspec.Struct, frozen=True, tag_field="v", tag=COMMAND_VERSION):
    id: str
    gateway_id: str
    ok: bool
    done_ms: int
    reason: str = ""


class DeviceEntry(msgspec.Struct, frozen=True):
    """One device of a ``devices`` command's list: what the gateway must know of it."""

    device_id: str
    kinds: list[str] = []
    room: str = ""
    resident_id: str | None = None


class Sound(msgspec.Struct, frozen=True):
    """What a ``sound`` command says: the alarm nobody took, and of which device."""

    alert_id: int
    kind: str
    device_id: str


class Prompt(msgspec.Struct, frozen=True):
    """What a ``prompt`` command says: why, in which language, and how long the home
    unit waits for the resident's answer (it is worth nothing later)."""

    resident_id: str
    reason: str
    language: str
    answer_within_s: float


_ENCODER = msgspec.json.Encoder()
_COMMAND = msgspec.json.Decoder(Command)
_RESULT = msgspec.json.Decoder(Result)
_DEVICES = msgspec.json.Decoder(list[DeviceEntry])
_SOUND = msgspec.json.Decoder(Sound)
_PROMPT = msgspec.json.Decoder(Prompt)


def encode(message: Command | Result) -> bytes:
    return _ENCODER.encode(message)


def decode_command(raw: bytes) -> Command:
    return _decode(_COMMAND, raw, "command")


def decode_result(raw: bytes) -> Result:
    return _decode(_RESULT, raw, "command result")


def _decode(decoder: msgspec.json.Decoder[T], raw: bytes, what: str) -> T:
    if len(raw) > MAX_COMMAND_BYTES:
        raise CommandError(f"{what} of {len(raw)} bytes (at most {MAX_COMMAND_BYTES})")
    try:
        return decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CommandError(f"not a {what}: {exc}") from exc


def devices_of(command: Command) -> list[DeviceEntry]:
    """The list a ``devices`` command carries (``CommandError`` if it is not one)."""
    try:
        return _DEVICES.decode(_ENCODER.encode(command.args.get("devices", None)))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CommandError(f"devices: {exc}") from exc


def sound_of(command: Command) -> Sound:
    """What a ``sound`` command carries (``CommandError`` if it is not that)."""
    try:
        return _SOUND.decode(_ENCODER.encode(command.args))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CommandError(f"sound: {exc}") from exc


def prompt_of(command: Command) -> Prompt:
    """What a ``prompt`` command carries (``CommandError`` if it is not that)."""
    try:
        return _PROMPT.decode(_ENCODER.encode(command.args))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CommandError(f"prompt: {exc}") from exc
