"""The strategy-side book view: built from the FIX market data the engine's session receives."""

from __future__ import annotations

import asyncio

from engines.order_engine import OrderEngine
from engines.strategies.market_data import BookView, MarketDataClient, MarketDataTap, feed_for
from engines.strategies.testing import run_world
from sim.fix.codec import FixMessage
from sim.instruments import Instrument, InstrumentTable

CONFIG = {
    "venue": {"comp_id": "VENUE"},
    "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"},
                   {"symbol": "HDG", "tick_size": "0.01", "reference_price": "50.00"}],
    "firm": [{"id": "A"}, {"id": "B"}],
}


def _client():
    table = InstrumentTable([Instrument.create("PRB", "0.01", "100.00")])
    now = [1_000]
    return MarketDataClient(table, now_ns=lambda: now[0]), now


def _msg(*fields):
    return FixMessage([(tag, value if isinstance(value, bytes) else str(value).encode()) for tag, value in fields])


def test_a_snapshot_then_incrementals_build_the_levels_and_the_tape():
    client, now = _client()
    client.books["PRB"] = BookView("PRB")
    client.on_message(_msg((35, "W"), (55, "PRB"), (262, "md1"), (268, 2), (269, "0"), (270, "99.95"), (271, 5),
                           (269, "1"), (270, "100.05"), (271, 7)))
    view = client.book("PRB")
    assert (view.best_bid(), view.best_ask(), view.mid(), view.snapshot_ns) == ((9_995, 5), (10_005, 7), 10_000, 1_000)
    now[0] = 2_000
    client.on_message(_msg((35, "X"), (262, "md1"), (268, 3),
                           (279, "0"), (269, "0"), (55, "PRB"), (270, "99.98"), (271, 2),
                           (279, "2"), (269, "1"), (55, "PRB"), (270, "100.05"), (271, 0),
                           (279, "0"), (269, "2"), (55, "PRB"), (270, "100.05"), (271, 7)))
    assert view.best_bid() == (9_998, 2) and view.best_ask() is None
    assert (view.volume, view.trades, view.last_trade, view.last_update_ns) == (7, 1, 10_005, 2_000)
    assert view.age_ns(5_000) == 3_000 and view.depth(1) == [(9_998, 2), (9_995, 5)]


def test_own_quantity_can_be_left_out_of_the_best_price():
    view = BookView("PRB", bids={100: 3, 99: 4}, asks={101: 1, 103: 2}, last_update_ns=0)
    assert view.best(1, {(1, 100): 3}) == (99, 4)
    assert view.best(2, {(2, 101): 1}) == (103, 2)
    assert view.mid2({(1, 100): 3, (2, 101): 1}) == 99 + 103
    assert not view.crossed and BookView("X", bids={5: 1}, asks={5: 1}).crossed


def test_a_price_seen_before_a_tick_size_change_is_converted_again_on_the_new_grid():
    client, _ = _client()
    client.books["PRB"] = BookView("PRB")
    level = ((279, "0"), (269, "0"), (55, "PRB"), (270, "100.25"), (271, 2))
    client.on_message(_msg((35, "X"), (262, "md1"), (268, 1), *level))
    assert client.book("PRB").bids == {10_025: 2}
    client.instruments.replace(Instrument.create("PRB", "0.25", "100.00"))  # conversions cached per definition
    client.books["PRB"] = BookView("PRB")
    client.on_message(_msg((35, "X"), (262, "md1"), (268, 1), *level))
    assert client.book("PRB").bids == {401: 2}


def test_a_tag_repeated_inside_an_entry_counts_by_its_last_occurrence():
    client, _ = _client()
    client.books["PRB"] = BookView("PRB")
    client.on_message(_msg((35, "X"), (262, "md1"), (268, 2),
                           (279, "0"), (269, "1"), (55, "PRB"), (270, "99.00"), (269, "0"), (270, "99.50"),
                           (271, 3),
                           (279, "0"), (269, "0"), (55, "PRB"), (270, "99.40"), (271, "004")))
    assert client.book("PRB").bids == {9_950: 3, 9_940: 4} and client.book("PRB").asks == {}


