"""Tests of sim.book: unit tests per order type, STP mode and replace rule, rejects,
a seeded stress test calling _check() after each step, a hypothesis differential
test against tests/sim/reference_book.py, and event-ledger property checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_book import ReferenceBook

from sim.book import OrderBook, touched_levels
from sim.book_events import (
    STP,
    Accepted,
    Cancelled,
    CancelReason,
    OrderType,
    PriceLevel,
    Reason,
    Reduced,
    Rejected,
    Replaced,
    RestingOrder,
    Side,
    Trade,
)

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET, IOC, FOK, POST_ONLY = OrderType


def of(events, cls):
    return [e for e in events if type(e) is cls]


def book_with(*orders):
    """Book holding the given (order_id, side, qty, price[, owner]) limit orders."""
    book = OrderBook()
    for o in orders:
        oid, side, qty, price = o[:4]
        owner = o[4] if len(o) > 4 else None
        events = book.submit(oid, side, qty, price, owner=owner)
        assert type(events[0]) is Accepted and len(events) == 1, events
    return book


def queue_ids(book, side, price):
    """Order ids at a level, front first (through the public lookup, not internals)."""
    lvl = book.level(side, price)
    if lvl is None:
        return []
    key = price if side == BUY else -price
    levels = book._bids if side == BUY else book._asks
    return list(levels[key][1])


# -- LIMIT --

def test_limit_order_that_does_not_cross_rests_and_is_accepted():
    book = OrderBook()
    events = book.submit(1, BUY, 10, 99)
    assert events == [Accepted(1, BUY, LIMIT, 99, 10)]
    assert book.best_bid() == PriceLevel(99, 10, 1)
    assert book.order(1) == RestingOrder(1, BUY, 99, 10, None, STP.NONE, False)
    book._check()


def test_limit_order_that_crosses_trades_at_resting_price_then_rests_remainder():
    book = book_with((1, SELL, 4, 101))
    events = book.submit(2, BUY, 10, 103)
    assert events == [Accepted(2, BUY, LIMIT, 103, 10), Trade(2, 1, BUY, 101, 4, 6, 0)]
    assert book.best_bid() == PriceLevel(103, 6, 1)
    assert book.best_ask() is None
    book._check()


def test_trades_follow_price_then_time_priority():
    book = book_with((1, SELL, 2, 102), (2, SELL, 2, 101), (3, SELL, 2, 101), (4, SELL, 2, 100))
    trades = of(book.submit(9, BUY, 7, 102), Trade)
    assert [(t.maker_id, t.price, t.qty) for t in trades] == [(4, 100, 2), (2, 101, 2), (3, 101, 2), (1, 102, 1)]
    assert book.order(1).leaves == 1


def test_each_matched_pair_is_one_trade_event_with_leaves_of_both_orders():
    book = book_with((1, BUY, 3, 100), (2, BUY, 5, 100))
    trades = of(book.submit(3, SELL, 6, 100), Trade)
    assert trades == [Trade(3, 1, SELL, 100, 3, 3, 0), Trade(3, 2, SELL, 100, 3, 0, 2)]


def test_limit_sell_does_not_trade_through_its_limit():
    book = book_with((1, BUY, 3, 100), (2, BUY, 3, 98))
    events = book.submit(3, SELL, 10, 99)
    assert of(events, Trade) == [Trade(3, 1, SELL, 100, 3, 7, 0)]
    assert book.best_ask() == PriceLevel(99, 7, 1)
    assert book.best_bid() == PriceLevel(98, 3, 1)


# -- MARKET, IOC, FOK, POST-ONLY --

def test_market_order_trades_up_to_its_qty_and_cancels_the_rest():
    book = book_with((1, SELL, 3, 101), (2, SELL, 3, 105))
    events = book.submit(3, BUY, 10, kind=MARKET)
    assert events == [Accepted(3, BUY, MARKET, None, 10), Trade(3, 1, BUY, 101, 3, 7, 0),
                      Trade(3, 2, BUY, 105, 3, 4, 0), Cancelled(3, BUY, None, 4, CancelReason.MARKET_REMAINDER)]
    assert len(book) == 0 and book.best_bid() is None


def test_market_order_on_empty_side_is_cancelled_not_rested():
    book = book_with((1, BUY, 3, 99))
    events = book.submit(2, BUY, 5, kind=MARKET)
    assert events[1:] == [Cancelled(2, BUY, None, 5, CancelReason.MARKET_REMAINDER)]
    assert 2 not in book


def test_ioc_trades_what_crosses_and_cancels_the_rest():
    book = book_with((1, BUY, 3, 100), (2, BUY, 3, 98))
    events = book.submit(3, SELL, 5, 99, kind=IOC)
    assert events[1:] == [Trade(3, 1, SELL, 100, 3, 2, 0), Cancelled(3, SELL, 99, 2, CancelReason.IOC_REMAINDER)]
    assert book.best_ask() is None


def test_ioc_that_does_not_cross_is_cancelled_whole():
    book = book_with((1, BUY, 3, 98))
    assert book.submit(2, SELL, 5, 99, kind=IOC)[1:] == [Cancelled(2, SELL, 99, 5, CancelReason.IOC_REMAINDER)]


def test_fok_that_can_fill_across_levels_trades_its_full_quantity():
    book = book_with((1, SELL, 3, 101), (2, SELL, 3, 102), (3, SELL, 3, 103))
    events = book.submit(4, BUY, 5, 102, kind=FOK)
    assert of(events, Trade) == [Trade(4, 1, BUY, 101, 3, 2, 0), Trade(4, 2, BUY, 102, 2, 0, 1)]
    assert not of(events, Cancelled)


def test_fok_that_cannot_fill_emits_no_trades_and_leaves_book_untouched():
    book = book_with((1, SELL, 3, 101), (2, SELL, 3, 103))
    before = book.depth(10)
    events = book.submit(4, BUY, 5, 102, kind=FOK)
    assert events == [Accepted(4, BUY, FOK, 102, 5), Cancelled(4, BUY, 102, 5, CancelReason.FOK)]
    assert book.depth(10) == before


def test_fok_on_an_empty_book_is_cancelled():
    assert OrderBook().submit(1, SELL, 1, 100, kind=FOK)[1].reason is CancelReason.FOK


def test_post_only_that_would_cross_is_rejected_with_reason():
    book = book_with((1, SELL, 3, 101))
    [rej] = book.submit(2, BUY, 1, 101, kind=POST_ONLY)
    assert rej.reason is Reason.WOULD_CROSS and rej.order_id == 2 and rej.text
    assert 2 not in book and book.best_ask() == PriceLevel(101, 3, 1)


def test_post_only_that_does_not_cross_rests():
    book = book_with((1, SELL, 3, 101))
    assert book.submit(2, BUY, 1, 100, kind=POST_ONLY) == [Accepted(2, BUY, POST_ONLY, 100, 1)]
    assert book.order(2).post_only


# -- CANCEL --

def test_cancel_removes_order_and_its_level_when_last():
    book = book_with((1, BUY, 3, 99), (2, BUY, 4, 99), (3, BUY, 1, 98))
    assert book.cancel(1) == [Cancelled(1, BUY, 99, 3, CancelReason.USER)]
    assert book.best_bid() == PriceLevel(99, 4, 1)
    book.cancel(2)
    assert book.best_bid() == PriceLevel(98, 1, 1)
    book.cancel(3)
    assert book.best_bid() is None and len(book) == 0
    book._check()


def test_cancel_of_a_level_below_the_top_keeps_the_others():
    book = book_with((1, SELL, 3, 101), (2, SELL, 3, 102), (3, SELL, 3, 103))
    book.cancel(2)
    assert book.depth(5).asks == [PriceLevel(101, 3, 1), PriceLevel(103, 3, 1)]
    book._check()


@pytest.mark.parametrize("order_id", [42, None, "x", [1], 1.0, True])
def test_cancel_of_an_unknown_order_is_rejected(order_id):
    book = book_with((1, BUY, 3, 99))
    [rej] = book.cancel(order_id)
    assert rej.reason is Reason.UNKNOWN_ORDER and rej.text
    assert book.order(1).leaves == 3


def test_cancel_twice_is_rejected_the_second_time():
    book = book_with((1, BUY, 3, 99))
    book.cancel(1)
    assert book.cancel(1)[0].reason is Reason.UNKNOWN_ORDER


def test_cancel_of_a_filled_order_is_rejected():
    book = book_with((1, BUY, 3, 99))
    book.submit(2, SELL, 3, kind=MARKET)
    assert book.cancel(1)[0].reason is Reason.UNKNOWN_ORDER


# -- REPLACE --

def test_replace_with_lower_qty_same_price_keeps_priority():
    book = book_with((1, BUY, 5, 99), (2, BUY, 5, 99))
    assert book.replace(1, 2) == [Replaced(1, BUY, 99, 5, 99, 2, True)]
    assert queue_ids(book, BUY, 99) == [1, 2]
    assert book.level_qty(BUY, 99) == 7
    assert of(book.submit(3, SELL, 1, 99), Trade)[0].maker_id == 1


def test_replace_with_same_qty_same_price_keeps_priority():
    book = book_with((1, BUY, 5, 99), (2, BUY, 5, 99))
    assert book.replace(1, 5, 99)[0].priority_kept
    assert queue_ids(book, BUY, 99) == [1, 2]


def test_replace_with_higher_qty_loses_priority():
    book = book_with((1, BUY, 5, 99), (2, BUY, 5, 99))
    assert book.replace(1, 6) == [Replaced(1, BUY, 99, 5, 99, 6, False)]
    assert queue_ids(book, BUY, 99) == [2, 1]
    assert book.level_qty(BUY, 99) == 11
    book._check()


def test_replace_with_new_price_loses_priority_even_when_moved_back():
    book = book_with((1, BUY, 5, 99), (2, BUY, 5, 99))
    book.replace(1, 5, 98)
    assert book.level_qty(BUY, 99) == 5 and book.level_qty(BUY, 98) == 5
    book.replace(1, 5, 99)
    assert queue_ids(book, BUY, 99) == [2, 1]
    assert book.level(BUY, 98) is None
    book._check()


def test_replace_to_a_crossing_price_trades_at_once_then_rests():
    book = book_with((1, SELL, 3, 101), (2, BUY, 10, 99))
    events = book.replace(2, 10, 102)
    assert events == [Replaced(2, BUY, 99, 10, 102, 10, False), Trade(2, 1, BUY, 101, 3, 7, 0)]
    assert book.best_bid() == PriceLevel(102, 7, 1)
    assert book.best_ask() is None
    book._check()


def test_replace_that_fills_completely_removes_the_order():
    book = book_with((1, SELL, 30, 101), (2, BUY, 10, 99))
    book.replace(2, 10, 101)
    assert 2 not in book and book.order(1).leaves == 20


def test_replace_of_post_only_to_a_crossing_price_is_rejected_and_order_unchanged():
    book = book_with((1, SELL, 3, 101))
    book.submit(2, BUY, 4, 99, kind=POST_ONLY)
    book.submit(3, BUY, 4, 99)
    [rej] = book.replace(2, 4, 101)
    assert rej.reason is Reason.WOULD_CROSS
    assert book.order(2) == RestingOrder(2, BUY, 99, 4, None, STP.NONE, True)
    assert queue_ids(book, BUY, 99) == [2, 3]


@pytest.mark.parametrize("qty", [0, -3, None, 2.5, "4", True])
def test_replace_with_a_non_positive_or_non_integer_leaves_is_rejected(qty):
    book = book_with((1, BUY, 5, 99))
    assert book.replace(1, qty)[0].reason is Reason.BAD_QUANTITY
    assert book.order(1).leaves == 5


def test_replace_with_a_non_integer_price_is_rejected():
    book = book_with((1, BUY, 5, 99))
    assert book.replace(1, 5, 99.5)[0].reason is Reason.BAD_PRICE


def test_replace_of_an_unknown_order_is_rejected():
    assert OrderBook().replace(1, 5, 99)[0].reason is Reason.UNKNOWN_ORDER


def test_replace_keeps_owner_and_stp_mode_of_the_order():
    book = book_with((1, SELL, 3, 101, "A"))
    book.submit(2, BUY, 4, 99, owner="A", stp=STP.CANCEL_NEWEST)
    events = book.replace(2, 4, 101)
    assert events[1:] == [Cancelled(2, BUY, 101, 4, CancelReason.STP)]
    assert book.order(1).leaves == 3 and 2 not in book


# -- REJECTS --

@pytest.mark.parametrize("kwargs, reason", [
    (dict(order_id="a", side=BUY, qty=1, price=99), Reason.BAD_ORDER_ID),
    (dict(order_id=1.5, side=BUY, qty=1, price=99), Reason.BAD_ORDER_ID),
    (dict(order_id=2, side=3, qty=1, price=99), Reason.BAD_SIDE),
    (dict(order_id=2, side="buy", qty=1, price=99), Reason.BAD_SIDE),
    (dict(order_id=2, side=BUY, qty=1, price=99, kind=9), Reason.BAD_ORDER_TYPE),
    (dict(order_id=2, side=BUY, qty=0, price=99), Reason.BAD_QUANTITY),
    (dict(order_id=2, side=BUY, qty=-5, price=99), Reason.BAD_QUANTITY),
    (dict(order_id=2, side=BUY, qty=1.0, price=99), Reason.BAD_QUANTITY),
    (dict(order_id=2, side=BUY, qty=True, price=99), Reason.BAD_QUANTITY),
    (dict(order_id=2, side=BUY, qty=1), Reason.MISSING_PRICE),
    (dict(order_id=2, side=BUY, qty=1, kind=IOC), Reason.MISSING_PRICE),
    (dict(order_id=2, side=BUY, qty=1, price=99, kind=MARKET), Reason.UNEXPECTED_PRICE),
    (dict(order_id=2, side=BUY, qty=1, price=99.5), Reason.BAD_PRICE),
    (dict(order_id=2, side=BUY, qty=1, price="99"), Reason.BAD_PRICE),
    (dict(order_id=2, side=BUY, qty=1, price=99, stp=7), Reason.BAD_STP),
    (dict(order_id=2, side=BUY, qty=1, price=99, stp=[1]), Reason.BAD_STP),
    (dict(order_id=1, side=SELL, qty=1, price=200), Reason.DUPLICATE_ORDER_ID),
])
def test_bad_new_order_is_rejected_with_reason_and_sentence_and_changes_nothing(kwargs, reason):
    book = book_with((1, BUY, 5, 99))
    before = (book.depth(10), len(book), book._seq)
    events = book.submit(**kwargs)
    assert len(events) == 1 and type(events[0]) is Rejected
    assert events[0].reason is reason
    assert events[0].text.strip() and " " in events[0].text
    assert (book.depth(10), len(book), book._seq) == before
    book._check()


def test_duplicate_live_order_id_is_rejected_but_a_done_id_may_be_reused():
    book = book_with((1, BUY, 5, 99))
    assert book.submit(1, BUY, 1, 98, kind=IOC)[0].reason is Reason.DUPLICATE_ORDER_ID
    book.cancel(1)
    assert type(book.submit(1, BUY, 1, 98)[0]) is Accepted


def test_bad_input_of_any_type_never_raises():
    book = book_with((1, BUY, 5, 99), (2, SELL, 5, 101))
    weird = [None, "x", [1], {}, 1.5, -1, np.array([1, 2]), np.int64(3), object(), True]
    for a in weird:
        calls = [(book.submit, (a, BUY, 1, 99), {}), (book.submit, (7, a, 1, 99), {}),
                 (book.submit, (7, BUY, a, 99), {}), (book.submit, (7, BUY, 1, a), {}),
                 (book.submit, (7, BUY, 1, 99), {"kind": a}), (book.submit, (7, BUY, 1, 99), {"stp": a}),
                 (book.cancel, (a,), {}), (book.replace, (a, 1), {}), (book.replace, (1, a), {}),
                 (book.replace, (1, 5, a), {}), (book.order, (a,), {}), (book.__contains__, (a,), {})]
        for fn, args, kwargs in calls:
            fn(*args, **kwargs)
            book._check()
            book.cancel(7)


def test_numpy_integers_are_accepted_and_normalised_to_python_ints():
    book = OrderBook()
    events = book.submit(np.int64(1), np.int64(1), np.int32(5), np.int64(99))
    assert events == [Accepted(1, BUY, LIMIT, 99, 5)]
    assert type(events[0].order_id) is int and type(events[0].qty) is int
    assert book.cancel(np.int64(1))[0] == Cancelled(1, BUY, 99, 5, CancelReason.USER)


# -- SELF-TRADE PREVENTION --

def test_stp_none_lets_an_owner_trade_with_itself():
    book = book_with((1, SELL, 3, 101, "A"))
    assert of(book.submit(2, BUY, 3, 101, owner="A"), Trade) == [Trade(2, 1, BUY, 101, 3, 0, 0)]


def test_stp_cancel_newest_cancels_the_aggressor_and_keeps_the_resting_order():
    book = book_with((1, SELL, 2, 100, "B"), (2, SELL, 3, 101, "A"), (3, SELL, 3, 101, "B"))
    events = book.submit(4, BUY, 10, 101, owner="A", stp=STP.CANCEL_NEWEST)
    assert events[1:] == [Trade(4, 1, BUY, 100, 2, 8, 0), Cancelled(4, BUY, 101, 8, CancelReason.STP)]
    assert book.order(2).leaves == 3 and book.order(3).leaves == 3
    book._check()


def test_stp_cancel_oldest_cancels_the_resting_order_and_keeps_matching():
    book = book_with((2, SELL, 3, 101, "A"), (3, SELL, 3, 101, "B"))
    events = book.submit(4, BUY, 5, 101, owner="A", stp=STP.CANCEL_OLDEST)
    assert events[1:] == [Cancelled(2, SELL, 101, 3, CancelReason.STP), Trade(4, 3, BUY, 101, 3, 2, 0)]
    assert book.best_bid() == PriceLevel(101, 2, 1)
    book._check()


def test_stp_cancel_both_cancels_resting_then_aggressor():
    book = book_with((2, SELL, 3, 101, "A"), (3, SELL, 3, 101, "B"))
    events = book.submit(4, BUY, 5, 101, owner="A", stp=STP.CANCEL_BOTH)
    assert events[1:] == [Cancelled(2, SELL, 101, 3, CancelReason.STP), Cancelled(4, BUY, 101, 5, CancelReason.STP)]
    assert list(book.depth(5).asks) == [PriceLevel(101, 3, 1)]


def test_stp_decrement_shrinks_the_larger_resting_order_and_cancels_the_aggressor():
    book = book_with((2, SELL, 8, 101, "A"))
    events = book.submit(4, BUY, 5, 101, owner="A", stp=STP.DECREMENT)
    assert events[1:] == [Reduced(2, SELL, 101, 5, 3), Cancelled(4, BUY, 101, 5, CancelReason.STP)]
    assert book.order(2).leaves == 3 and book.level_qty(SELL, 101) == 3
    book._check()


def test_stp_decrement_cancels_the_smaller_resting_order_and_the_aggressor_keeps_matching():
    book = book_with((2, SELL, 2, 101, "A"), (3, SELL, 9, 101, "B"))
    events = book.submit(4, BUY, 5, 101, owner="A", stp=STP.DECREMENT)
    assert events[1:] == [Cancelled(2, SELL, 101, 2, CancelReason.STP), Reduced(4, BUY, 101, 2, 3),
                          Trade(4, 3, BUY, 101, 3, 0, 6)]
    book._check()


def test_stp_decrement_with_equal_quantities_cancels_both():
    book = book_with((2, SELL, 5, 101, "A"))
    events = book.submit(4, BUY, 5, 101, owner="A", stp=STP.DECREMENT)
    assert events[1:] == [Cancelled(2, SELL, 101, 5, CancelReason.STP), Cancelled(4, BUY, 101, 5, CancelReason.STP)]
    assert len(book) == 0


def test_stp_applies_only_when_owners_match():
    book = book_with((1, SELL, 3, 101, "B"))
    assert of(book.submit(2, BUY, 3, 101, owner="A", stp=STP.CANCEL_BOTH), Trade)


def test_stp_never_applies_to_orders_without_owner():
    book = book_with((1, SELL, 3, 101))
    assert of(book.submit(2, BUY, 3, 101, owner=None, stp=STP.CANCEL_BOTH), Trade)


def test_fok_with_stp_cancel_newest_that_meets_its_own_order_is_killed_untouched():
    book = book_with((1, SELL, 3, 101, "A"), (2, SELL, 9, 101, "B"))
    before = book.depth(5)
    events = book.submit(4, BUY, 5, 101, kind=FOK, owner="A", stp=STP.CANCEL_NEWEST)
    assert events[1:] == [Cancelled(4, BUY, 101, 5, CancelReason.FOK)]
    assert book.depth(5) == before


def test_fok_with_stp_cancel_oldest_skips_own_orders_when_counting_and_cancels_them_when_filling():
    book = book_with((1, SELL, 3, 101, "A"), (2, SELL, 4, 101, "B"), (3, SELL, 4, 102, "B"))
    assert book.submit(4, BUY, 9, 102, kind=FOK, owner="A", stp=STP.CANCEL_OLDEST)[1:] == [
        Cancelled(4, BUY, 102, 9, CancelReason.FOK)]
    assert len(book) == 3
    events = book.submit(5, BUY, 8, 102, kind=FOK, owner="A", stp=STP.CANCEL_OLDEST)
    assert events[1:] == [Cancelled(1, SELL, 101, 3, CancelReason.STP), Trade(5, 2, BUY, 101, 4, 4, 0),
                          Trade(5, 3, BUY, 102, 4, 0, 0)]


# -- QUERIES --

def test_depth_lists_levels_best_first_with_totals_and_counts():
    book = book_with((1, BUY, 1, 97), (2, BUY, 2, 99), (3, BUY, 3, 99), (4, BUY, 4, 98),
                     (5, SELL, 5, 103), (6, SELL, 6, 101))
    d = book.depth(2)
    assert d.bids == [PriceLevel(99, 5, 2), PriceLevel(98, 4, 1)]
    assert d.asks == [PriceLevel(101, 6, 1), PriceLevel(103, 5, 1)]
    assert book.depth(0) == ([], [])
    assert len(book.depth(100).bids) == 3


def test_touched_levels_and_level_qty_give_the_new_totals_of_changed_levels():
    book = book_with((1, SELL, 3, 101), (2, SELL, 3, 102), (3, BUY, 1, 99))
    events = book.submit(4, BUY, 5, 102)
    assert touched_levels(events) == [(BUY, 102), (SELL, 101), (SELL, 102)]
    assert [book.level_qty(s, p) for s, p in touched_levels(events)] == [0, 0, 1]
    events = book.replace(3, 1, 98)
    assert touched_levels(events) == [(BUY, 99), (BUY, 98)]
    assert touched_levels(book.cancel(77)) == []


def test_events_of_different_classes_never_compare_equal():
    assert Cancelled(1, BUY, 99, 5, CancelReason.USER) != Reduced(1, BUY, 99, 5, CancelReason.USER)
    assert Accepted(1, BUY, LIMIT, 99, 5) == Accepted(1, BUY, LIMIT, 99, 5)
    assert len({Accepted(1, BUY, LIMIT, 99, 5), Accepted(1, BUY, LIMIT, 99, 5)}) == 1


def test_check_fails_with_a_state_dump_when_an_invariant_breaks():
    book = book_with((1, BUY, 3, 99))
    book._bids[99][0] = 4
    with pytest.raises(AssertionError, match="book state"):
        book._check()


# -- STRESS, DIFFERENTIAL AND PROPERTY TESTS --

class Ledger:
    """Follows every order's open quantity through the events alone, and checks
    each event against it: quantity conservation and fills within both limits."""

    def __init__(self):
        self.open: dict[int, int] = {}    # order id -> open qty (not yet done)
        self.limit: dict[int, tuple] = {}  # order id -> (side, limit price or None)
        self.done: set[int] = set()

    def apply(self, events):
        for e in events:
            t = type(e)
            if t is Accepted:
                assert e.order_id not in self.open
                self.open[e.order_id] = e.qty
                self.limit[e.order_id] = (e.side, e.price)
            elif t is Trade:
                assert self.limit[e.maker_id][1] == e.price, "trade not at the resting price"
                assert self.limit[e.maker_id][0] != e.taker_side
                for oid, leaves in ((e.taker_id, e.taker_leaves), (e.maker_id, e.maker_leaves)):
                    assert self.open[oid] - e.qty == leaves, (e, self.open[oid])
                    self.open[oid] = leaves
                    side, lim = self.limit[oid]
                    assert lim is None or (e.price <= lim if side == BUY else e.price >= lim), e
                    if leaves == 0:
                        self._finish(oid)
            elif t is Cancelled:
                assert self.open[e.order_id] == e.qty, (e, self.open[e.order_id])
                self._finish(e.order_id)
            elif t is Reduced:
                assert self.open[e.order_id] - e.qty == e.leaves > 0
                self.open[e.order_id] = e.leaves
            elif t is Replaced:
                assert self.open[e.order_id] == e.old_qty
                assert self.limit[e.order_id][1] == e.old_price
                self.open[e.order_id] = e.qty
                self.limit[e.order_id] = (e.side, e.price)

    def _finish(self, oid):
        del self.open[oid]
        del self.limit[oid]

    def check_against(self, book):
        assert len(book) == len(self.open)
        for oid, qty in self.open.items():
            o = book.order(oid)
            assert o is not None and o.leaves == qty and (o.side, o.price) == self.limit[oid]


def check_trade_priority(book_before_depth, events):
    """Trades of one operation walk from the best price outwards."""
    trades = of(events, Trade)
    prices = [t.price for t in trades]
    if trades and trades[0].taker_side == BUY:
        assert prices == sorted(prices)
    else:
        assert prices == sorted(prices, reverse=True)


def random_op(rng, next_id, live, owners=(None, "A", "B", "C")):
    """One random operation as (method name, args, kwargs); ids come from a numpy Generator."""
    r = rng.random()
    if r < 0.5 or not live:
        kind = int(rng.choice(5, p=[0.6, 0.1, 0.1, 0.1, 0.1]))
        price = None if kind == MARKET else int(rng.integers(95, 106))
        return "submit", (next_id, int(rng.integers(1, 3)), int(rng.integers(1, 12)), price), dict(
            kind=kind, owner=owners[int(rng.integers(len(owners)))], stp=int(rng.integers(0, 5)))
    oid = live[int(rng.integers(len(live)))] if rng.random() < 0.9 else -1
    if r < 0.8:
        return "cancel", (oid,), {}
    price = None if rng.random() < 0.3 else int(rng.integers(95, 106))
    return "replace", (oid, int(rng.integers(0, 12)), price), {}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_stress_keeps_every_invariant_after_each_step(seed):
    rng = np.random.default_rng(seed)
    book, ledger = OrderBook(), Ledger()
    for step in range(4000):
        name, args, kwargs = random_op(rng, step, list(ledger.open))
        events = getattr(book, name)(*args, **kwargs)
        book._check()
        ledger.apply(events)
        check_trade_priority(None, events)
    ledger.check_against(book)


def normalise(events):
    """Rejected texts are free sentences; everything else must match exactly."""
    return [(type(e).__name__, e.order_id, e.reason) if type(e) is Rejected else (type(e).__name__, *e)
            for e in events]


ids = st.integers(0, 40)
prices = st.integers(97, 103)
owners = st.sampled_from([None, "A", "B", "A", "B"])
stps = st.sampled_from([0, 0, 1, 2, 3, 4])


@st.composite
def valid_submit(draw):
    kind = draw(st.sampled_from([0, 0, 0, 0, 1, 2, 3, 4]))
    price = None if kind == MARKET else draw(prices)
    return "submit", (draw(ids), draw(st.sampled_from([1, 2])), draw(st.integers(1, 9)), price), dict(
        kind=kind, owner=draw(owners), stp=draw(stps))


invalid_submit = st.tuples(
    st.just("submit"),
    st.tuples(st.one_of(ids, st.just("x")), st.sampled_from([1, 2, 3]), st.sampled_from([1, 5, 0, -1]),
              st.one_of(prices, st.none(), st.just(99.5))),
    st.fixed_dictionaries(dict(kind=st.sampled_from([0, 1, 2, 3, 4, 6]), owner=owners,
                               stp=st.sampled_from([0, 1, 2, 3, 4, 5]))))
# Cancel/replace name a live order by position (resolved when run), or -1 for an unknown id.
picks = st.one_of(st.integers(0, 50), st.integers(0, 50), st.just(-1))
cancel = st.tuples(st.just("cancel"), st.tuples(picks), st.just({}))
replace = st.tuples(st.just("replace"),
                    st.tuples(picks, st.sampled_from([1, 2, 3, 5, 8, 13, 0]), st.one_of(prices, prices, st.none())),
                    st.just({}))


def resolve(name, args, live):
    if name == "submit":
        return args
    pick = args[0]
    return (sorted(live)[pick % len(live)] if live and pick >= 0 else 99, *args[1:])
operations = st.lists(st.one_of(valid_submit(), valid_submit(), valid_submit(), valid_submit(),
                                invalid_submit, cancel, replace, replace), min_size=10, max_size=80)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_book_matches_the_reference_book_on_any_sequence_of_operations(ops):
    book, ref, ledger = OrderBook(), ReferenceBook(), Ledger()
    for name, args, kwargs in ops:
        args = resolve(name, args, [o.order_id for o in ref.orders])
        got = getattr(book, name)(*args, **kwargs)
        want = getattr(ref, name)(*args, **kwargs)
        assert normalise(got) == normalise(want), (name, args, kwargs)
        book._check()
        ledger.apply(got)
        check_trade_priority(None, got)
        d = book.depth(100)
        assert [list(d.bids), list(d.asks)] == ref.depth(100)
        assert sorted((o.order_id, o.side, o.price, o.leaves)
                      for o in (book.order(i) for i in range(41)) if o) == ref.resting()
    ledger.check_against(book)
