"""Exchange core: report sequences per order type, cancel/replace rules, firm isolation."""

from __future__ import annotations

from sim.exchange import Exchange
from sim.instruments import Instrument, InstrumentTable
from sim.venue_events import BookChange, CancelReject, ExecReport, ExecType, OrdStatus, OrdType, TimeInForce


def _exchange() -> Exchange:
    return Exchange(InstrumentTable([Instrument.create("PRB", "0.01", "100.00")]), now_ns=lambda: 0)


def _reports(events, owner=None):
    return [e for e in events if isinstance(e, ExecReport) and (owner is None or e.owner == owner)]


def _new(ex, owner, cl, side, qty, price=None, ord_type=OrdType.LIMIT, tif=TimeInForce.DAY):
    return ex.new_order(firm=owner, owner=owner, cl_ord_id=cl, symbol="PRB", side=side, qty=qty,
                        ord_type=ord_type, price=price, time_in_force=tif)


def test_a_resting_limit_order_is_acked_new_with_full_leaves():
    ex = _exchange()
    [ack, change] = _new(ex, "A", "a1", 1, 10, 10001)
    assert ack.exec_type == ExecType.NEW and ack.ord_status == OrdStatus.NEW and ack.leaves_qty == 10
    assert change == BookChange("PRB", ((1, 10001, 10),), ())


def test_a_crossing_order_trades_at_the_resting_price_with_one_report_per_side():
    ex = _exchange()
    _new(ex, "A", "a1", 2, 5, 10001)
    events = _new(ex, "B", "b1", 1, 8, 10003)
    taker = _reports(events, "B")
    maker = _reports(events, "A")
    assert [r.exec_type for r in taker] == [ExecType.NEW, ExecType.TRADE]
    assert taker[1].last_px == 10001 and taker[1].last_qty == 5 and taker[1].ord_status == OrdStatus.PARTIALLY_FILLED
    assert taker[1].leaves_qty == 3 and taker[1].cum_qty == 5
    assert maker[0].ord_status == OrdStatus.FILLED and maker[0].leaves_qty == 0
    assert len({r.exec_id for r in _reports(events)}) == 3


def test_ioc_remainder_is_cancelled_at_once_with_leaves_zero():
    ex = _exchange()
    _new(ex, "A", "a1", 2, 5, 10001)
    taker = _reports(_new(ex, "B", "b1", 1, 8, 10001, tif=TimeInForce.IOC), "B")
    assert [r.exec_type for r in taker] == [ExecType.NEW, ExecType.TRADE, ExecType.CANCELED]
    assert taker[-1].leaves_qty == 0 and taker[-1].cum_qty == 5


def test_fok_that_cannot_fill_trades_nothing():
    ex = _exchange()
    _new(ex, "A", "a1", 2, 5, 10001)
    events = _new(ex, "B", "b1", 1, 8, 10001, tif=TimeInForce.FOK)
    assert [r.exec_type for r in _reports(events)] == [ExecType.NEW, ExecType.CANCELED]
    assert ex.books["PRB"].best_ask().qty == 5


def test_market_order_rest_is_cancelled_not_rested():
    ex = _exchange()
    _new(ex, "A", "a1", 2, 5, 10001)
    taker = _reports(_new(ex, "B", "b1", 1, 8, ord_type=OrdType.MARKET, tif=None), "B")
    assert [r.exec_type for r in taker] == [ExecType.NEW, ExecType.TRADE, ExecType.CANCELED]
    assert ex.books["PRB"].best_bid() is None


def test_cancel_reports_the_cancel_clordid_and_the_original_as_origclordid():
    ex = _exchange()
    _new(ex, "A", "a1", 1, 10, 10000)
    [report, _] = ex.cancel(firm="A", owner="A", cl_ord_id="a2", orig_cl_ord_id="a1")
    assert report.exec_type == ExecType.CANCELED and report.cl_ord_id == "a2" and report.orig_cl_ord_id == "a1"
    [reject] = ex.cancel(firm="A", owner="A", cl_ord_id="a3", orig_cl_ord_id="a2")
    assert isinstance(reject, CancelReject) and reject.reason.code == "too_late_to_cancel"


def test_replace_down_in_quantity_keeps_priority_and_up_loses_it():
    ex = _exchange()
    _new(ex, "A", "a1", 1, 10, 10000)
    _new(ex, "C", "c1", 1, 10, 10000)
    [rep, _] = ex.replace(firm="A", owner="A", cl_ord_id="a2", orig_cl_ord_id="a1", order_id=None, symbol="PRB",
                          side=1, qty=6, price=10000)
    assert rep.exec_type == ExecType.REPLACED and rep.leaves_qty == 6 and rep.order_qty == 6
    first = _reports(_new(ex, "B", "b1", 2, 6, 10000), "A")
    assert first and first[0].ord_status == OrdStatus.FILLED  # A kept its place ahead of C


def test_replace_that_crosses_trades_at_once():
    ex = _exchange()
    _new(ex, "A", "a1", 2, 5, 10005)
    _new(ex, "B", "b1", 1, 5, 10000)
    events = ex.replace(firm="B", owner="B", cl_ord_id="b2", orig_cl_ord_id="b1", order_id=None, symbol="PRB",
                        side=1, qty=5, price=10005)
    assert [r.exec_type for r in _reports(events, "B")] == [ExecType.REPLACED, ExecType.TRADE]


def test_another_firms_order_cannot_be_cancelled_even_by_order_id():
    ex = _exchange()
    [ack, _] = _new(ex, "A", "a1", 1, 10, 10000)
    [reject] = ex.cancel(firm="B", owner="B", cl_ord_id="x", orig_cl_ord_id="a1", order_id=ack.order_id)
    assert isinstance(reject, CancelReject) and reject.reason.code == "unknown_order" and reject.order_id is None


def test_duplicate_clordid_is_rejected_and_unknown_symbol_too():
    ex = _exchange()
    _new(ex, "A", "a1", 1, 10, 10000)
    [dup] = _new(ex, "A", "a1", 1, 10, 10000)
    assert dup.exec_type == ExecType.REJECTED and dup.reject.code == "duplicate_clordid"
    [bad] = ex.new_order(firm="A", owner="A", cl_ord_id="z", symbol="NOPE", side=1, qty=1, ord_type=OrdType.LIMIT,
                         price=1)
    assert bad.reject.code == "unknown_symbol" and bad.reject.text


def test_mass_cancel_only_touches_the_requesting_firm():
    ex = _exchange()
    _new(ex, "A", "a1", 1, 10, 10000)
    _new(ex, "A", "a2", 2, 10, 10010)
    _new(ex, "B", "b1", 1, 10, 9990)
    events = ex.mass_cancel(firm="A")
    assert {r.owner for r in _reports(events)} == {"A"} and len(_reports(events)) == 2
    assert ex.books["PRB"].best_bid().price == 9990
