"""The FIX hot path's caches give the answers the uncached code gave.

validate compiles a plan per (MsgType, tag sequence); FixMessage keeps a first-occurrence index;
the timestamp functions cache per second; SessionDriver keeps a pending timer that fires early.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from sim.clock import VirtualClock, current_clock, run_virtual
from sim.fix import timestamps, validation
from sim.fix.codec import FixMessage, decode, encode
from sim.fix.dictionary import Dictionary
from sim.fix.echo import EchoApplication
from sim.fix.session import Session, SessionConfig
from sim.fix.store import SessionID
from sim.fix.transport import memory_pipe
from sim.fix.validation import Violation, validate
from tests.sim.fix.fixtools import AcceptAll

T = b"20240102-10:11:12.123"


def nos(**overrides: bytes) -> FixMessage:
    """A FIX.4.4 NewOrderSingle with the same tag sequence whatever the values."""
    values = {34: b"2", 49: b"TW44", 52: T, 56: b"ISLD", 11: b"ORD1", 21: b"1", 38: b"002000.00", 40: b"2",
              44: b"101.25", 54: b"1", 55: b"INTC", 59: b"0", 60: T, 64: b"20240103", 453: b"1", 448: b"P1",
              447: b"D", 452: b"1"}
    values.update({int(k[1:]): v for k, v in overrides.items()})
    return decode(encode(b"FIX.4.4", b"D", list(values.items())))


def v(reason: int, tag: int | None) -> Violation:
    return Violation("session", reason, tag, validation.SESSION_REJECT_TEXT[reason])


DD = Dictionary.for_begin_string("FIX.4.4")


# -- validation plans ------------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, None),
    ({"t38": b""}, v(4, 38)),
    ({"t38": b"12x"}, v(6, 38)),
    ({"t54": b"Z"}, v(5, 54)),
    ({"t52": b"20241302-10:11:12"}, v(6, 52)),
    ({"t60": b"20240102-10:11:12."}, None),  # '.' with no digits is a UTCTimestamp to QuickFIX
    ({"t60": b"20240102-10:11:12.1234567890"}, v(6, 60)),
    ({"t453": b"2"}, v(16, 453)),
    ({"t447": b"?"}, v(5, 447)),  # inside the group (step 6)
    ({"t38": b"", "t54": b"Z"}, v(4, 38)),  # first in QuickFIX's order (ascending tag) wins
    ({"t11": b"", "t38": b"x"}, v(4, 11)),
], ids=repr)
def test_a_cached_tag_sequence_with_other_values_gets_its_own_reject(overrides, expected):
    validate(nos(), DD)  # compile and cache the plan for this tag sequence
    assert validate(nos(**overrides), DD) == expected
    assert validate(nos(), DD) is None  # the plan is not spoiled by a failing message


def test_strict_and_lenient_plans_are_cached_separately():
    bad_date = nos(t64=b"2024")  # LOCALMKTDATE: only strict checks its format
    assert validate(bad_date, DD) is None
    assert validate(bad_date, DD, strict=True) == v(6, 64)
    assert validate(bad_date, DD) is None


def test_group_member_checks_follow_the_flag_with_the_same_tags():
    bad = nos(t447=b"?")
    assert validate(bad, DD, check_group_members=False) is None
    assert validate(bad, DD) == v(5, 447)


def test_structural_verdicts_are_cached_and_returned_for_each_message():
    fields = [(t, val) for t, val in nos().fields if t != 11]
    missing = decode(encode(b"FIX.4.4", b"D", [f for f in fields if f[0] not in (8, 9, 35, 10)]))
    assert validate(missing, DD) == v(1, 11)
    assert validate(missing, DD) == v(1, 11)


def test_the_plan_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(validation, "_PLAN_CACHE_MAX", 8)
    dd = Dictionary.for_begin_string("FIX.4.2")
    for i in range(30):  # 30 distinct tag sequences (an extra unknown tag each)
        msg = decode(encode(b"FIX.4.2", b"0", [(34, 2), (49, b"A"), (52, T), (56, b"B"), (6000 + i, b"x")]))
        assert validate(msg, dd) == v(0, 6000 + i)
        assert len(dd.validation_plans) <= 8


def test_timestamp_format_check_accepts_exactly_what_the_regex_accepts():
    ts_re = re.compile(rb"[0-9]{4}([0-9]{2})([0-9]{2})-([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{0,9})?")

    def reference(value: bytes) -> bool:
        m = ts_re.fullmatch(value)
        if m is None:
            return False
        mo, d, h, mi, s = (int(x) for x in m.groups())
        return 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60

    samples = [T, T[:17], T[:18], T + b"456789", T + b"4567890", b"20240102-23:59:60", b"20240102-23:59:61",
               b"20240100-10:11:12", b"20240231-10:11:12", b"20240102-24:11:12", b"20240102 10:11:12",
               b"20240102-10:11:12,123", b"\xd9\xa0" * 9, b"2024010-10:11:12", b"20240102-10:11:12.12a",
               b"20240102-10:11:12\n", b"", b"20240102-10:11:1", b"20240102-10:11:12.-1"]
    for value in samples * 2:  # twice: the second pass answers from the head cache
        assert validation._is_timestamp(value) == reference(value), value


@pytest.mark.parametrize("value", [b"0", b"2147483647", b"2147483648", b"-2147483648", b"-2147483649",
                                   b"0002147483648", b"+1", b"", b"1.0", b"\xd9\xa1"])
def test_int_format_fast_path_agrees_with_the_rule(value):
    expected = re.fullmatch(rb"-?[0-9]+", value) is not None and -(2**31) <= int(value) < 2**31
    assert validation._is_int(value) == expected


@pytest.mark.parametrize("value", [b"1", b"1.", b".5", b"1.5", b"-1.5", b"-.5", b"-", b".", b"", b"1.2.3",
                                   b"+1", b"1e5", b" 1", b"1 ", b"\xd9\xa1"])
def test_float_format_fast_path_agrees_with_the_rule(value):
    expected = re.fullmatch(rb"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", value) is not None
    assert validation._is_float(value) == expected


# -- FixMessage index --------------------------------------------------------------------------------


def test_the_index_follows_set_append_and_remove():
    m = FixMessage([(35, b"D"), (11, b"A"), (11, b"B")])
    assert m.get(11) == b"A" and m.get(38) is None and 11 in m and 38 not in m
    m.set(11, b"C")
    assert m.get(11) == b"C" and m.get_all(11) == [b"C", b"B"]
    m.append(38, 100)
    assert m.get(38) == b"100" and 38 in m
    m.set(44, "1.5")  # not present: appended
    assert m.get(44) == b"1.5"
    m.remove(11)
    assert m.get(11) is None and 11 not in m and m.get(11, b"-") == b"-"
    m.append(11, b"D")
    assert m.get(11) == b"D"


def test_the_index_notices_a_new_fields_list_and_direct_appends():
    m = decode(encode(b"FIX.4.4", b"0", [(34, 1), (49, b"A"), (52, T), (56, b"B")]))
    assert m.get(49) == b"A" and m.msg_type() == b"0" and m.begin_string() == b"FIX.4.4"
    m.fields = [(8, b"FIX.4.2"), (35, b"1"), (112, b"X")]
    assert m.get(49) is None and m.get(112) == b"X" and m.msg_type() == b"1"
    m.fields.append((58, b"hi"))
    assert m.get(58) == b"hi"


def test_get_returns_the_first_occurrence_like_a_scan():
    fields = [(t % 7, b"%d" % i) for i, t in enumerate(range(40))]
    m = FixMessage(fields)
    for tag in range(-1, 9):
        scan = next((val for t, val in fields if t == tag), None)
        assert m.get(tag) == scan


# -- timestamps ----------------------------------------------------------------------------------


def test_formatting_across_seconds_and_digits_matches_the_calendar():
    from sim.clock import format_utc

    base = 1_767_346_199_998_000_000  # 2 ms before a second (and a minute) boundary
    for step in range(0, 5_000_000, 250_001):
        ns = base + step
        for digits in (0, 3, 6, 9):
            assert timestamps.format_utc_timestamp(ns, digits=digits) == format_utc(ns, digits).encode()
        assert timestamps.format_utc_timestamp(ns, millis=False) == format_utc(ns, 0).encode()
    with pytest.raises(ValueError):
        timestamps.format_utc_timestamp(base, digits=4)


def test_parsing_with_a_cached_head_still_checks_each_fraction():
    head = b"20260102-09:30:00"
    base = timestamps.parse_utc_timestamp(head)
    assert timestamps.parse_utc_timestamp(head + b".5") == base + 500_000_000
    assert timestamps.parse_utc_timestamp(head + b".123456789") == base + 123_456_789
    assert timestamps.parse_utc_timestamp(head + b".") is None
    assert timestamps.parse_utc_timestamp(head + b".1234567890") is None
    assert timestamps.parse_utc_timestamp(head + b",5") is None
    assert timestamps.parse_utc_timestamp(b"20260102-09:30:60.5") == base + 60_500_000_000
    assert timestamps.parse_utc_timestamp(b"20260230-09:30:00") is None  # cached as invalid ...
    assert timestamps.parse_utc_timestamp(b"20260230-09:30:00.1") is None  # ... for every fraction
    assert timestamps.parse_utc_timestamp(bytearray(head)) == base  # non-bytes: the reference path


# -- transport timer -------------------------------------------------------------------------------


class _Sink(AcceptAll):
    """Initiator application that accepts everything (a rejecting one would bounce rejects forever)."""


def test_the_pending_timer_is_kept_while_messages_push_the_deadline_later():
    async def main():
        now_ns = current_clock().now_ns
        initiator = Session(SessionConfig(SessionID("FIX.4.4", "TW", "ISLD"), initiator=True, heartbeat_s=30,
                                          reset_on_logon=True), now_ns=now_ns, application=_Sink())
        acceptor = Session(SessionConfig(SessionID("FIX.4.4", "ISLD", "TW"), reset_on_logon=True), now_ns=now_ns,
                           application=EchoApplication())
        driver, _ = memory_pipe(initiator, acceptor, now_ns=now_ns)
        await asyncio.sleep(1)
        handle = driver._timer
        for i in range(5):
            initiator.send(b"D", [(11, f"O{i}"), (21, 1), (38, 100), (40, 1), (54, 1), (55, "X"),
                                  (60, "20260102-09:30:00")])
            await asyncio.sleep(1)
        kept = driver._timer is handle
        await asyncio.sleep(60)  # the early fires re-arm; heartbeats still go out on time
        return initiator, kept

    initiator, kept = run_virtual(main(), clock=VirtualClock())
    assert kept
    sent = [(raw.split(b"\x0152=")[1][:21], raw.split(b"\x0135=")[1][:1]) for raw in initiator.log.outgoing]
    heartbeats = [stamp for stamp, mt in sent if mt == b"0"]
    last_app = max(stamp for stamp, mt in sent if mt == b"D")
    # heartbeats exactly 30 s after the last message sent, never early
    assert heartbeats and timestamps.parse_utc_timestamp(heartbeats[0]) - timestamps.parse_utc_timestamp(
        last_app) == 30 * 10**9
