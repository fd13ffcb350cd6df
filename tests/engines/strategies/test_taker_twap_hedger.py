"""Working strategies on a calm background market: taker, TWAP/participation and hedger do their jobs."""

from __future__ import annotations

import asyncio
from fractions import Fraction

import numpy as np
import pytest

from engines.strategies.base import BUY, SELL
from engines.strategies.hedger import Hedger
from engines.strategies.market_data import feed_for
from engines.strategies.taker import Taker
from engines.strategies.testing import run_world, venue_orders
from engines.strategies.twap import Twap

CONFIG = {
    "venue": {"comp_id": "VENUE"},
    "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"},
                   {"symbol": "HDG", "tick_size": "0.01", "reference_price": "50.00"}],
    "firm": [{"id": "A"}, {"id": "B"}],
    "agents": {"seed": 11},
}
SECOND = 1_000_000_000


def _run(body):
    return run_world(body, CONFIG, engines={"A": None}, agents=True, warmup_ns=SECOND)


# -- TAKER ----------------------------------------------------------------------------------------

def test_the_taker_trades_at_the_touch_and_keeps_its_position_within_its_bound():
    async def body(ctx):
        a = ctx.engine("A")
        taker = Taker("taker", a, "PRB", feed=feed_for(a, ["PRB"]), rng=np.random.default_rng(3),
                      take_probability=0.8, clip_qty=2, max_position=6, interval_ns=100_000_000)
        await asyncio.sleep(0.1)
        taker.start()
        positions = []
        for _ in range(100):
            await asyncio.sleep(0.1)
            positions.append(a.position("PRB", "taker"))
        taker.stop()
        return taker, positions, a

    taker, positions, engine = _run(body)
    position = engine.portfolio.position("taker", "PRB")
    assert position.bought >= 10 and position.sold >= 10
    assert max(abs(p) for p in positions) <= 6 and taker.error is None


# -- TWAP -----------------------------------------------------------------------------------------

def test_the_twap_completes_its_quantity_within_its_window_and_on_schedule():
    async def body(ctx):
        a = ctx.engine("A")
        twap = Twap("twap", a, "PRB", BUY, 40, feed=feed_for(a, ["PRB"]), duration_ns=10 * SECOND,
                    interval_ns=SECOND // 2, slip_ticks=3)
        await asyncio.sleep(0.1)
        twap.start()
        await asyncio.sleep(5.05)
        halfway = twap.filled
        await asyncio.sleep(6)
        return twap, halfway

    twap, halfway = _run(body)
    assert twap.filled == 40 and twap.completed_ns is not None
    assert twap.completed_ns <= twap.end_ns + 100_000_000
    assert 14 <= halfway <= 22                     # 20 due by then, minus a slice or so
    assert twap.children <= 25


def test_the_twap_never_pays_more_than_its_price_limit():
    async def body(ctx):
        a = ctx.engine("A")
        feed = feed_for(a, ["PRB"])
        await asyncio.sleep(0.1)
        limit = feed.book("PRB").best_ask()[0] - 2     # below the market: it may only trade on dips
        twap = Twap("twap", a, "PRB", BUY, 40, feed=feed, duration_ns=5 * SECOND, interval_ns=SECOND // 4,
                    limit_price=limit, slip_ticks=5)
        twap.start()
        await asyncio.sleep(6)
        return twap, limit, venue_orders(ctx.world, "A")

    twap, limit, orders = _run(body)
    assert all(o.price <= limit for o in orders)
    assert twap.filled < 40 and twap.completed_ns is None


def test_the_participation_algo_stays_under_its_share_of_the_volume_it_sees():
    async def body(ctx):
        a = ctx.engine("A")
        twap = Twap("pov", a, "PRB", SELL, 1_000, feed=feed_for(a, ["PRB"]), duration_ns=None,
                    participation="0.2", interval_ns=SECOND // 4, slip_ticks=3)
        await asyncio.sleep(0.1)
        twap.start()
        checks = []
        for _ in range(40):
            await asyncio.sleep(0.25)
            checks.append((twap.filled, twap.market_volume()))
        return twap, checks

    twap, checks = _run(body)
    assert twap.filled > 0
    for filled, market in checks:
        assert filled <= Fraction(1, 5) * market + 1, (filled, market)


def test_a_twap_halted_mid_window_waits_then_catches_up_and_still_completes():
    async def body(ctx):
        a = ctx.engine("A")
        twap = Twap("twap", a, "PRB", SELL, 30, feed=feed_for(a, ["PRB"]), duration_ns=6 * SECOND,
                    interval_ns=SECOND // 2, slip_ticks=3, on_halt="wait")
        await asyncio.sleep(0.1)
        twap.start()
        await asyncio.sleep(1.2)
        a.halt(reason="risk desk halt")
        await asyncio.sleep(2)
        during = twap.filled
        sent_during = len(venue_orders(ctx.world, "A"))
        a.resume()
        await asyncio.sleep(0.01)
        await asyncio.sleep(4)
        return twap, during, sent_during, len(venue_orders(ctx.world, "A"))

    twap, during, sent_during, sent = _run(body)
    assert twap.halted is False and [k for _, k in twap.halt_events] == ["halted", "resumed"]
    assert during < 30 and twap.filled == 30 and twap.completed_ns is not None
    assert sent > sent_during


@pytest.mark.parametrize("bad", [{"side": 3}, {"total_qty": 0}, {"child_type": "stop"}])
def test_a_twap_with_a_bad_parent_is_refused(bad):
    async def body(ctx):
        args = {"side": BUY, "total_qty": 10, **bad}
        with pytest.raises(ValueError):
            Twap("t", ctx.engine("A"), "PRB", args.pop("side"), args.pop("total_qty"), **args)
        return True

    assert run_world(body, CONFIG, engines={"A": None})


# -- HEDGER ---------------------------------------------------------------------------------------

def test_the_hedger_keeps_net_delta_near_zero_while_a_taker_trades_the_source():
    async def body(ctx):
        a = ctx.engine("A")
        feed = feed_for(a, ["PRB", "HDG"])
        taker = Taker("desk", a, "PRB", feed=feed, rng=np.random.default_rng(5), take_probability=0.7,
                      clip_qty=3, max_position=15, interval_ns=200_000_000)
        hedger = Hedger("hedger", a, "PRB", "HDG", feed=feed, ratio=2, slip_ticks=3)
        await asyncio.sleep(0.1)
        taker.start()
        hedger.start()
        deltas = []
        for _ in range(50):
            await asyncio.sleep(0.2)
            deltas.append(hedger.net_delta())
        taker.stop()
        await asyncio.sleep(1)
        return hedger, deltas, a

    hedger, deltas, engine = _run(body)
    hedge_position = engine.portfolio.position("hedger", "HDG")
    assert hedge_position.bought > 0 and hedge_position.sold > 0
    assert hedger.net_delta() == 0
    assert sum(1 for d in deltas if d == 0) >= 0.8 * len(deltas)
    assert max(abs(d) for d in deltas) <= 2 * 3       # at most one clip unhedged, briefly
    assert hedger.error is None
