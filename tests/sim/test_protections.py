"""Venue controls: each fires exactly past its threshold (tests below, at and above), with a reason and a sentence."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from test_phases import Rig, _statuses

from sim.clock import VirtualClock, millis, seconds
from sim.instruments import Instrument
from sim.phases import Phase
from sim.protections import ProtectionsConfig, ProtectionsError, band_width
from sim.venue import Venue
from sim.venue_config import VenueConfigError, load_venue_config, venue_config_from_dict
from sim.venue_events import CancelReject, ExecReport, ExecType, OrdType, StatusChange, TimeInForce

ROOT = Path(__file__).resolve().parents[2]


def _code(events: list) -> str | None:
    """The reject code of a command's first report (None when it was accepted)."""
    first = events[0]
    reason = first.reason if isinstance(first, CancelReject) else first.reject
    return reason.code if reason is not None and (isinstance(first, CancelReject)
                                                  or first.exec_type == ExecType.REJECTED) else None


def _trades(events: list) -> list[tuple[str, int, int]]:
    return [(e.firm, e.last_qty, e.last_px) for e in events
            if isinstance(e, ExecReport) and e.exec_type == ExecType.TRADE]


# -- MESSAGE THROTTLE ----------------------------------------------------------------------------

def test_messages_up_to_the_window_limit_pass_and_the_next_one_is_rejected_with_a_sentence():
    rig = Rig(protections={"messages_per_window": 5, "window_ms": 3000})
    results = [_code(rig.order("A", 1, 1, 9990)) for _ in range(6)]
    assert results == [None, None, None, None, None, "throttle"]  # 4 below, 5 at, 6 above
    assert "6 messages in 3000 ms exceeds the limit of 5" in rig.protections.fired[-1].text


def test_the_throttle_window_slides_so_a_message_exactly_one_window_old_no_longer_counts():
    rig = Rig(protections={"messages_per_window": 2, "window_ms": 3000})
    rig.order("A", 1, 1, 9990)
    rig.clock.advance(millis(1000))
    rig.order("A", 1, 1, 9990)
    rig.clock.advance(millis(2000) - 1)
    assert _code(rig.order("A", 1, 1, 9990)) == "throttle"  # the first is 1 ns short of a window old
    rig.clock.advance(millis(1000) + 1)
    assert _code(rig.order("A", 1, 1, 9990)) is None        # now only the last two in the window


def test_the_throttle_counts_per_session_so_another_session_is_unaffected():
    rig = Rig(protections={"messages_per_window": 1})
    rig.order("A", 1, 1, 9990)
    assert _code(rig.order("A", 1, 1, 9990)) == "throttle"
    assert _code(rig.order("B", 1, 1, 9990)) is None


def test_cancels_count_and_above_the_limit_get_an_order_cancel_reject_with_the_reason():
    rig = Rig(protections={"messages_per_window": 2})
    rig.order("A", 1, 1, 9990)
    events = rig.exchange.cancel(firm="A", owner="A", cl_ord_id="x", orig_cl_ord_id="A1")
    assert events[0].exec_type == ExecType.CANCELED  # message 2: at the limit
    refused = rig.exchange.cancel(firm="A", owner="A", cl_ord_id="y", orig_cl_ord_id="A1")
    assert isinstance(refused[0], CancelReject) and refused[0].reason.code == "throttle"


def test_above_the_logout_limit_the_message_is_rejected_and_then_the_session_logged_out():
    logouts: list[tuple[str, str]] = []
    rig = Rig(protections={"messages_per_window": 2, "logout_messages_per_window": 3})
    rig.protections.logout = lambda owner, text: logouts.append((owner, text))
    assert [_code(rig.order("A", 1, 1, 9990)) for _ in range(3)] == [None, None, "throttle"]
    rig.clock.advance(0)
    assert logouts == []
    assert _code(rig.order("A", 1, 1, 9990)) == "throttle_logout"
    assert logouts == []  # not before the reject has gone out
    rig.clock.advance(0)
    assert logouts == [("A", "Message throttle: 4 messages in 3000 ms exceeds the logout limit of 3; "
                              "session logged out")]


