"""Validation: every row of the conformance table and its precedence rules, FIX 4.2 and 4.4.

The messages are the ones QuickFIX's acceptance scenarios send (14a-14i, 2q, 21,
ReverseRouteWithEmptyRoutingTags, 15); the expected Violation is what its Reject carries.
"""

from __future__ import annotations

import pytest

from sim.fix.codec import SOH, decode
from sim.fix.dictionary import Dictionary
from sim.fix.validation import (
    Violation,
    check_comp_ids_present,
    comp_id_problem,
    sending_time_problem,
    unsupported_message_type,
    validate,
)

T = "20240102-10:11:12"
CP = {"FIX.4.2": "TW42", "FIX.4.4": "TW44"}


def msg(bs: str, text: str):
    """'35=0|34=2|...' -> decoded FixMessage with 8, 9, 10 added (as QuickFIX's test runner does)."""
    body = text.replace("<TIME>", T).replace("<CP>", CP[bs]).replace("|", "\x01").encode() + SOH
    m = b"8=" + bs.encode() + b"\x019=%d\x01" % len(body) + body
    return decode(m + b"10=%03d\x01" % (sum(m) % 256))


def check(bs: str, text: str) -> Violation | None:
    return validate(msg(bs, text), Dictionary.for_begin_string(bs))


def v(reason: int, tag: int | None, text: str) -> Violation:
    return Violation("session", reason, tag, text)


BOTH = pytest.mark.parametrize("bs", ["FIX.4.2", "FIX.4.4"])
HDR = "34=2|49=<CP>|52=<TIME>|56=ISLD"


@BOTH
@pytest.mark.parametrize("tag", ["999", "0", "-1", "5000"])
def test_tag_not_in_dictionary_is_reason_0_invalid_tag_number(bs, tag):
    assert check(bs, f"35=0|{HDR}|{tag}=HI") == v(0, int(tag), "Invalid tag number")


@BOTH
def test_missing_target_comp_id_in_header_is_reason_1(bs):
    assert check(bs, "35=0|34=2|49=<CP>|52=<TIME>") == v(1, 56, "Required tag missing")


@BOTH
def test_missing_sender_comp_id_is_reason_1_for_49_before_anything_else(bs):
    assert check(bs, "35=0|34=2|52=<TIME>|56=ISLD|999=X") == v(1, 49, "Required tag missing")
    assert check_comp_ids_present(msg(bs, "35=0|34=2|52=<TIME>")) == v(1, 49, "Required tag missing")


def test_fix44_new_order_without_clordid_is_reason_1_for_tag_11():
    assert check("FIX.4.4", "35=D|49=<CP>|34=3|56=ISLD|52=<TIME>|40=1|60=<TIME>|54=1|21=3") == v(
        1, 11, "Required tag missing")


def test_fix42_new_order_without_symbol_is_reason_1_for_tag_55():
    assert check("FIX.4.2", "35=D|49=<CP>|34=3|56=ISLD|52=<TIME>|40=1|60=<TIME>|54=1|21=3|11=id") == v(
        1, 55, "Required tag missing")


@BOTH
def test_missing_sending_time_is_reason_1_for_52(bs):
    assert check(bs, "35=0|34=2|49=<CP>|56=ISLD") == v(1, 52, "Required tag missing")


@BOTH
def test_tag_defined_but_not_for_this_message_type_is_reason_2(bs):
    assert check(bs, f"35=0|{HDR}|55=MSFT") == v(2, 55, "Tag not defined for this message type")


@BOTH
def test_empty_value_is_reason_4(bs):
    assert check(bs, "35=0|34=2|49=<CP>|52=<TIME>|56=") == v(4, 56, "Tag specified without a value")


@BOTH
@pytest.mark.parametrize("extra, tag", [("21=4|167=CS", 21), ("21=1|167=BOO", 167)])
def test_value_outside_the_enumeration_is_reason_5(bs, extra, tag):
    text = f"35=D|{HDR}|11=ID|{extra}|40=1|54=1|38=002000.00|55=INTC|60=<TIME>"
    assert check(bs, text) == v(5, tag, "Value is incorrect (out of range) for this tag")


@BOTH
def test_valid_new_order_with_zero_padded_quantity_passes(bs):
    assert check(bs, f"35=D|{HDR}|11=ID|21=1|40=1|54=1|38=002000.00|55=INTC|60=<TIME>|167=CS") is None


