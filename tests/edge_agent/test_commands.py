"""A gateway's command handler: each command done once and answered; a repeat answered the
same without doing it again; expired, unknown and malformed commands answered with the
reason; bytes that are no command counted, never raised; the device list kept across a
restart (a fake clock: no waiting)."""

from __future__ import annotations

from pathlib import Path

from edge_agent.commands import CommandHandler
from telemetry import commands as wire
from telemetry.clock import FakeClock

NOW = 1_000_000


def _command(cid: str, name: str, args: dict[str, object] | None = None,
             expires_ms: int = NOW + 60_000) -> bytes:
    return wire.encode(wire.Command(cid, name, NOW, expires_ms, args or {}))


def test_each_command_is_done_once_and_answered(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    handler = CommandHandler("gw-1", clock, tmp_path)
    ping = handler(_command("c-1", wire.PING))
    assert ping is not None and (ping.id, ping.gateway_id, ping.ok) == ("c-1", "gw-1", True)
    devices = [{"device_id": "front-door", "kinds": ["door"], "room": "hall",
                "resident_id": "res-1"}]
    listed = handler(_command("c-2", wire.DEVICES, {"devices": devices}))
    assert listed is not None and listed.ok
    assert [d.device_id for d in handler.devices] == ["front-door"]
    clock.advance(5)
    again = handler(_command("c-2", wire.DEVICES, {"devices": []}))  # the same id again
    assert again == listed and [d.device_id for d in handler.devices] == ["front-door"]
    assert handler.counts["repeated"] == 1
    # the list survives a restart of the agent
    assert [d.room for d in CommandHandler("gw-1", clock, tmp_path).devices] == ["hall"]


def test_expired_unknown_and_malformed_commands_are_answered_with_the_reason(
        tmp_path: Path) -> None:
    handler = CommandHandler("gw-1", FakeClock(NOW), tmp_path)
    late = handler(_command("c-3", wire.PING, expires_ms=NOW - 1))
    assert late is not None and (late.ok, late.reason) == (False, wire.EXPIRED)
    odd = handler(_command("c-4", "self-destruct"))
    assert odd is not None and not odd.ok and odd.reason.startswith(wire.UNKNOWN)
    bad = handler(_command("c-5", wire.DEVICES, {"devices": "all"}))
    assert bad is not None and not bad.ok and bad.reason.startswith(wire.BAD)
    assert handler(b"\xff not json") is None and handler.counts["refused"] == 1
    assert handler.devices == []


def test_a_device_list_that_cannot_be_kept_is_answered_not_raised(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    handler = CommandHandler("gw-1", FakeClock(NOW), gone)  # its folder does not exist
    answer = handler(_command("c-6", wire.DEVICES, {"devices": []}))
    assert answer is not None and not answer.ok and "cannot keep it" in answer.reason


def test_a_sound_command_sounds_the_home_and_a_bad_one_is_answered(tmp_path: Path) -> None:
    sounded: list[wire.Sound] = []
    handler = CommandHandler("gw-1", FakeClock(NOW), tmp_path, on_sound=sounded.append)
    ok = handler(_command("sound-7", wire.SOUND, {"alert_id": 7, "kind": "fall",
                                                   "device_id": "bathroom-radar"}))
    assert ok is not None and ok.ok and sounded == [wire.Sound(7, "fall", "bathroom-radar")]
    bad = handler(_command("sound-8", wire.SOUND, {"alert_id": "eight"}))
    assert bad is not None and not bad.ok and bad.reason.startswith(wire.BAD)
    assert len(sounded) == 1