# -- ORDER SIZE ----------------------------------------------------------------------------------

def test_max_order_qty_accepts_the_limit_and_rejects_one_lot_more():
    rig = Rig(protections={"max_order_qty": 100})
    assert [_code(rig.order("A", 1, q, 9990)) for q in (99, 100, 101)] == [None, None, "max_order_qty"]
    assert rig.protections.fired[-1].text == "Order quantity 101 exceeds the maximum of 100 for PRB"


def test_max_order_value_is_exact_in_integer_tick_units_and_instrument_overrides_win():
    rig = Rig(protections={"max_order_value": "1000.00"})
    assert _code(rig.order("A", 1, 10, 9999)) is None      # 999.90
    assert _code(rig.order("A", 1, 10, 10000)) is None     # 1000.00: at the limit
    assert _code(rig.order("A", 1, 10, 10001)) == "max_order_value"  # 1000.10
    assert "Order value 1000.10 USD exceeds the maximum of 1000.00" in rig.protections.fired[-1].text
    rig = Rig(protections={"max_order_value": "1000.00", "instrument": {"PRB": {"max_order_qty": 30}}})
    assert _code(rig.order("A", 1, 30, 10001)) is None     # 3000.30: the PRB table replaces the venue's limits
    assert _code(rig.order("A", 1, 31, 10001)) == "max_order_qty"


def test_a_market_orders_value_is_measured_at_the_reference_price():
    rig = Rig(protections={"max_order_value": "1000.00"})
    assert _code(rig.order("A", 1, 10, None)) is None
    assert _code(rig.order("A", 1, 11, None)) == "max_order_value"


# -- PRICE BANDS ---------------------------------------------------------------------------------

@pytest.mark.parametrize("reference, tick, tier, doubled, width", [
    (10000, "0.01", 1, False, 500),   # $100, Tier 1: 5 %
    (10000, "0.01", 2, False, 1000),  # Tier 2: 10 %
    (301, "0.01", 1, False, 15),      # $3.01 is above $3.00: 5 %
    (300, "0.01", 1, False, 60),      # $3.00: 20 %
    (75, "0.01", 1, False, 15),       # $0.75: 20 %
    (74, "0.01", 1, False, 15),       # $0.74: lesser of $0.15 and 75 % (55)
    (10, "0.01", 1, False, 7),        # $0.10: 75 %
    (10000, "0.01", 1, True, 1000),   # open/close window: doubled
    (74, "0.01", 1, True, 30),        # doubled $0.15
    (20000, "0.25", 1, False, 1000),  # $5000 on a 0.25 tick
])
def test_luld_band_widths_follow_the_price_tiers(reference, tick, tier, doubled, width):
    assert band_width(reference, Decimal(tick), tier, doubled=doubled) == width


def test_cme_style_band_accepts_a_price_at_the_band_and_rejects_one_tick_through_it():
    rig = Rig(protections={"price_bands": "reject", "band_bps": 100})  # +-1 % of 100.00 = +-100 ticks
    assert [_code(rig.order("A", 1, 1, p)) for p in (10099, 10100, 10101)] == [None, None, "price_band"]
    assert [_code(rig.order("B", 2, 1, p)) for p in (9901, 9900, 9899)] == [None, None, "price_band"]
    assert _code(rig.order("A", 1, 1, 9000)) is None  # a passive bid far below the band is harmless
    assert "outside the price band 99.00 - 101.00" in rig.protections.fired[-1].text


def test_luld_rejects_a_market_order_that_would_trade_beyond_the_band():
    rig = Rig(protections={"price_bands": "luld"})  # Tier 1: 95.00 - 105.00
    rig.order("B", 2, 5, 10500)
    rig.order("B", 2, 5, 10501)  # a passive ask beyond the band may rest
    assert _code(rig.order("A", 1, 5, None)) is None and _code(rig.order("A", 1, 1, None)) == "luld_band"


