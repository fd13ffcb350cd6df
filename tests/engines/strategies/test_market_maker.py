"""Market maker: two-sided quotes with bounded inventory on a calm market; pulls them on a frozen feed."""

from __future__ import annotations

import asyncio

import pytest

from engines.strategies.base import BUY, SELL
from engines.strategies.market_data import feed_for
from engines.strategies.market_maker import MarketMaker
from engines.strategies.testing import run_world, venue_orders

CONFIG = {
    "venue": {"comp_id": "VENUE"},
    "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
    "firm": [{"id": "A"}, {"id": "B"}],
    "agents": {"seed": 7},
}


def _live_sides(world, comp_id="A"):
    """Sides on which the firm has an order resting in the venue's book."""
    firm_orders = world.venue.exchange.open_orders.get(comp_id, {})
    return {o.side for o in firm_orders.values()}


def _run(body, **kwargs):
    return run_world(body, CONFIG, engines={"A": None}, agents=True, warmup_ns=1_000_000_000, **kwargs)


def test_the_market_maker_keeps_two_sided_quotes_and_bounded_inventory_on_a_calm_market():
    async def body(ctx):
        a = ctx.engine("A")
        mm = MarketMaker("mm", a, "PRB", feed=feed_for(a, ["PRB"]), quote_qty=1, max_inventory=5,
                         skew_ticks_per_unit="0.5")
        await asyncio.sleep(0.1)
        mm.start()
        await asyncio.sleep(1)
        samples, inventory = [], []
        for _ in range(150):
            await asyncio.sleep(0.1)
            samples.append(_live_sides(ctx.world))
            inventory.append(a.position("PRB", "mm"))
        mm.stop()
        return mm, samples, inventory, a

    mm, samples, inventory, engine = _run(body)
    within = [s for s, i in zip(samples, inventory, strict=True) if abs(i) < 5]
    two_sided = sum(1 for s in within if s == {1, 2}) / len(within)
    assert len(within) >= 0.75 * len(samples)
    assert two_sided >= 0.95, f"two-sided only {two_sided:.0%} of the time within the inventory bound"
    for sides, i in zip(samples, inventory, strict=True):
        if abs(i) >= 5:                          # at the bound only the side that reduces it is quoted
            assert sides <= ({SELL} if i > 0 else {BUY})
    assert max(abs(i) for i in inventory) <= 5
    assert engine.portfolio.position("mm", "PRB").bought > 0 and engine.portfolio.position("mm", "PRB").sold > 0
    assert mm.pulls == [] and mm.error is None


def test_the_market_maker_pulls_its_quotes_when_its_feed_freezes_and_returns_when_it_recovers():
    async def body(ctx):
        a = ctx.engine("A")
        mm = MarketMaker("mm", a, "PRB", feed=feed_for(a, ["PRB"]), max_data_age_ns=500_000_000)
        await asyncio.sleep(0.1)
        mm.start()
        await asyncio.sleep(2)
        before = _live_sides(ctx.world)
        frozen_at = ctx.clock.now_ns()
        ctx.world.venue.publisher.set_fault("PRB", frozen=True)
        await asyncio.sleep(1.0)
        during = _live_sides(ctx.world)
        pulls = list(mm.pulls)
        ctx.world.venue.publisher.set_fault("PRB", frozen=False)
        await asyncio.sleep(1.0)
        after = _live_sides(ctx.world)
        mm.stop()
        return before, during, after, pulls, frozen_at

    before, during, after, pulls, frozen_at = _run(body)
    assert before == {1, 2} and during == set() and after == {1, 2}
    assert len(pulls) == 1 and "stale market data" in pulls[0][1]
    assert frozen_at < pulls[0][0] <= frozen_at + 600_000_000


def test_inventory_skews_both_quotes_against_the_position_and_stops_the_side_that_would_grow_it():
    async def body(ctx):
        a = ctx.engine("A")
        mm = MarketMaker("mm", a, "PRB", feed=feed_for(a, ["PRB"]), half_spread_ticks=3, skew_ticks_per_unit=1,
                         max_inventory=4)
        await asyncio.sleep(0.1)
        flat, _ = mm.targets()
        a.portfolio.apply_fill("mm", "PRB", BUY, 2, 10_000)   # long 2
        long2, _ = mm.targets()
        a.portfolio.apply_fill("mm", "PRB", BUY, 2, 10_000)   # long 4: at the bound
        long4, _ = mm.targets()
        return flat, long2, long4

    flat, long2, long4 = run_world(body, CONFIG, engines={"A": None}, agents=True, warmup_ns=500_000_000)
    assert flat[BUY][0] < flat[SELL][0]
    assert long2[BUY][0] <= flat[BUY][0] - 1 and long2[SELL][0] <= flat[SELL][0] - 1
    assert long4[BUY] is None and long4[SELL] is not None


@pytest.mark.parametrize("bad", [{"quote_qty": 0}])
def test_a_quote_size_that_is_not_whole_lots_is_refused(bad):
    async def body(ctx):
        with pytest.raises(ValueError, match="quote_qty"):
            MarketMaker("mm", ctx.engine("A"), "PRB", feed=None, **bad)
        return True

    assert run_world(body, CONFIG, engines={"A": None})


def test_the_same_seed_gives_the_same_quotes_at_the_venue():
    async def body(ctx):
        a = ctx.engine("A")
        mm = MarketMaker("mm", a, "PRB", feed=feed_for(a, ["PRB"]), skew_ticks_per_unit="0.5")
        await asyncio.sleep(0.1)
        mm.start()
        await asyncio.sleep(3)
        mm.stop()
        return venue_orders(ctx.world, "A", replaces=True)

    first, second = _run(body), _run(body)
    assert first == second and len(first) > 10
