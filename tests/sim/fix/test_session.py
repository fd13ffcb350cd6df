"""Session layer behaviour, one test per rule of the FIX session protocol (QuickFIX semantics)."""

from __future__ import annotations

import pytest

from sim.fix.timestamps import format_utc_timestamp
from tests.sim.fix.fixtools import NS, Counterparty, fields_of, nos

# -- LOGON ------------------------------------------------------------------------------------


def test_logon_with_reset_is_answered_with_exactly_encrypt_heartbeat_and_reset():
    tw = Counterparty()
    [reply] = tw.logon(heartbeat=30)
    f = fields_of(reply)
    assert reply.msg_type() == b"A"
    assert f[34] == b"1" and f[49] == b"ISLD" and f[56] == b"TW"
    body = [(t, v) for t, v in reply.fields if t not in (8, 9, 35, 34, 49, 52, 56, 10)]
    assert body == [(98, b"0"), (108, b"30"), (141, b"Y")]
    assert tw.session.logged_on


def test_logon_without_reset_flag_gets_no_reset_flag_back():
    tw = Counterparty()
    [reply] = tw.logon(heartbeat=5, reset=False)
    body = [(t, v) for t, v in reply.fields if t not in (8, 9, 35, 34, 49, 52, 56, 10)]
    assert body == [(98, b"0"), (108, b"5")]


def test_logon_with_seqnum_too_high_is_answered_then_a_resend_request_follows():
    tw = Counterparty()
    replies = tw.logon(seq=5, reset=False)
    assert [m.msg_type() for m in replies] == [b"A", b"2"]
    assert fields_of(replies[1])[7] == b"1" and fields_of(replies[1])[16] == b"0"


def test_a_reset_logon_during_a_session_resets_both_sequence_numbers():
    tw = Counterparty()
    tw.logon()
    for _ in range(3):
        tw.send("0")
    [reply] = tw.logon(seq=1)
    assert reply.msg_type() == b"A"
    assert fields_of(reply)[34] == b"1" and fields_of(reply)[141] == b"Y"
    assert tw.session.next_target_seq == 2


def test_first_message_not_a_logon_disconnects():
    tw = Counterparty()
    tw.send("0")
    assert tw.disconnected is not None


def test_logon_with_sending_time_off_by_more_than_120_seconds_disconnects():
    tw = Counterparty()
    stale = format_utc_timestamp(tw.clock() - 121 * NS)
    assert tw.logon(sending_time=stale) == []
    assert tw.disconnected is not None


def test_garbled_logon_disconnects():
    tw = Counterparty()
    frame = tw.raw("A", [(98, 0), (108, 30)])
    tw.feed(frame[:-4] + b"999\x01")
    assert tw.disconnected is not None


# -- HEARTBEATS ------------------------------------------------------------------------------


def test_heartbeat_after_heartbtint_of_silence_then_test_request_then_disconnect():
    tw = Counterparty()
    tw.logon(heartbeat=10)
    assert tw.tick(9) == []
    [hb] = tw.tick(1.0)
    assert hb.msg_type() == b"0"
    [tr] = tw.tick(2.0)  # 12 s since last received = 1.2 x HeartBtInt
    assert tr.msg_type() == b"1" and fields_of(tr)[112] == b"TEST"
    assert tw.disconnected is None
    tw.tick(12.0)  # 24 s = 2.4 x HeartBtInt
    assert tw.disconnected == "Timed out waiting for heartbeat"


def test_test_request_is_answered_with_its_test_req_id():
    tw = Counterparty()
    tw.logon()
    [hb] = tw.send("1", [(112, "PING-7")])
    assert hb.msg_type() == b"0" and fields_of(hb)[112] == b"PING-7"


def test_next_timer_points_at_the_next_heartbeat():
    tw = Counterparty()
    tw.logon(heartbeat=10)
    assert tw.session.next_timer_ns() == tw.clock() + 10 * NS


# -- SEQUENCE NUMBERS ------------------------------------------------------------------------


def test_seqnum_too_high_sends_one_resend_request_and_queues_until_the_gap_is_filled():
    tw = Counterparty()
    tw.logon()
    early = tw.send("D", nos("A"), seq=4)
    assert [m.msg_type() for m in early] == [b"2"]
    assert fields_of(early[0])[7] == b"2" and fields_of(early[0])[16] == b"0"
    assert tw.send("D", nos("B"), seq=5) == []  # no second ResendRequest while one is outstanding
    echoed = tw.send("4", [(36, 4), (123, "Y")], seq=2, header=[(43, "Y"), (122, format_utc_timestamp(tw.clock()))])
    assert [fields_of(m)[11] for m in echoed] == [b"A", b"B"]
    assert tw.session.next_target_seq == 6


def test_seqnum_too_low_without_possdup_logs_out_with_the_reason_and_disconnects():
    tw = Counterparty()
    tw.logon()
    tw.send("0")
    [logout] = tw.send("0", seq=2)
    assert logout.msg_type() == b"5"
    assert fields_of(logout)[58] == b"MsgSeqNum too low, expecting 3 but received 2"
    assert tw.disconnected is not None