# -- LIMIT STATE -> PAUSE -> RE-OPENING AUCTION --------------------------------------------------

def test_a_bid_at_the_upper_band_is_a_limit_state_and_cancelling_it_ends_the_limit_state():
    rig = Rig(protections={"price_bands": "luld"})
    events = rig.order("A", 1, 5, 10500)
    assert _statuses(events) == [("continuous", "limit_up")]
    assert "limit up" in events[-1].text
    events = rig.exchange.cancel(firm="A", owner="A", cl_ord_id="c", orig_cl_ord_id="A1")
    assert _statuses(events) == [("continuous", "limit_state_exit")]
    assert _statuses(rig.order("A", 1, 5, 10499)) == []  # one tick inside the band: no limit state


def test_a_limit_state_lasting_15_s_pauses_trading_5_minutes_then_reopens_by_auction():
    rig = Rig(protections={"price_bands": "luld"})
    rig.order("B", 2, 5, 9500)  # ask at the lower band: limit down
    rig.clock.advance(seconds(15) - 1)
    assert rig.phases.phase("PRB") == Phase.CONTINUOUS
    rig.clock.advance(1)
    assert rig.phases.phase("PRB") == Phase.PAUSED
    assert _statuses(rig.emitted) == [("paused", "luld_pause")]
    assert "limit state lasted 15 s" in rig.emitted[0].text
    rig.order("A", 1, 3, 9600)  # held for the re-opening auction
    assert _trades(rig.emitted) == []
    rig.clock.advance(seconds(300) - 1)
    assert rig.phases.phase("PRB") == Phase.PAUSED
    rig.clock.advance(1)
    assert rig.phases.phase("PRB") == Phase.CONTINUOUS
    assert _statuses(rig.emitted)[1:] == [("auction", "luld_pause_reopen"), ("continuous", "luld_pause_reopen_done")]
    assert _trades(rig.emitted) == [("A", 3, 9600), ("B", 3, 9600)]  # max volume, nearest the reference
    assert rig.phases.reference["PRB"] == 9600  # the new band centre
    assert [f.code for f in rig.protections.fired] == ["limit_down", "luld_pause"]


def test_a_limit_state_that_recovers_one_nanosecond_before_15_s_does_not_pause():
    rig = Rig(protections={"price_bands": "luld"})
    rig.order("B", 2, 5, 9500)
    rig.clock.advance(seconds(15) - 1)
    rig.order("A", 1, 5, 9500)  # takes out the offer at the band
    rig.clock.advance(seconds(600))
    assert rig.phases.phase("PRB") == Phase.CONTINUOUS and rig.emitted == []


# -- STOP LOGIC ----------------------------------------------------------------------------------

def _ladder(rig: Rig) -> None:
    for price in range(10000, 10006):  # asks 100.00 .. 100.05, 1 lot each
        rig.order("B", 2, 1, price)


def test_a_sweep_moving_the_price_exactly_the_stop_logic_threshold_trades_normally():
    rig = Rig(protections={"stop_logic_ticks": 4})
    _ladder(rig)
    events = rig.order("A", 1, 5, 10004)  # 100.00 -> 100.04: 4 ticks
    assert len(_trades(events)) == 10 and rig.phases.phase("PRB") == Phase.CONTINUOUS


def test_a_sweep_one_tick_beyond_the_threshold_pauses_5_s_and_the_order_joins_the_reopening():
    rig = Rig(protections={"stop_logic_ticks": 4})
    _ladder(rig)
    events = rig.order("A", 1, 6, 10005)  # would go 100.00 -> 100.05: 5 ticks
    assert _trades(events) == []
    assert events[0].exec_type == ExecType.NEW
    assert _statuses(events) == [("paused", "stop_logic")]
    assert rig.protections.fired[-1].code == "stop_logic"
    rig.clock.advance(seconds(5) - 1)
    assert rig.phases.phase("PRB") == Phase.PAUSED
    rig.clock.advance(1)
    assert rig.phases.phase("PRB") == Phase.CONTINUOUS
    assert len(_trades(rig.emitted)) == 12  # the re-opening auction crossed all six asks at one price
    assert {px for _f, _q, px in _trades(rig.emitted)} == {10005}


