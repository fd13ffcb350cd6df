"""Codec: framing, decode (garbled detection), encode, round trips, fuzz."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.fix.codec import SOH, FixMessage, FrameReader, GarbledFrame, checksum, decode, encode

HB = [(34, b"2"), (49, b"TW44"), (52, b"20240102-10:11:12"), (56, b"ISLD")]


def frame(raw: bytes, *, body_length: int | None = None, cs: bytes | None = None) -> bytes:
    """Build a frame from '8=..|rest' with '|' for SOH, computing 9 and 10 unless given."""
    raw = raw.replace(b"|", SOH)
    head, _, rest = raw.partition(SOH)
    head += SOH
    bl = b"9=%d\x01" % (len(rest) if body_length is None else body_length)
    m = head + bl + rest
    return m + b"10=" + (cs if cs is not None else b"%03d" % (sum(m) % 256)) + SOH


def test_encode_computes_body_length_and_checksum_like_the_spec():
    m = encode(b"FIX.4.4", b"0", HB)
    assert m.startswith(b"8=FIX.4.4\x019=")
    body = m[m.index(b"35="):m.rindex(b"10=")]
    assert int(m.split(SOH)[1][2:]) == len(body)
    assert int(m[-4:-1]) == sum(m[:-7]) % 256


def test_encode_accepts_str_int_and_bytes_values():
    m = encode("FIX.4.2", "D", [(34, 7), (49, "TW"), (38, b"002000.00")])
    assert b"\x0134=7\x0149=TW\x0138=002000.00\x01" in m


def test_decode_then_encode_round_trips_byte_identical():
    m = encode(b"FIX.4.4", b"D", HB + [(11, b"ID"), (38, b"002000.00"), (58, b"a=b c")])
    msg = decode(m)
    assert msg.get(38) == b"002000.00" and msg.get(58) == b"a=b c"
    assert msg.to_bytes() == m
    assert [t for t, _ in msg.fields][:3] == [8, 9, 35] and msg.fields[-1][0] == 10


def test_decode_keeps_data_fields_containing_soh_by_their_length():
    m = encode(b"FIX.4.4", b"D", HB + [(95, b"5"), (96, b"a\x01b=c"), (11, b"X")])
    msg = decode(m)
    assert msg.get(96) == b"a\x01b=c" and msg.get(11) == b"X"


def test_fix_message_accessors_behave_as_documented():
    msg = decode(encode(b"FIX.4.4", b"0", HB + [(112, b"T1"), (112, b"T2")]))
    assert msg.msg_type() == b"0" and msg.get(112) == b"T1" and msg.get_all(112) == [b"T1", b"T2"]
    assert msg.get(999) is None and msg.get(999, b"d") == b"d"
    msg.set(112, "X")
    assert msg.get_all(112) == [b"X", b"T2"]
    msg.remove(112)
    assert 112 not in msg
    msg.append(58, 5)
    assert msg.fields[-1] == (58, b"5")


@pytest.mark.parametrize(
    "raw, why",
    [
        (frame(b"8=FIX.4.4|35=0|34=2|49=TW44|52=20240102-10:11:12|56=ISLD|", cs=b"256"), "checksum wrong"),
        (frame(b"8=FIX.4.4|35=0|34=2|49=TW44|52=20240102-10:11:12|56=ISLD|")[:-5] + b"0\x01", "checksum not 3 digits"),
        (frame(b"8=FIX.4.4|35=0|34=2|49=TW44|52=20240102-10:11:12|56=ISLD|", body_length=30), "body length too short"),
        (frame(b"8=FIX.4.4|35=0|34=2|49=TW44|52=20240102-10:11:12|56=ISLD|", body_length=99), "body length too long"),
        (frame(b"8=FIX.4.4|34=3|35=0|49=TW44|52=20240102-10:11:12|56=ISLD|"), "35 not third"),
        (b"35=0\x01" + frame(b"8=FIX.4.4|34=2|49=TW44|56=ISLD|"), "35 first"),
        (frame(b"8=FIX.4.4|35=0|34=2|4garbled9=TW|52=20240102-10:11:12|56=ISLD|"), "non-integer tag"),
        (frame(b"8=FIX.4.4|35=D|34=3|49garbled=TW|52=20240102-10:11:12|56=ISLD|11=ID|"), "non-integer tag"),
        (frame(b"8=FIX.4.4|35=0|34=2|49=TW44|garbage|56=ISLD|"), "field without ="),
        (frame(b"8=FIX.4.4|35=0|34=2|+49=TW44|56=ISLD|"), "plus-signed tag"),
        (frame(b"8=FIX.4.4|35=0|34=2|49=TW44|56=ISLD|")[:-1], "no final SOH"),
    ],
)
def test_decode_raises_garbled_frame_for_every_garbled_kind(raw, why):
    with pytest.raises(GarbledFrame) as info:
        decode(raw)
    assert info.value.reason


@pytest.mark.parametrize("tag", [b"0", b"-1", b"5000", b"999"])
def test_decode_accepts_integer_tags_unknown_to_the_dictionary(tag):
    msg = decode(frame(b"8=FIX.4.4|35=0|34=2|49=TW44|52=20240102-10:11:12|56=ISLD|" + tag + b"=HI|"))
    assert msg.fields[-2] == (int(tag), b"HI")


def test_checksum_is_exact_beyond_256_bytes():
    data = bytes(range(256)) * 9 + b"\xff" * 1000
    assert checksum(data) == sum(data) % 256
    big = encode(b"FIX.4.4", b"D", HB + [(58, b"x" * 3000)])
    assert decode(big).get(58) == b"x" * 3000


def stream_of(n: int, pad: int = 0) -> list[bytes]:
    return [encode(b"FIX.4.4", b"0", [(34, i), (49, b"TW44"), (56, b"ISLD"), (58, b"m%d" % i + b"." * pad)])
            for i in range(1, n + 1)]


def drain(reader: FrameReader) -> list[bytes]:
    return list(reader)


def test_frame_reader_splits_back_to_back_messages_and_skips_leading_garbage():
    msgs = stream_of(3)
    r = FrameReader()
    r.feed(b"noise" + msgs[0] + b"\r\n" + msgs[1] + msgs[2])
    assert drain(r) == msgs
    assert r.skipped_bytes == 7 and r.buffered() == 0


def test_oversized_body_length_swallows_the_start_of_the_next_message():
    """Conformance item 30: the bad frame runs to the first 10= after BodyLength bytes."""
    good = stream_of(3, pad=100)
    bad = frame(b"8=FIX.4.4|35=D|34=4|49=TW44|52=20240102-10:11:12|56=ISLD|11=ID|", body_length=111)
    r = FrameReader()
    r.feed(good[0] + bad + good[1] + good[2])
    frames = drain(r)
    assert frames[0] == good[0]
    with pytest.raises(GarbledFrame):
        decode(frames[1])
    assert frames[1].startswith(bad[:-7]) and frames[1].endswith(good[1][-7:])
    assert frames[2:] == [good[2]]


def test_short_body_length_frame_is_garbled_and_the_next_message_survives():
    good = stream_of(2)
    bad = frame(b"8=FIX.4.4|35=D|34=2|49=TW44|52=20240102-10:11:12|56=ISLD|11=ID|21=3|40=1|54=1|55=INTC|", body_length=30)
    r = FrameReader()
    r.feed(bad + good[1])
    frames = drain(r)
    with pytest.raises(GarbledFrame):
        decode(frames[0])
    assert frames[-1] == good[1]


def test_body_length_over_the_limit_resyncs_at_the_next_begin_string():
    good = stream_of(2)
    r = FrameReader(max_body_length=1000)
    r.feed(b"8=FIX.4.4\x019=99999999\x0135=0\x01" + good[0] + good[1])
    assert drain(r) == good
    assert r.garbled == 1


def test_non_numeric_body_length_resyncs():
    good = stream_of(1)
    r = FrameReader()
    r.feed(b"8=FIX.4.4\x019=abc\x0135=0\x0110=000\x01" + good[0])
    assert drain(r) == good and r.garbled == 1


def test_frame_reader_waits_for_more_data_and_keeps_a_partial_begin_string():
    m = stream_of(1)[0]
    r = FrameReader()
    r.feed(b"xx8=FI")
    assert r.next_frame() is None
    r.feed(m[4:])
    assert r.next_frame() == m
    assert r.skipped_bytes == 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=12).filter(lambda b: b"8=F" not in b), min_size=4, max_size=4),
       st.lists(st.integers(min_value=1, max_value=400), max_size=12))
def test_framing_survives_arbitrary_chunk_boundaries_and_counts_garbage(garbage, cuts):
    msgs = stream_of(3)
    data = garbage[0] + msgs[0] + garbage[1] + msgs[1] + garbage[2] + msgs[2] + garbage[3]
    r = FrameReader()
    out = []
    pos = 0
    for c in sorted(set(cuts)) + [len(data)]:
        r.feed(data[pos:c])
        pos = max(pos, c)
        out += drain(r)
    r.feed(data[pos:])
    out += drain(r)
    assert out == msgs
    assert r.skipped_bytes + r.buffered() == sum(map(len, garbage))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decode_of_random_bytes_raises_only_garbled_frame(data):
    try:
        decode(data)
    except GarbledFrame:
        pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_decode_of_mutated_messages_raises_only_garbled_frame_and_frame_reader_never_raises(data):
    m = bytearray(encode(b"FIX.4.4", b"D", HB + [(11, b"ID"), (38, b"100"), (95, b"3"), (96, b"a=\x01")]))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(m) - 1))
        m[i] = data.draw(st.sampled_from([0x01, 0x3D, 0x30, 0x39, 0x2D, 0x41, 0x38, data.draw(st.integers(0, 255))]))
    try:
        msg = decode(bytes(m))
        assert isinstance(msg, FixMessage)
    except GarbledFrame:
        pass
    r = FrameReader(max_body_length=500)
    r.feed(bytes(m) * 2)
    drain(r)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9999), st.binary(min_size=1, max_size=20).filter(
    lambda b: b"\x01" not in b)), max_size=15))
def test_decode_agrees_with_encode_for_arbitrary_fields(fields):
    fields = [(t, v) for t, v in fields if t not in (8, 9, 10, 35, 90, 93, 95, 212, 348, 350, 352, 354, 356, 358, 360,
                                                    362, 364, 445, 618, 621)]
    m = encode(b"FIX.4.4", b"D", fields)
    msg = decode(m)
    assert msg.body_fields() == fields
