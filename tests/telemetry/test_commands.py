"""The command wire format: what the centre sends a gateway and what it answers, round
trip; anything else refused with a reason."""

from __future__ import annotations

import pytest

from telemetry import commands as wire


def test_a_command_and_its_answer_round_trip() -> None:
    command = wire.Command("c-1", wire.DEVICES, 10, 20, {"devices": [
        {"device_id": "front-door", "kinds": ["door"], "room": "hall"}]})
    assert wire.decode_command(wire.encode(command)) == command
    (entry,) = wire.devices_of(command)
    assert (entry.device_id, entry.kinds, entry.room) == ("front-door", ["door"], "hall")
    result = wire.Result("c-1", "gw-1", False, 15, wire.EXPIRED)
    assert wire.decode_result(wire.encode(result)) == result


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"v": 2, "id": "x"}',
                                 b'{"v": 1, "id": 5, "name": "ping"}',
                                 b"x" * (wire.MAX_COMMAND_BYTES + 1)])
def test_what_is_not_a_command_or_an_answer_is_refused(raw: bytes) -> None:
    with pytest.raises(wire.CommandError):
        wire.decode_command(raw)
    with pytest.raises(wire.CommandError):
        wire.decode_result(raw)


def test_a_device_list_that_is_not_one_is_refused() -> None:
    for args in ({}, {"devices": "all"}, {"devices": [{"kinds": ["door"]}]}):
        with pytest.raises(wire.CommandError):
            wire.devices_of(wire.Command("c-2", wire.DEVICES, 0, 1, args))