@BOTH
@pytest.mark.parametrize(
    "field, tag",
    [("38=+200.00", 38), ("38=1e5", 38), ("38= 200", 38), ("38=.", 38), ("60=20240102", 60),
     ("60=20241302-10:11:12", 60), ("60=20240102-24:00:00", 60), ("54=12", 54), ("44=abc", 44)],
)
def test_bad_data_format_is_reason_6(bs, field, tag):
    text = f"35=D|{HDR}|11=ID|21=1|40=2|44=10|54=1|38=200|55=INTC|60=<TIME>".replace(f"|{tag}=", f"|{tag}=X", 1)
    text = text.replace(f"|{tag}=X" + text.split(f"|{tag}=X")[1].split("|")[0], "|" + field, 1)
    assert check(bs, text) == v(6, tag, "Incorrect data format for value")


@BOTH
@pytest.mark.parametrize("value", ["200.", ".5", "-1.25", "0002000.00"])
def test_floats_quickfix_accepts_pass(bs, value):
    assert check(bs, f"35=D|{HDR}|11=ID|21=1|40=1|54=1|38={value}|55=INTC|60=<TIME>") is None


@BOTH
@pytest.mark.parametrize("ts", ["20240102-10:11:12.123", "20240102-10:11:12.123456789", "20240102-23:59:60"])
def test_timestamps_with_fractions_and_leap_seconds_pass(bs, ts):
    assert check(bs, f"35=D|{HDR}|11=ID|21=1|40=1|54=1|38=1|55=INTC|60={ts}") is None


def test_negative_seqnum_is_bad_format_in_fix44_only():
    assert check("FIX.4.4", "35=0|34=-2|49=<CP>|52=<TIME>|56=ISLD") == v(6, 34, "Incorrect data format for value")
    assert check("FIX.4.2", "35=0|34=-2|49=<CP>|52=<TIME>|56=ISLD") is None


@BOTH
def test_unknown_msg_type_is_reason_11_without_ref_tag(bs):
    assert check(bs, f"35=*|{HDR}") == v(11, None, "Invalid MsgType")


@BOTH
def test_non_group_tag_repeated_is_reason_13(bs):
    text = f"35=D|{HDR}|11=ID|21=1|40=1|40=2|54=1|38=200.00|55=INTC|60=<TIME>"
    assert check(bs, text) == v(13, 40, "Tag appears more than once")


@BOTH
@pytest.mark.parametrize(
    "text",
    ["35=D|11=id|21=3|40=1|54=1|55=MSFT|60=<TIME>|34=2|49=<CP>|52=<TIME>|56=ISLD",
     "35=D|55=MSFT|34=3|49=<CP>|52=<TIME>|56=ISLD|11=id|21=3|40=1|54=1|60=<TIME>"],
)
def test_header_field_after_a_body_field_is_reason_14_naming_the_first_such_header_tag(bs, text):
    assert check(bs, text) == v(14, 34, "Tag specified out of required order")


@BOTH
def test_header_and_body_fields_in_any_order_within_their_section_pass(bs):
    assert check(bs, "35=D|49=<CP>|34=3|56=ISLD|52=<TIME>|40=1|55=MSFT|60=<TIME>|54=1|21=3|11=id") is None


@BOTH
def test_num_in_group_differing_from_entries_is_reason_16(bs):
    text = f"35=D|{HDR}|11=ID|21=1|40=1|54=1|38=200.00|55=INTC|386=3|336=PRE-OPEN|336=AFTER-HOURS|60=<TIME>"
    assert check(bs, text) == v(16, 386, "Incorrect NumInGroup count for repeating group")


@BOTH
def test_num_in_group_matching_entries_passes(bs):
    text = f"35=D|{HDR}|11=ID|21=1|40=1|54=1|38=200.00|55=INTC|386=2|336=PRE-OPEN|336=AFTER-HOURS|60=<TIME>"
    assert check(bs, text) is None


def test_repeating_group_with_count_zero_is_valid():
    text = ("35=d|34=2|49=<CP>|56=ISLD|52=<TIME>|320=JCD1091-20021011|322=1034356488676|323=6|55=TBS|22=8|167=CS"
            "|336=ONE_MAIN|58=No Products found for this Class Symbol|454=0")
    assert check("FIX.4.4", text) is None