def test_possdup_too_low_with_orig_sending_time_is_ignored():
    tw = Counterparty()
    tw.logon()
    tw.send("0")
    now = format_utc_timestamp(tw.clock())
    assert tw.send("D", nos(), seq=2, header=[(43, "Y"), (122, now)]) == []
    assert tw.disconnected is None and tw.session.next_target_seq == 3


def test_possdup_too_low_without_orig_sending_time_is_rejected_and_seqnum_does_not_move():
    tw = Counterparty()
    tw.logon()
    tw.send("0")
    [reject] = tw.send("D", nos(), seq=2, header=[(43, "Y")])
    f = fields_of(reject)
    assert reject.msg_type() == b"3" and f[373] == b"1" and f[371] == b"122" and f[45] == b"2"
    assert tw.session.next_target_seq == 3


def test_possdup_with_orig_sending_time_later_than_sending_time_is_rejected_then_logged_out():
    tw = Counterparty()
    tw.logon()
    tw.send("0")
    later = format_utc_timestamp(tw.clock() + 5 * NS)
    replies = tw.send("D", nos(), seq=2, header=[(43, "Y"), (122, later)])
    assert [m.msg_type() for m in replies] == [b"3", b"5"]
    assert fields_of(replies[0])[373] == b"10" and 371 not in fields_of(replies[0])
    assert 58 not in fields_of(replies[1])


def test_sequence_reset_reset_to_a_lower_number_is_rejected_without_ref_tag():
    tw = Counterparty()
    tw.logon()
    tw.send("0")
    tw.send("0")
    [reject] = tw.send("4", [(36, 2)], seq=0)
    f = fields_of(reject)
    assert f[373] == b"5" and f[45] == b"0" and f[372] == b"4" and 371 not in f
    assert f[58] == b"Value is incorrect (out of range) for this tag"


def test_sequence_reset_reset_moves_the_expected_number_up():
    tw = Counterparty()
    tw.logon()
    assert tw.send("4", [(36, 10)], seq=99) == []
    assert tw.session.next_target_seq == 10


def test_gap_fill_with_the_expected_number_moves_to_new_seq_no():
    tw = Counterparty()
    tw.logon()
    tw.send("4", [(36, 7), (123, "Y")], seq=2)
    assert tw.session.next_target_seq == 7


# -- RESEND ----------------------------------------------------------------------------------


def test_resend_request_resends_application_messages_and_gap_fills_admin_runs():
    tw = Counterparty()
    tw.logon()                      # our 1: Logon
    tw.send("D", nos("X1"))         # our 2: echo
    tw.send("1", [(112, "T")])      # our 3: Heartbeat
    tw.send("D", nos("X2"))         # our 4: echo
    replies = tw.send("2", [(7, 1), (16, 0)])
    kinds = [(m.msg_type(), fields_of(m)[34]) for m in replies]
    assert kinds == [(b"4", b"1"), (b"D", b"2"), (b"4", b"3"), (b"D", b"4")]
    gap = fields_of(replies[0])
    assert gap[123] == b"Y" and gap[36] == b"2" and gap[43] == b"Y" and 122 in gap
    resent = fields_of(replies[1])
    assert resent[43] == b"Y" and resent[11] == b"X1" and resent[122] != b""
    assert fields_of(replies[2])[36] == b"4"


def test_resend_request_with_too_high_seqnum_is_served_and_does_not_advance():
    tw = Counterparty()
    tw.logon()
    replies = tw.send("2", [(7, 1), (16, 0)], seq=10)
    assert [m.msg_type() for m in replies] == [b"4"]
    assert tw.session.next_target_seq == 2


# -- LOGOUT, GARBLED, COMPIDS, BEGINSTRING -------------------------------------------------------


def test_logout_is_answered_with_a_plain_logout_and_disconnect():
    tw = Counterparty()
    tw.logon()
    [reply] = tw.send("5", seq=50)
    assert reply.msg_type() == b"5" and 58 not in fields_of(reply)
    assert tw.disconnected == "logout"


def test_the_logout_timeout_counts_from_our_logout_not_from_our_last_message():
    # QuickFIX restarts the wait on every message it sends; a client that keeps writing after our
    # Logout (each message answered, e.g. a TestRequest) would then keep the session open for ever.
    tw = Counterparty()
    tw.logon()
    tw.session._send_logout("throttle")
    tw.session.take_actions()
    for _ in range(3):
        tw.tick(0.6)
        tw.send("1", [(112, "STILL-HERE")])
    assert tw.disconnected is None  # 1.8 s after the Logout
    tw.tick(0.3)
    assert tw.disconnected == "Timed out waiting for logout response"


