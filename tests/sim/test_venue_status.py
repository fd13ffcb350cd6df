"""Trading status on the wire: SecurityStatus (f) per symbol, TradingSessionStatus (h) for the venue.

Driven in-process: the venue's own sans-I/O sessions, raw FIX clients (:mod:`tests.sim.venue_wire`)
and the virtual clock.  Everything the venue sends is decoded and validated against our FIX 4.2 /
FIX 4.4 dictionaries (``sim/fix/spec``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.clock import VirtualClock, minutes
from sim.venue import Venue
from sim.venue_config import venue_config_from_dict
from sim.venue_events import StatusChange
from tests.sim.venue_wire import T, Wire, check_valid, f

VERSIONS = ["FIX.4.4", "FIX.4.2"]
SPEC = Path(__file__).resolve().parents[2] / "sim" / "fix" / "spec"


def make_venue(symbols=("PRB",), phases=None, clock=None):
    clock = clock or VirtualClock()
    data = {"venue": {"begin_strings": VERSIONS},
            "instrument": [{"symbol": s, "tick_size": "0.01", "reference_price": "100.00"} for s in symbols],
            "firm": [{"id": "A", "drop_copy": ["A-DC"]}, {"id": "B"}]}
    if phases:
        data["phases"] = phases
    venue = Venue(venue_config_from_dict(data), now_ns=clock.now_ns,
                  schedule=lambda delay, fn: clock.call_later(delay, fn))
    return venue, clock


def logged_on(venue, *clients):
    wires = [Wire(venue, comp_id, begin) for comp_id, begin in clients]
    for wire in wires:
        wire.connect_and_logon()
    return wires


def statuses(wire):
    """(MsgType, status code) of every f and h received, in order."""
    return [(m.msg_type().decode(), f(m, 326) or f(m, 340)) for m in wire.unread() if m.msg_type() in (b"f", b"h")]


def test_every_status_code_the_gateway_can_send_is_in_that_versions_enumeration():
    from sim.venue_gateway import (
        _SECURITY_TRADING_STATUS,
        _SECURITY_TRADING_STATUS_42,
        _TRAD_SES_STATUS,
        _UNKNOWN_SECURITY_TRADING_STATUS,
    )

    for begin, table in (("FIX.4.4", _SECURITY_TRADING_STATUS), ("FIX.4.2", _SECURITY_TRADING_STATUS_42)):
        fields = json.loads((SPEC / f"{begin.replace('.', '')}.json").read_text())["fields"]
        assert {v.decode() for v in table.values()} | {_UNKNOWN_SECURITY_TRADING_STATUS.decode()} <= set(
            fields["326"][2]), begin
        assert {v.decode() for v in _TRAD_SES_STATUS.values()} <= set(fields["340"][2]), begin
    assert "21" not in json.loads((SPEC / "FIX42.json").read_text())["fields"]["326"][2]  # why 4.2 differs


@pytest.mark.parametrize("begin", VERSIONS)
def test_halting_the_only_symbol_halts_the_session_and_the_resume_reopens_it_with_one_message(begin):
    venue, _ = make_venue()
    a, dc = logged_on(venue, ("A", begin), ("A-DC", begin))
    venue.halt("PRB", reason="news pending")
    assert statuses(a) == [("f", "2"), ("h", "1")]
    venue.resume("PRB")
    # f: the re-opening auction, then continuous; h once: open (no flicker through pre-open).
    assert statuses(a) == [("f", "21" if begin == "FIX.4.4" else "18"), ("f", "17"), ("h", "2")]
    h = a.of_type("h")
    assert [(f(m, 336), f(m, 325)) for m in h] == [("1", "Y"), ("1", "Y")]
    assert "halted" in f(h[0], 58)
    check_valid(a.inbox, begin)
    assert not dc.of_type("f") and not dc.of_type("h")  # status goes to order entry, not to drop copies


def test_halting_one_symbol_of_two_changes_its_security_status_but_not_the_session():
    venue, _ = make_venue(symbols=("PRB", "XYZ"))
    (a,) = logged_on(venue, ("A", "FIX.4.4"))
    venue.halt("PRB")
    assert statuses(a) == [("f", "2")]
    venue.halt("XYZ")
    assert statuses(a) == [("f", "2"), ("h", "1")]
    venue.resume("XYZ")
    assert statuses(a) == [("f", "21"), ("f", "17"), ("h", "2")]


@pytest.mark.parametrize("begin", VERSIONS)
def test_a_scheduled_day_goes_pre_open_open_pre_close_closed_on_the_wire(begin):
    # The virtual clock starts at 09:30:00 UTC: closed until the pre-open a minute later.
    venue, clock = make_venue(phases={"always_open": False, "pre_open": "09:31:00", "open": "09:32:00",
                                      "closing": "09:33:00", "close": "09:34:00"})
    a, b = logged_on(venue, ("A", begin), ("B", begin))
    assert venue.gateway.session_phase == "closed"
    call = "21" if begin == "FIX.4.4" else "18"
    clock.advance(minutes(1))
    assert statuses(a) == [("f", call), ("h", "4")]
    # An order collected in the pre-open trades in the opening auction.
    a.send("D", [(11, "a1"), (21, 1), (55, "PRB"), (54, 2), (60, T), (38, 10), (40, 2), (44, "100.00"), (59, 0)])
    b.send("D", [(11, "b1"), (21, 1), (55, "PRB"), (54, 1), (60, T), (38, 4), (40, 2), (44, "100.01"), (59, 0)])
    clock.advance(minutes(1))
    assert statuses(a) == [("f", call), ("f", "17"), ("h", "2")]
    clock.advance(minutes(1))
    assert statuses(a) == [("f", call), ("h", "5")]  # the closing call (previously fell back to 17)
    clock.advance(minutes(1))
    assert statuses(a) == [("f", call), ("f", "18"), ("h", "3")]
    assert [f(m, 340) for m in b.of_type("h")] == ["4", "2", "5", "3"]
    assert [f(m, 150) for m in b.of_type("8")][-1] in ("F", "2")  # filled in the opening auction
    check_valid(a.inbox, begin)
    check_valid(b.inbox, begin)


@pytest.mark.parametrize("begin", VERSIONS)
def test_a_trading_session_status_request_is_answered_with_the_current_status(begin):
    venue, _ = make_venue()
    (a,) = logged_on(venue, ("A", begin))
    a.send("g", [(335, "q1"), (263, 0)])
    reply = a.next("h")
    assert (f(reply, 335), f(reply, 336), f(reply, 340), f(reply, 325)) == ("q1", "1", "2", "N")
    venue.halt("PRB")
    a.send("g", [(335, "q2"), (263, 0)])
    assert f(a.of_type("h")[-1], 340) == "1" and f(a.of_type("h")[-1], 335) == "q2"
    check_valid(a.inbox, begin)


def test_a_phase_the_gateway_does_not_know_is_unknown_not_ready_to_trade():
    venue, _ = make_venue()
    (a,) = logged_on(venue, ("A", "FIX.4.4"))
    venue.gateway._broadcast_status(StatusChange("PRB", "martian", "test", "an unheard-of phase"))
    assert statuses(a) == [("f", "20")]


def test_delisting_the_only_symbol_closes_the_session():
    venue, _ = make_venue(symbols=("PRB", "XYZ"))
    (a,) = logged_on(venue, ("A", "FIX.4.4"))
    venue.remove_instrument("XYZ")
    assert statuses(a) == [("f", "18")]  # PRB still trades: the venue stays open
    venue.remove_instrument("PRB")
    assert statuses(a) == [("f", "18"), ("h", "3")]
    check_valid(a.inbox, "FIX.4.4")


def test_a_timed_change_to_a_symbol_delisted_meanwhile_is_recorded_as_dropped_not_raised():
    venue, clock = make_venue(symbols=("PRB", "XYZ"))
    venue.change_instrument("XYZ", tick_size="0.05", at_ns=clock.now_ns() + minutes(1), actor="admin:ops")
    venue.remove_instrument("XYZ")
    clock.advance(minutes(2))  # the timer fires on a symbol that is gone: nothing may raise out of it
    dropped = venue.changes[-1]
    assert (dropped.what, dropped.target, dropped.actor) == ("change_dropped", "XYZ", "admin:ops")
    assert "no longer listed" in dropped.reason
