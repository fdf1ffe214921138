from __future__ import annotations

import contextlib
import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry import codec
from telemetry.codec import CodecError
from telemetry.kinds import SPECS, Kind
from telemetry.reading import Reading
from telemetry.refusal import Refusal

NOW = 1_795_000_000_000


def reading(kind: Kind = Kind.HEART_RATE, value: float | None = None, seq: int = 1,
            gateway: str = "gw-00001", t: int = NOW - 1000) -> Reading:
    spec = SPECS[kind]
    v = (spec.low + spec.high) / 2 if value is None else value
    return Reading("site-000", gateway, "wristband", kind, v, spec.unit, t, t + 40, seq,
                   "res-00001")


def test_every_kind_round_trips() -> None:
    readings = [reading(kind, seq=i) for i, kind in enumerate(Kind)]
    batch = codec.decode(codec.encode("gw-00001", "site-000", NOW, readings), now_ms=NOW,
                         expected_gateway_id="gw-00001")
    assert batch.readings == readings
    assert batch.rejections == []
    assert (batch.gateway_id, batch.site_id, batch.sent_time_ms) == ("gw-00001", "site-000", NOW)


def test_resident_is_optional() -> None:
    r = msgspec.structs.replace(reading(), resident_id=None)
    assert codec.decode(codec.encode("gw-00001", "s", NOW, [r]), now_ms=NOW).readings == [r]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe not json", Refusal.MALFORMED),
        (b'{"v": 2, "gateway_id": "gw-00001"}', Refusal.UNSUPPORTED_VERSION),
        (b'{"gateway_id": "gw-00001"}', Refusal.SCHEMA),
        (b'{"v": 1, "gateway_id": 5, "site_id": "s", "sent_time_ms": 1, "readings": []}',
         Refusal.SCHEMA),
        (b'{"v": 1, "gateway_id": "gw-00001", "site_id": "s", "sent_time_ms": 1, "readings":'
         b' [["s","gw-00001","d","heart_rate",1e999,"bpm",1,1,1,null]]}', Refusal.SCHEMA),
        (b'{"v": 1, "gateway_id": "gw-00001", "site_id": "s", "sent_time_ms": 1, "readings":'
         b' [["s","gw-00001","d","teleport",1,"bpm",1,1,1,null]]}', Refusal.SCHEMA),
        (b" " * (codec.MAX_ENVELOPE_BYTES + 1), Refusal.OVERSIZED),
    ],
)
def test_broken_envelopes_are_refused_with_a_reason(payload: bytes, reason: Refusal) -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode(payload, now_ms=NOW)
    assert caught.value.reason is reason


def test_envelope_of_another_gateway_is_refused() -> None:
    payload = codec.encode("gw-00002", "s", NOW, [reading(gateway="gw-00002")])
    with pytest.raises(CodecError) as caught:
        codec.decode(payload, now_ms=NOW, expected_gateway_id="gw-00001")
    assert caught.value.reason is Refusal.GATEWAY_MISMATCH


def test_bad_readings_are_refused_one_by_one_and_good_ones_kept() -> None:
    good = [reading(seq=1), reading(Kind.SPO2, seq=5)]
    bad = [
        (reading(value=900.0, seq=2), Refusal.OUT_OF_RANGE),  # heart rate of 900
        (reading(value=math.nan, seq=3), Refusal.NON_FINITE),
        (msgspec.structs.replace(reading(seq=4), unit="degF"), Refusal.UNIT_MISMATCH),
        (reading(seq=6, t=NOW + 3_600_000), Refusal.TIME_IN_FUTURE),
        (reading(seq=7, t=NOW - 30 * 86_400_000), Refusal.TIME_IN_PAST),
        (reading(seq=8, gateway="gw-00009"), Refusal.GATEWAY_MISMATCH),
    ]
    mixed = [good[0], *(r for r, _ in bad), good[1]]
    # NaN cannot be written as JSON; build the envelope by hand for that one.
    raw = msgspec.json.encode(codec.Envelope("gw-00001", "s", NOW, mixed))
    raw = raw.replace(b'"heart_rate",null', b'"heart_rate",NaN')
    with pytest.raises(CodecError):
        codec.decode(raw, now_ms=NOW)  # NaN is not JSON: the whole envelope is malformed
    finite = [r for r in mixed if not (isinstance(r.value, float) and math.isnan(r.value))]
    batch = codec.decode(codec.encode("gw-00001", "s", NOW, finite), now_ms=NOW)
    assert batch.readings == good
    expected = [reason for r, reason in bad if reason is not Refusal.NON_FINITE]
    assert [rej.reason for rej in batch.rejections] == expected
    assert [rej.index for rej in batch.rejections] == [1, 2, 3, 4, 5]


def test_infinity_written_as_null_refuses_the_envelope() -> None:
    # JSON has no infinity: it is written as null, which is not a number.
    payload = codec.encode("gw-00001", "s", NOW, [reading(value=math.inf)])
    with pytest.raises(CodecError) as caught:
        codec.decode(payload, now_ms=NOW)
    assert caught.value.reason is Refusal.SCHEMA


def test_encode_refuses_empty_and_oversized_batches() -> None:
    with pytest.raises(ValueError):
        codec.encode("gw-00001", "s", NOW, [])
    with pytest.raises(ValueError):
        codec.encode("gw-00001", "s", NOW, [reading(seq=i) for i in range(5001)])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_give_a_batch_or_the_one_error(data: bytes) -> None:
    try:
        batch = codec.decode(data, now_ms=NOW)
    except CodecError as exc:
        assert isinstance(exc.reason, Refusal)
    else:
        assert all(isinstance(r, Reading) for r in batch.readings)


_VALID = codec.encode("gw-00001", "site-000", NOW, [reading(k, seq=i)
                                                     for i, k in enumerate(Kind)])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)),
                min_size=1, max_size=8))
def test_mutated_envelopes_give_a_batch_or_the_one_error(
    edits: list[tuple[int, int]],
) -> None:
    data = bytearray(_VALID)
    for pos, byte in edits:
        data[pos] = byte
    try:
        batch = codec.decode(bytes(data), now_ms=NOW, expected_gateway_id="gw-00001")
    except CodecError as exc:
        assert isinstance(exc.reason, Refusal)
    else:
        for r in batch.readings:
            spec = SPECS[r.kind]
            assert spec.low <= r.value <= spec.high and r.unit == spec.unit


@settings(max_examples=200, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
))
def test_arbitrary_json_gives_a_batch_or_the_one_error(doc: object) -> None:
    with contextlib.suppress(CodecError):
        codec.decode(msgspec.json.encode(doc), now_ms=NOW)


@pytest.mark.parametrize(("field", "number"), [("seq", 2**63), ("seq", -1),
                                               ("seq", 10**30),
                                               ("received_time_ms", 2**64)])
def test_an_integer_past_64_bits_is_refused_and_the_rest_of_the_envelope_kept(
        field: str, number: int) -> None:
    bad = msgspec.structs.replace(reading(seq=2), **{field: number})
    good = [reading(seq=1), reading(Kind.FALL, seq=3)]
    payload = codec.encode("gw-00001", "site-000", NOW, [good[0], bad, good[1]])
    batch = codec.decode(payload, now_ms=NOW)
    assert batch.readings == good
    assert [(r.index, r.reason) for r in batch.rejections] == \
        [(1, Refusal.INTEGER_OUT_OF_RANGE)]
    assert field in batch.rejections[0].detail