# -- KILL SWITCH ---------------------------------------------------------------------------------

def test_a_firm_kill_switch_cancels_every_open_order_with_a_reason_and_blocks_new_ones():
    rig = Rig()
    rig.order("A", 1, 1, 9990)
    rig.order("A", 2, 1, 10010)
    rig.order("B", 1, 1, 9980)
    events = rig.protections.kill(rig.exchange, firm="A", reason="runaway algo")
    cancels = [e for e in events if isinstance(e, ExecReport)]
    assert [(e.firm, e.exec_type) for e in cancels] == [("A", ExecType.CANCELED)] * 2
    assert all("runaway algo" in e.reject.text for e in cancels)
    assert _code(rig.order("A", 1, 1, 9990)) == "kill_switch"
    assert _code(rig.order("B", 1, 1, 9990)) is None
    rig.protections.release(firm="A")
    assert _code(rig.order("A", 1, 1, 9990)) is None


def test_a_session_kill_switch_leaves_the_firms_other_sessions_trading():
    rig = Rig()
    rig.exchange.new_order(firm="A", owner="A-2", cl_ord_id="x", symbol="PRB", side=1, qty=1,
                           ord_type=OrdType.LIMIT,
                           price=9990, time_in_force=TimeInForce.DAY)
    rig.order("A", 1, 1, 9991)
    events = rig.protections.kill(rig.exchange, owner="A-2")
    assert [e.owner for e in events if isinstance(e, ExecReport)] == ["A-2"]
    assert _code(rig.order("A", 1, 1, 9990)) is None


# -- REPEATED EXECUTIONS AND SELF-TRADE PREVENTION -----------------------------------------------

def test_the_execution_after_the_limit_blocks_the_firm_on_that_instrument_until_released():
    rig = Rig(protections={"max_executions": 3, "execution_window_ms": 1000})
    for _ in range(3):
        rig.order("B", 2, 1, 10000)
        rig.order("A", 1, 1, 10000)  # 3 executions: at the limit
    assert _code(rig.order("A", 1, 1, 9000)) is None
    rig.order("B", 2, 1, 10000)
    rig.order("A", 1, 1, 10000)  # the 4th execution
    assert _code(rig.order("A", 1, 1, 9000)) == "execution_throttle"
    assert _code(rig.order("A", 1, 1, 9000)) == "execution_throttle"  # only staff can re-enable
    rig.protections.release(firm="A")
    assert _code(rig.order("A", 1, 1, 9000)) is None


def test_the_firms_self_trade_prevention_mode_reaches_the_book():
    rig = Rig(protections={"stp_firms": {"A": "cancel_newest"}})
    rig.order("A", 2, 1, 10000)
    events = rig.order("A", 1, 1, 10000)
    assert _trades(events) == []
    assert [e.exec_type for e in events if isinstance(e, ExecReport)] == [ExecType.NEW, ExecType.CANCELED]
    rig.order("B", 2, 1, 10000)
    assert _trades(rig.order("B", 1, 2, 10000)) == [  # STP is off for B: it trades with itself
        ("B", 1, 10000), ("A", 1, 10000), ("B", 1, 10000), ("B", 1, 10000)]


# -- CONFIGURATION -------------------------------------------------------------------------------

