"""Call auctions: the uncross price rules, allocation, and the exchange's call/uncross hooks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.auction import CallBook, choose_price, executable_volume
from sim.book_events import Accepted, OrderType, Reason, Rejected, Side
from sim.exchange import Exchange
from sim.instruments import Instrument, InstrumentTable
from sim.venue_events import BookChange, ExecReport, ExecType, OrdStatus, OrdType, TimeInForce

BUY, SELL = Side.BUY, Side.SELL


def _call(*orders: tuple[Side, int | None, int]) -> CallBook:
    call = CallBook()
    for oid, (side, price, qty) in enumerate(orders, start=1):
        kind = OrderType.MARKET if price is None else OrderType.LIMIT
        assert type(call.submit(oid, side, qty, price, kind=kind)[0]) is Accepted
    return call


# -- PRICE RULES ---------------------------------------------------------------------------------

def test_uncross_picks_the_price_with_the_largest_executable_volume():
    # at 100: demand 10+5, supply 4+8 -> 12; at 101 demand 10, supply 12 -> 10; at 99 demand 15, supply 4
    price, volume = choose_price([(101, 10), (100, 5)], [(99, 4), (100, 8)], reference=101)
    assert (price, volume) == (100, 12)


def test_equal_volumes_are_decided_by_the_smallest_imbalance():
    # 100 and 101 both execute 10; imbalance is |15-10| = 5 at 100 and |10-10| = 0 at 101.
    price, volume = choose_price([(101, 10), (100, 5)], [(100, 10)], reference=100)
    assert (price, volume) == (101, 10)


def test_equal_imbalances_are_decided_by_the_price_nearest_the_reference():
    bids, asks = [(103, 10)], [(99, 10)]
    assert choose_price(bids, asks, reference=102) == (102, 10)
    assert choose_price(bids, asks, reference=110) == (103, 10)
    assert choose_price(bids, asks, reference=90) == (99, 10)


def test_when_prices_either_side_of_the_reference_tie_the_reference_itself_is_chosen():
    # 99 and 101 each execute 5 with imbalance 5; at 100 the volume is the same and the imbalance 0.
    bids, asks = [(101, 5), (99, 5)], [(99, 5), (101, 5)]
    assert choose_price(bids, asks, reference=100) == (100, 5)


def test_only_market_orders_uncross_at_the_reference_price():
    assert choose_price([(None, 7)], [(None, 5)], reference=1234) == (1234, 5)


def test_nothing_trades_when_the_call_does_not_cross():
    assert choose_price([(99, 10)], [(101, 10)], reference=100) == (None, 0)
    result = _call((BUY, 99, 10), (SELL, 101, 10)).uncross(100)
    assert result.price is None and result.fills == () and len(result.rest) == 2


# -- ALLOCATION ----------------------------------------------------------------------------------

def test_allocation_follows_market_first_then_price_then_time_priority():
    call = _call((BUY, 101, 5), (BUY, 102, 5), (BUY, 101, 5), (BUY, None, 2), (SELL, 100, 9))
    result = call.uncross(reference=100)
    assert result.volume == 9
    assert [(b, q) for b, _s, q in result.fills] == [(4, 2), (2, 5), (1, 2)]
    assert [(o.order_id, o.qty) for o in result.rest] == [(1, 3), (3, 5)]


def test_unfilled_market_orders_are_cancelled_after_the_uncross():
    result = _call((BUY, None, 10), (SELL, 100, 4)).uncross(reference=100)
    assert result.fills == ((1, 2, 4),)
    assert [(o.order_id, o.qty) for o in result.cancel] == [(1, 6)]


def test_ioc_fok_and_post_only_orders_are_refused_during_a_call():
    call = CallBook()
    for oid, kind in enumerate((OrderType.IOC, OrderType.FOK, OrderType.POST_ONLY), start=1):
        event = call.submit(oid, BUY, 1, 100, kind=kind)[0]
        assert type(event) is Rejected and event.reason == Reason.BAD_ORDER_TYPE
    assert len(call) == 0


def test_replace_in_a_call_keeps_priority_only_for_a_smaller_quantity_at_the_same_price():
    call = _call((BUY, 100, 5), (BUY, 100, 5))
    assert call.replace(1, 3)[0].priority_kept is True
    assert [o.order_id for o in call.orders()] == [1, 2]
    assert call.replace(1, 4, 100)[0].priority_kept is False
    assert [o.order_id for o in call.orders()] == [2, 1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([BUY, SELL]),
                          st.one_of(st.integers(95, 105), st.none()),
                          st.integers(1, 20)), max_size=25),
       st.integers(93, 107))
def test_uncross_never_leaves_a_crossed_book_and_its_volume_is_maximal(orders, reference):
    original = {oid: qty for oid, (_side, _price, qty) in enumerate(orders, start=1)}
    result = _call(*orders).uncross(reference)
    bids = [(p, q) for s, p, q in orders if s == BUY]
    asks = [(p, q) for s, p, q in orders if s == SELL]
    for price in range(90, 111):  # every price, not only the candidates
        assert min(executable_volume(bids, asks, price)) <= result.volume
    assert sum(q for _b, _s, q in result.fills) == result.volume
    if result.price is not None:
        assert min(executable_volume(bids, asks, result.price)) == result.volume
    rest_bids = [o.price for o in result.rest if o.side == BUY]
    rest_asks = [o.price for o in result.rest if o.side == SELL]
    if rest_bids and rest_asks:
        assert max(rest_bids) < min(rest_asks)
    filled: dict[int, int] = {}
    for b, s, q in result.fills:
        assert q > 0
        filled[b] = filled.get(b, 0) + q
        filled[s] = filled.get(s, 0) + q
    left = {o.order_id: o.qty for o in result.rest + result.cancel}
    for oid, qty in original.items():
        assert filled.get(oid, 0) + left.get(oid, 0) == qty


# -- EXCHANGE HOOKS ------------------------------------------------------------------------------

def _exchange() -> Exchange:
    return Exchange(InstrumentTable([Instrument.create("PRB", "0.01", "100.00")]), now_ns=lambda: 0)


def _new(ex: Exchange, firm: str, cl: str, side: int, qty: int, price: int | None) -> list:
    return ex.new_order(firm=firm, owner=firm, cl_ord_id=cl, symbol="PRB", side=side, qty=qty,
                        ord_type=OrdType.LIMIT if price else OrdType.MARKET, price=price,
                        time_in_force=TimeInForce.DAY if price else None)


def test_open_call_moves_resting_orders_out_of_the_book_and_publishes_their_levels_gone():
    ex = _exchange()
    _new(ex, "A", "a1", 1, 5, 9990)
    events = ex.open_call("PRB")
    assert events == [BookChange("PRB", ((1, 9990, 0),), ())]
    assert ex.levels("PRB") == {} and 1 in ex.calls["PRB"]


def test_orders_in_a_call_are_acknowledged_but_do_not_match_or_publish():
    ex = _exchange()
    ex.open_call("PRB")
    a = _new(ex, "A", "a1", 1, 5, 10010)
    b = _new(ex, "B", "b1", 2, 5, 9990)
    assert [type(e) for e in a + b] == [ExecReport, ExecReport]
    assert all(e.exec_type == ExecType.NEW for e in a + b)


def test_uncross_reports_each_execution_at_the_auction_price_and_rests_the_remainder():
    ex = _exchange()
    ex.open_call("PRB")
    _new(ex, "A", "a1", 1, 8, 10010)
    _new(ex, "B", "b1", 2, 5, 9990)
    events, price = ex.uncross("PRB", reference=10000)
    assert price == 10000
    trades = [e for e in events if isinstance(e, ExecReport)]
    assert [(e.firm, e.last_qty, e.last_px, e.ord_status) for e in trades] == [
        ("A", 5, 10000, OrdStatus.PARTIALLY_FILLED), ("B", 5, 10000, OrdStatus.FILLED)]
    assert events[-1] == BookChange("PRB", ((1, 10010, 3),), ((10000, 5),))
    assert ex.levels("PRB") == {(1, 10010): 3} and "PRB" not in ex.calls


def test_cancel_during_a_call_takes_the_order_out_of_the_call():
    ex = _exchange()
    ex.open_call("PRB")
    _new(ex, "A", "a1", 1, 8, 10010)
    events = ex.cancel(firm="A", owner="A", cl_ord_id="a2", orig_cl_ord_id="a1")
    assert [e.exec_type for e in events] == [ExecType.CANCELED]
    assert len(ex.calls["PRB"]) == 0