def test_garbled_frame_after_logon_is_ignored_and_its_seqnum_not_consumed():
    tw = Counterparty()
    tw.logon()
    frame = tw.raw("0")
    tw.seq -= 1
    bad = frame.replace(b"\x0110=", b"\x0110=9", 1)  # four-digit checksum: garbled
    assert tw.feed(bad) == []
    assert tw.disconnected is None and tw.session.next_target_seq == 2
    [hb] = tw.send("1", [(112, "X")])
    assert hb.msg_type() == b"0"


def test_wrong_comp_id_is_rejected_with_reason_9_then_logout():
    tw = Counterparty()
    tw.logon()
    replies = tw.send("0", sender="XX")
    assert [m.msg_type() for m in replies] == [b"3", b"5"]
    f = fields_of(replies[0])
    assert f[373] == b"9" and f[58] == b"CompID problem" and 371 not in f
    tw.send("5")
    assert tw.disconnected is not None


def test_a_different_begin_string_on_a_logged_on_session_gets_logout_incorrect_begin_string():
    tw = Counterparty()
    tw.logon()
    [logout] = tw.send("0", begin="FIX.4.2")
    assert logout.msg_type() == b"5" and fields_of(logout)[58] == b"Incorrect BeginString"
    tw.tick(3)
    assert tw.disconnected is not None


# -- APPLICATION (ECHO) ----------------------------------------------------------------------


def test_new_order_single_is_echoed_with_byte_identical_values_and_possresend_kept():
    tw = Counterparty()
    tw.logon()
    [echo] = tw.send("D", nos("E1", qty="002000.00"), header=[(97, "N")])
    f = fields_of(echo)
    assert echo.msg_type() == b"D" and f[38] == b"002000.00" and f[97] == b"N" and f[49] == b"ISLD"
    assert f[34] == b"2" and 43 not in f and 122 not in f


def test_possresend_duplicate_clordid_is_dropped():
    tw = Counterparty()
    tw.logon()
    tw.send("D", nos("DUP"))
    assert tw.send("D", nos("DUP"), header=[(97, "Y")]) == []
    [echo] = tw.send("D", nos("NEW"), header=[(97, "Y")])
    assert fields_of(echo)[11] == b"NEW"


def test_unsupported_application_message_gets_business_message_reject():
    tw = Counterparty()
    tw.logon()
    [bmr] = tw.send("F", [(11, "C1"), (41, "O1"), (54, "1"), (55, "PRB"), (60, "20260102-09:30:00"), (38, "1")])
    f = fields_of(bmr)
    assert bmr.msg_type() == b"j" and f[380] == b"3" and f[372] == b"F" and f[58] == b"Unsupported Message Type"
    assert tw.session.next_target_seq == 3


# -- VALIDATION ------------------------------------------------------------------------------


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4"])
def test_unknown_tag_is_rejected_with_reason_0_and_consumes_the_seqnum(begin):
    tw = Counterparty(begin=begin)
    tw.logon()
    [reject] = tw.send("0", [(9999, "x")])
    f = fields_of(reject)
    assert reject.msg_type() == b"3" and f[373] == b"0" and f[371] == b"9999" and f[58] == b"Invalid tag number"
    assert tw.session.next_target_seq == 3


def test_reject_reason_above_11_omits_373_on_fix42():
    tw = Counterparty(begin="FIX.4.2")
    tw.logon()
    [reject] = tw.send("0", [(112, "a"), (112, "b")])
    f = fields_of(reject)
    assert f[371] == b"112" and f[58] == b"Tag appears more than once" and 373 not in f


def test_reverse_routing_fields_come_back_swapped():
    tw = Counterparty()
    tw.logon()
    [reject] = tw.send("0", [(9999, "x")], header=[(115, "OBO"), (128, "DTC")])
    f = fields_of(reject)
    assert f[128] == b"OBO" and f[115] == b"DTC"


def test_an_application_that_raises_gets_business_reject_other_and_the_seqnum_is_consumed():
    class Broken:
        def on_logon_request(self, session, logon): pass
        def on_logon(self, session): pass
        def on_logout(self, session): pass
        def from_app(self, session, message):
            raise RuntimeError("position service unavailable")

    tw = Counterparty(app=Broken())
    tw.logon()
    [bmr] = tw.send("D", nos("X"))
    f = fields_of(bmr)
    assert bmr.msg_type() == b"j" and f[380] == b"0" and b"RuntimeError" in f[58]
    assert tw.session.next_target_seq == 3
    assert any("Application error" in e and "position service unavailable" in e for e in tw.session.log.events)


def test_a_4301_digit_value_is_a_format_reject_not_a_crash():
    # Found by the fuzzer: CPython refuses int() on more than 4,300 digits; validation used to raise.
    tw = Counterparty()
    tw.logon()
    [reject] = tw.send("1", [(112, "T"), (1128, "9" * 4301)]) or [None]
    assert reject is not None and reject.msg_type() == b"3"
    huge_seq = tw.raw("0", seq=2)
    tw.seq = 2
    replies = tw.feed(huge_seq.replace(b"\x0134=2\x01", b"\x0134=" + b"9" * 4301 + b"\x01"))
    assert all(m.msg_type() in (b"3", b"5") for m in replies)
