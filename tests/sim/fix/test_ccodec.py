"""The C accelerator (sim/fix/_ccodec.c) against the pure-Python codec it must agree with exactly."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.fix import codec
from sim.fix.codec import DATA_FIELDS, SOH, FrameReader, GarbledFrame, decode_python, encode, encode_python

ccodec = codec._ccodec

pytestmark = pytest.mark.skipif(ccodec is None and bool(os.environ.get("MARKETDRILL_PURE_PYTHON")),
                                reason="MARKETDRILL_PURE_PYTHON is set: the C accelerator is off on purpose")


def test_the_accelerator_is_built_and_in_use():
    assert ccodec is not None, (
        "sim/fix/_ccodec.c is not built: `pip install -e .` compiles it (needs a C compiler and Python "
        "headers); without it the codec runs its pure-Python path at a fraction of the speed")
    assert codec.ACCELERATED


# Tags around the interesting edges: data fields and their lengths, 1-4 digit tags, beyond 9999.
_TAGS = st.one_of(st.integers(1, 120), st.sampled_from(sorted(set(DATA_FIELDS) | set(DATA_FIELDS.values()))),
                  st.integers(1, 9999), st.integers(10000, 2**31 - 1))
_VALUES = st.binary(max_size=24).filter(lambda b: SOH not in b)


def _frame(begin: bytes, msg_type: bytes, fields: list[tuple[int, bytes]]) -> bytes:
    return encode_python(begin, msg_type, fields)


def _python_fields(frame: bytes):
    try:
        return decode_python(frame).fields
    except GarbledFrame:
        return "garbled"


def _check_decode(frame: bytes) -> None:
    got = ccodec.decode_fields(frame)
    want = _python_fields(frame)
    if got is not None:  # None only means "ask the Python path"; anything else must be exact
        assert got == want, frame
        assert all(type(t) is int and type(v) is bytes for t, v in got)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([b"FIX.4.2", b"FIX.4.4"]), st.sampled_from([b"D", b"8", b"0", b"AE", b""]),
       st.lists(st.tuples(_TAGS, _VALUES), max_size=30))
def test_decode_of_encoded_fields_agrees_with_python(begin, msg_type, fields):
    frame = _frame(begin, msg_type, fields)
    _check_decode(frame)


def test_decode_takes_the_fast_path_for_an_ordinary_order():
    frame = _frame(b"FIX.4.4", b"D", [(34, b"2"), (49, b"A"), (56, b"B"), (11, b"X"), (58, b"")])
    assert ccodec.decode_fields(frame) == decode_python(frame).fields


@pytest.mark.parametrize("fields", [
    [(95, b"3"), (96, b"a\x01b")],  # a data field: cut by its length, Python's exact path
    [(58, b"a=b")],                  # '=' in a value
])
def test_decode_leaves_the_unusual_to_python(fields):
    frame = _frame(b"FIX.4.4", b"B", [(34, b"2")] + fields)
    assert ccodec.decode_fields(frame) is None
    assert codec.decode(frame).fields == decode_python(frame).fields


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_decode_of_mutated_frames_agrees_with_python(data):
    fields = data.draw(st.lists(st.tuples(_TAGS, _VALUES), max_size=12))
    raw = bytearray(_frame(b"FIX.4.4", b"D", fields))
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["set", "delete", "insert", "truncate"]))
        i = data.draw(st.integers(0, max(0, len(raw) - 1)))
        byte = data.draw(st.sampled_from([0x01, ord("="), ord("0"), ord("9"), ord("-"), 0x00, 0xFF, ord("a")]))
        if kind == "set" and raw:
            raw[i] = byte
        elif kind == "delete" and raw:
            del raw[i]
        elif kind == "insert":
            raw.insert(i, byte)
        else:
            del raw[i:]
    _check_decode(bytes(raw))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decode_of_random_bytes_agrees_with_python(data):
    _check_decode(b"8=FIX.4.4\x01" + data)
    _check_decode(data)


_ENCODE_VALUES = st.one_of(st.binary(max_size=12), st.text(max_size=8), st.integers(-2**70, 2**70),
                           st.booleans(), st.just(bytearray(b"ba")))


def _encode_outcome(fn, begin, msg_type, fields):
    try:
        return fn(begin, msg_type, fields)
    except Exception as exc:  # noqa: BLE001 - compared by type: both paths must fail alike
        return type(exc)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.just(b"FIX.4.4"), st.just("FIX.4.2")), st.one_of(st.just(b"8"), st.just("D")),
       st.lists(st.tuples(st.one_of(st.integers(-5, 12000), st.booleans()), _ENCODE_VALUES), max_size=20),
       st.booleans())
def test_encode_agrees_with_python(begin, msg_type, fields, as_tuple):
    seq = tuple(fields) if as_tuple else fields
    assert _encode_outcome(encode, begin, msg_type, seq) == _encode_outcome(encode_python, begin, msg_type, seq)


def test_encode_of_a_long_message_sums_beyond_256_bytes():
    fields = [(58, b"x" * 200), (34, 7), (49, "SENDER"), (355, b"y" * 300)]
    assert encode(b"FIX.4.4", b"B", fields) == encode_python(b"FIX.4.4", b"B", fields)


class _PythonReader(FrameReader):
    """The same reader on the pure-Python framing step."""

    def next_frame(self):
        return self.next_frame_python()


def _frames_of(reader: FrameReader, chunks: list[bytes]) -> list:
    trace = []
    for chunk in chunks:
        reader.feed(chunk)
        while True:
            frame = reader.next_frame()
            trace.append((frame, reader._pos, reader.skipped_bytes, reader.garbled, reader.buffered()))
            if frame is None:
                break
    return trace


_GOOD = _frame(b"FIX.4.4", b"D", [(34, b"1"), (49, b"A"), (56, b"B"), (11, b"ORD-1")])
_PIECES = st.one_of(st.just(_GOOD), st.binary(max_size=20), st.just(b"8=FIX.4.4\x019="),
                    st.just(b"8=FIX.4.4\x019=999999999\x01"), st.just(b"8=FIX.4.4\x019=5\x0135=0\x01"),
                    st.just(b"\x0110=123\x01"), st.just(b"8=FI"), st.just(_GOOD[:-3]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=12), st.lists(st.integers(1, 80), min_size=1, max_size=10),
       st.sampled_from([30, 64, 1 << 20]))
def test_framing_agrees_with_python_on_any_stream_and_chunking(pieces, cuts, max_body):
    stream = b"".join(pieces)
    chunks, pos = [], 0
    for i in range(len(stream)):
        size = cuts[i % len(cuts)]
        if pos >= len(stream):
            break
        chunks.append(stream[pos:pos + size])
        pos += size
    ours = _frames_of(FrameReader(max_body_length=max_body), chunks)
    reference = _frames_of(_PythonReader(max_body_length=max_body), chunks)
    assert ours == reference


def test_a_reader_limit_beyond_a_c_size_still_frames():
    reader = FrameReader(max_body_length=10**30)
    reader.feed(b"junk" + _GOOD)
    assert reader.next_frame() == _GOOD and reader.skipped_bytes == 4
