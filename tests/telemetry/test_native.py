from __future__ import annotations

import pytest

from telemetry import native
from telemetry.codec import CodecError
from telemetry.refusal import Refusal
from telemetry.topics import NativeStream


def test_native_payloads_round_trip() -> None:
    for stream, payload in [
        (NativeStream.VITALS, native.Vitals(ts=1, hr=64.0, spo2=97.0)),
        (NativeStream.BED, native.Bed(ts=2, occupied=True, battery=80.0)),
        (NativeStream.ACCEL, native.Accel(t0=3, hz=20.0, xyz=[[0.0, 0.0, 1.0]])),
    ]:
        assert native.decode(stream, native.encode(payload)) == payload


def test_absent_fields_stay_absent_on_the_wire() -> None:
    assert native.encode(native.Vitals(ts=5, hr=70.0)) == b'{"ts":5,"hr":70.0}'


@pytest.mark.parametrize(("stream", "raw", "reason"), [
    (NativeStream.VITALS, b"{", Refusal.MALFORMED),
    (NativeStream.VITALS, b'{"ts": -1}', Refusal.SCHEMA),
    (NativeStream.VITALS, b'{"ts": 1, "hr": "high"}', Refusal.SCHEMA),
    (NativeStream.VITALS, b'{"ts": 1, "gps": [1, 2]}', Refusal.SCHEMA),
    (NativeStream.ACCEL, b'{"t0": 1, "hz": 20, "xyz": [[1, 2]]}', Refusal.SCHEMA),
    (NativeStream.STATUS, b"online", Refusal.SCHEMA),
])
def test_bad_native_payloads_raise_the_codec_error(stream: NativeStream, raw: bytes,
                                                   reason: Refusal) -> None:
    with pytest.raises(CodecError) as caught:
        native.decode(stream, raw)
    assert caught.value.reason is reason