@pytest.mark.parametrize("table, message", [
    ({"max_order_qty": -1}, "max_order_qty must be between 0 and"),
    ({"max_order_qty": 1.5}, "max_order_qty must be an integer"),
    ({"max_order_value": 1000}, "max_order_value must be a decimal string"),
    ({"price_bands": "on"}, "price_bands must be"),
    ({"window_ms": 0}, "window_ms must be between 1 and"),
    ({"messages_per_window": 10, "logout_messages_per_window": 5}, "must not be below messages_per_window"),
    ({"self_trade_prevention": "both"}, "self_trade_prevention must be one of"),
    ({"max_qty": 1}, "unknown key 'max_qty'"),
    ({"instrument": {"PRB": {"max_qty": 1}}}, "instrument.PRB: unknown key 'max_qty'"),
])
def test_a_bad_protections_value_is_refused_naming_the_key_and_the_reason(table, message):
    with pytest.raises(ProtectionsError) as info:
        ProtectionsConfig.from_table(table)
    assert message in str(info.value)


def test_the_venue_config_refuses_protections_naming_unknown_firms_or_symbols():
    base = {"instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
            "firm": [{"id": "A"}]}
    with pytest.raises(VenueConfigError, match=r"^v.toml: \[protections\] kill_switch_firms: no \[\[firm\]\]"):
        venue_config_from_dict({**base, "protections": {"kill_switch_firms": ["Z"]}}, source="v.toml")
    with pytest.raises(VenueConfigError, match=r"\[protections.instrument.XYZ\]: no \[\[instrument\]\]"):
        venue_config_from_dict({**base, "protections": {"instrument": {"XYZ": {}}}}, source="v.toml")
    with pytest.raises(VenueConfigError, match=r"\[protections\] band_bps must be an integer"):
        venue_config_from_dict({**base, "protections": {"band_bps": "1%"}}, source="v.toml")


# -- ADMIN API ON THE VENUE ----------------------------------------------------------------------

def test_admin_actions_take_effect_and_are_recorded_as_changes():
    clock = VirtualClock()
    venue = Venue(load_venue_config(ROOT / "examples" / "venue-probe.toml"), now_ns=clock.now_ns,
                  schedule=lambda delay, fn: clock.call_later(delay, fn))
    ex = venue.exchange
    events = venue.halt("PRB", reason="news pending")
    assert isinstance(events[0], StatusChange) and venue.phases.phase("PRB") == Phase.HALTED
    venue.resume("PRB")
    venue.kill_switch(firm="A", reason="drill")
    venue.release_kill_switch(firm="A")
    ex.new_order(firm="B", owner="B", cl_ord_id="b1", symbol="PRB", side=1, qty=1,
                 ord_type=OrdType.LIMIT, price=9990,
                 time_in_force=TimeInForce.DAY)
    venue.change_instrument("PRB", tick_size="0.05", at_ns=clock.now_ns() + seconds(10), reason="tick regime")
    assert ex.instruments.get("PRB").tick_size == Decimal("0.01")
    clock.advance(seconds(10))
    assert ex.instruments.get("PRB").tick_size == Decimal("0.05") and ex.levels("PRB") == {}
    assert venue.phases.reference["PRB"] == 2000  # 100.00 on the 0.05 grid
    venue.add_instrument(Instrument.create("NEW", "0.01", "10.00"))
    assert venue.phases.phase("NEW") == Phase.CONTINUOUS and "NEW" in ex.books
    venue.remove_instrument("NEW", reason="delisted")
    assert "NEW" not in ex.instruments
    assert [(c.what, c.target, c.old, c.new) for c in venue.changes] == [
        ("halt", "PRB", "continuous", "halted"), ("resume", "PRB", "halted", "continuous"),
        ("kill_switch", "A", "off", "on"), ("release_kill_switch", "A", "on", "off"),
        ("tick_size", "PRB", "0.01", "0.05"),
        ("add_instrument", "NEW", "", repr(Instrument.create("NEW", "0.01", "10.00"))),
        ("remove_instrument", "NEW", repr(Instrument.create("NEW", "0.01", "10.00")), "")]
    assert venue.changes[4].time_ns == clock.start_ns + seconds(10) and venue.changes[0].reason == "news pending"