@BOTH
@pytest.mark.parametrize("route, tag", [("115=", 115), ("128=", 128), ("115=JCD|116=", 116),
                                        ("128=JCD|129=", 129), ("115=JCD|116=CS|144=", 144)])
def test_empty_routing_field_is_reason_4(bs, route, tag):
    text = f"35=D|{HDR}|{route}|11=ID|21=3|38=100|40=1|54=1|55=INTC|60=<TIME>"
    assert check(bs, text) == v(4, tag, "Tag specified without a value")


@BOTH
def test_empty_routing_field_is_reported_before_an_invalid_enum_elsewhere(bs):
    text = f"35=D|{HDR}|128=JCD|129=CS|145=|11=ID|21=3|38=100|40=w|54=1|55=INTC|60=<TIME>"
    assert check(bs, text) == v(4, 145, "Tag specified without a value")


@BOTH
def test_empty_value_and_unknown_tag_are_found_by_validate_which_runs_before_the_comp_id_check(bs):
    """Precedence: validate() covers 0 and 4; the session checks CompIDs (9) only afterwards."""
    assert check(bs, "35=0|34=2|49=WRONG|52=<TIME>|56=ISLD|999=X") == v(0, 999, "Invalid tag number")
    assert check(bs, "35=0|34=2|49=WRONG|52=<TIME>|56=") == v(4, 56, "Tag specified without a value")


@BOTH
def test_header_problems_are_reported_before_body_problems_and_body_by_ascending_tag(bs):
    assert check(bs, f"35=D|{HDR}|97=|11=ID|21=9|40=Z|54=1|55=INTC|60=<TIME>") == v(
        4, 97, "Tag specified without a value")
    assert check(bs, f"35=D|{HDR}|11=ID|21=9|40=Z|54=1|55=INTC|60=<TIME>") == v(
        5, 21, "Value is incorrect (out of range) for this tag")


@BOTH
def test_structure_is_checked_before_msg_type_and_required_fields(bs):
    assert check(bs, "35=*|11=x|34=2|49=<CP>|52=<TIME>|56=ISLD").reason == 14
    assert check(bs, "35=*|34=2|49=<CP>|56=ISLD").reason == 11


@BOTH
def test_required_fields_are_checked_before_empty_values(bs):
    assert check(bs, f"35=1|{HDR}|58=") == v(1, 112, "Required tag missing")


def test_fix42_gets_reason_codes_above_11_too_the_session_omits_373_there():
    assert check("FIX.4.2", f"35=0|{HDR}|112=X|112=Y") == v(13, 112, "Tag appears more than once")


def test_a_repeated_tag_not_defined_for_the_message_is_reported_as_not_defined_first():
    assert check("FIX.4.2", f"35=0|{HDR}|55=X|55=Y").reason == 2


def test_group_members_are_checked_for_enums_after_quickfix_checks():
    text = f"35=V|{HDR}|262=R1|263=1|264=0|267=1|269=Z|146=1|55=INTC"
    assert check("FIX.4.4", text) == v(5, 269, "Value is incorrect (out of range) for this tag")
    ok = f"35=V|{HDR}|262=R1|263=1|264=0|267=2|269=0|269=1|146=1|55=INTC"
    assert check("FIX.4.4", ok) is None


def test_group_members_out_of_their_group_are_not_defined_for_the_message():
    assert check("FIX.4.4", f"35=D|{HDR}|11=ID|40=1|54=1|60=<TIME>|336=X").reason == 2


def test_helpers_for_session_level_checks():
    assert comp_id_problem() == v(9, None, "CompID problem")
    assert sending_time_problem() == v(10, None, "SendingTime accuracy problem")
    assert unsupported_message_type() == Violation("business", 3, None, "Unsupported Message Type")


def test_strict_mode_also_checks_local_market_dates():
    dd = Dictionary.for_begin_string("FIX.4.4")
    m = msg("FIX.4.4", f"35=D|{HDR}|11=ID|40=1|54=1|60=<TIME>|432=2024-01-02")
    assert validate(m, dd) is None
    assert validate(m, dd, strict=True) == v(6, 432, "Incorrect data format for value")