def test_an_unparseable_entry_is_counted_not_applied():
    client, _ = _client()
    client.books["PRB"] = BookView("PRB")
    client.on_message(_msg((35, "X"), (262, "md1"), (268, 1),
                           (279, "0"), (269, "0"), (55, "PRB"), (270, "99.955"), (271, 2)))
    assert client.book("PRB").errors == 1 and client.book("PRB").bids == {}


def test_the_engine_feed_follows_the_venue_book_and_the_engine_still_gets_its_reports():
    async def body(ctx):
        a, b = ctx.engine("A"), ctx.engine("B")
        feed = feed_for(a, ["PRB"])
        assert feed_for(a, ["HDG"]) is feed and isinstance(a.session.app, MarketDataTap)
        await asyncio.sleep(0.01)
        assert feed.book("PRB").last_update_ns is not None and feed.book("PRB").best_bid() is None
        b.submit("lp", "PRB", 1, 5, 9_990)
        b.submit("lp", "PRB", 2, 5, 10_010)
        await asyncio.sleep(0.01)
        view = feed.book("PRB")
        assert (view.best_bid(), view.best_ask()) == ((9_990, 5), (10_010, 5))
        order = a.submit("t", "PRB", 1, 2, 10_010, time_in_force="ioc")
        await asyncio.sleep(0.01)
        assert order.cum_qty == 2 and view.best_ask() == (10_010, 3) and view.volume == 2
        return True

    assert run_world(body, CONFIG, engines={"A": None, "B": None})


def test_a_frozen_feed_stops_the_view_and_its_age_grows_while_the_venue_book_moves():
    async def body(ctx):
        a, b = ctx.engine("A"), ctx.engine("B")
        feed = feed_for(a, ["PRB"])
        b.submit("lp", "PRB", 1, 5, 9_990)
        await asyncio.sleep(0.01)
        view = feed.book("PRB")
        frozen_at = view.last_update_ns
        ctx.world.venue.publisher.set_fault("PRB", frozen=True)
        b.submit("lp", "PRB", 1, 5, 9_995)
        await asyncio.sleep(2)
        assert view.best_bid() == (9_990, 5) and view.last_update_ns == frozen_at
        assert view.age_ns(ctx.clock.now_ns()) >= 2_000_000_000
        assert ctx.world.venue.exchange.books["PRB"].best_bid().price == 9_995
        ctx.world.venue.publisher.set_fault("PRB", frozen=False)
        await asyncio.sleep(0.01)
        assert view.best_bid() == (9_995, 5) and view.age_ns(ctx.clock.now_ns()) < 20_000_000
        return True

    assert run_world(body, CONFIG, engines={"A": None, "B": None})


def test_a_crossed_feed_fault_shows_as_a_crossed_view():
    async def body(ctx):
        a, b = ctx.engine("A"), ctx.engine("B")
        feed = feed_for(a, ["PRB"])
        ctx.world.venue.publisher.set_fault("PRB", crossed_ticks=30)
        b.submit("lp", "PRB", 1, 5, 9_990)
        b.submit("lp", "PRB", 2, 5, 10_010)
        await asyncio.sleep(0.01)
        return feed.book("PRB").crossed

    assert run_world(body, CONFIG, engines={"A": None, "B": None})


def test_the_tap_forwards_everything_but_market_data_to_the_engine():
    table = InstrumentTable([Instrument.create("PRB", "0.01", "100.00")])

    class Session:
        app = None
        logged_on = False

    engine = OrderEngine("E", table, now_ns=lambda: 0)
    engine.session = Session()
    client = MarketDataClient(table, now_ns=lambda: 0)
    tap = MarketDataTap(engine, client)
    tap.from_app(engine.session, _msg((35, "Y"), (262, "md1"), (58, "Unknown symbol XYZ")))
    assert client.rejects == ["Unknown symbol XYZ"]
    tap.from_app(engine.session, _msg((35, "8"), (11, "nobody"), (150, "0"), (39, "0")))  # unknown order: ignored
