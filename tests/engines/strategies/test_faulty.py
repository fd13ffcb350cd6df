"""Faulty strategies: with engine risk ON the bad order stops in the engine; with it OFF it reaches the venue.

Each test runs the same faulty strategy twice, ``risk="on"`` with limits suited to the incident and
``risk="off"`` (``RiskEngine(enabled=False)``: the layer switched off, so the venue's protections
can be tested), and reads what the *venue* received from the firm.
"""

from __future__ import annotations

import asyncio

import pytest

from engines.order_engine import OrderState
from engines.risk import RiskEngine, RiskLimits
from engines.strategies.base import BUY, SELL, SanityLimits
from engines.strategies.faulty import (
    CancelReplaceStorm,
    FatFinger,
    FeedbackHedger,
    FeedbackParticipation,
    RetryStorm,
    RunawayChildren,
    StaleQuoter,
)
from engines.strategies.market_data import feed_for
from engines.strategies.testing import run_world, venue_orders

CONFIG = {
    "venue": {"comp_id": "VENUE"},
    "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"},
                   {"symbol": "HDG", "tick_size": "0.01", "reference_price": "50.00"}],
    "firm": [{"id": "A"}, {"id": "B"}],
    "agents": {"seed": 5},
}
REFS = {"PRB": 10_000, "HDG": 5_000}
MS = 1_000_000
SECOND = 1_000 * MS
RISK = ["on", "off"]


def _run(body, risk: str, limits: RiskLimits, **kwargs):
    engine_risk = RiskEngine(limits) if risk == "on" else RiskEngine(limits, enabled=False)
    return run_world(body, CONFIG, engines={"A": engine_risk, "B": None}, references=REFS, **kwargs)


async def _ladder(b, symbol="PRB", mid=10_000, qty=1_000, levels=5, gap=10):
    """B rests ``levels`` bids and offers of ``qty`` around ``mid``, ``gap`` ticks apart."""
    for i in range(1, levels + 1):
        b.submit("lp", symbol, BUY, qty, mid - i * gap)
        b.submit("lp", symbol, SELL, qty, mid + i * gap)
    await asyncio.sleep(0.01)


# -- FAT FINGER (mizuho-2005, citi-2022) ------------------------------------------------------------

@pytest.mark.parametrize("risk", RISK)
@pytest.mark.parametrize("mistake, limits, code, bad", [
    ("swap", RiskLimits(max_order_qty=1_000, price_collar_bps=500), "max_order_qty", (10_000, 100)),
    ("units", RiskLimits(max_order_notional="100000"), "max_order_notional", (10_000, 10_000)),
    ("zeros", RiskLimits(max_order_qty=1_000), "max_order_qty", (100_000, 10_000)),
])
def test_a_fat_finger_is_stopped_by_engine_risk_and_reaches_the_venue_without_it(risk, mistake, limits, code, bad):
    async def body(ctx):
        a = ctx.engine("A")
        ff = FatFinger("trader", a, "PRB", SELL, 100, 10_000, mistake=mistake)
        ff.start()
        await asyncio.sleep(0.01)
        return ff, venue_orders(ctx.world, "A")

    ff, orders = _run(body, risk, limits)
    assert (ff.bad_order().qty, ff.bad_order().price) == bad
    if risk == "on":
        assert ff.handle.state is OrderState.DENIED and ff.handle.reject_code == code
        assert orders == []
    else:
        assert [(o.qty, o.price) for o in orders] == [bad]


def test_a_fat_finger_with_its_own_sanity_limits_on_is_stopped_at_layer_one():
    async def body(ctx):
        a = ctx.engine("A")
        ff = FatFinger("trader", a, "PRB", SELL, 1, 10_000, mistake="swap", sanity=SanityLimits(max_order_qty=100))
        ff.start()
        await asyncio.sleep(0.01)
        return ff, a.sent, venue_orders(ctx.world, "A")

    ff, engine_sent, orders = _run(body, "off", RiskLimits())
    assert ff.handle is None and [d.code for d in ff.sanity_denials] == ["strategy_max_order_qty"]
    assert engine_sent == 0 and orders == []


# -- RUNAWAY CHILD ORDERS (knight-2012) -----------------------------------------------------------

@pytest.mark.parametrize("risk", RISK)
def test_runaway_child_orders_are_capped_by_the_position_limit_and_run_away_without_it(risk):
    async def body(ctx):
        a, b = ctx.engine("A"), ctx.engine("B")
        await _ladder(b, qty=10_000, levels=1)
        knight = RunawayChildren("powerpeg", a, "PRB", BUY, 10, feed=feed_for(a, ["PRB"]), clip_qty=2,
                                 interval_ns=10 * MS)
        await asyncio.sleep(0.01)
        knight.start()
        await asyncio.sleep(0.5)
        knight.stop()
        return knight, venue_orders(ctx.world, "A"), a

    knight, orders, engine = _run(body, risk, RiskLimits(max_position=10, max_order_qty=100))
    sent = sum(o.qty for o in orders)
    assert knight.children >= 40                       # it never stops trying
    if risk == "on":
        assert sent == 10 and knight.filled == 10
        assert engine.risk.denial_counts["max_position"] >= 30
    else:
        assert sent >= 80 and knight.filled >= 80      # 8x the parent


def test_the_fixed_child_order_logic_stops_at_the_parent_quantity():
    async def body(ctx):
        a, b = ctx.engine("A"), ctx.engine("B")
        await _ladder(b, qty=10_000, levels=1)
        fixed = RunawayChildren("peg", a, "PRB", BUY, 10, feed=feed_for(a, ["PRB"]), clip_qty=2, counts_fills=True)
        await asyncio.sleep(0.01)
        fixed.start()
        await asyncio.sleep(0.5)
        return fixed, venue_orders(ctx.world, "A")

    fixed, orders = _run(body, "off", RiskLimits())
    assert fixed.filled == 10 and sum(o.qty for o in orders) == 10


# -- FEEDBACK-LOOP HEDGER ----------------------------------------------------------------------------

@pytest.mark.parametrize("risk", RISK)
def test_a_hedger_hedging_its_own_hedges_is_stopped_by_max_order_qty_and_escalates_without_it(risk):
    async def body(ctx):
        a, b = ctx.engine("A"), ctx.engine("B")
        await _ladder(b, "PRB", 10_000, qty=1_000, levels=1)
        await _ladder(b, "HDG", 5_000, qty=20_000, levels=1)
        feed = feed_for(a, ["PRB", "HDG"])
        loop = FeedbackHedger("hedger", a, "PRB", "HDG", feed=feed, ratio=2)
        await asyncio.sleep(0.01)
        loop.start()
        a.submit("desk", "PRB", BUY, 10, 10_010, time_in_force="ioc")     # one ordinary fill starts it
        await asyncio.sleep(0.05)
        loop.stop()
        return loop, [o for o in venue_orders(ctx.world, "A") if o.price and o.price < 6_000]

    loop, hedges = _run(body, risk, RiskLimits(max_order_qty=100))
    if risk == "on":
        assert [o.qty for o in hedges] == [20, 40, 80]               # 160 was denied in the engine
        assert loop.hedges_sent == 4
    else:
        assert [o.qty for o in hedges[:5]] == [20, 40, 80, 160, 320]
        assert max(o.qty for o in hedges) >= 10_000


# -- PARTICIPATION WITHOUT A PRICE LIMIT (flash-crash-2010) ---------------------------------------

@pytest.mark.parametrize("risk", RISK)
def test_an_unlimited_participation_algo_is_stopped_by_the_market_order_ban_and_sells_into_the_market_without_it(risk):
    async def body(ctx):
        a = ctx.engine("A")
        algo = FeedbackParticipation("sell_algo", a, "PRB", SELL, 5_000, feed=feed_for(a, ["PRB"]),
                                     participation="0.3", interval_ns=100 * MS)
        await asyncio.sleep(0.1)
        algo.start()
        await asyncio.sleep(4)
        algo.stop()
        return algo, venue_orders(ctx.world, "A"), a

    algo, orders, engine = _run(body, risk, RiskLimits(market_order_policy="ban"), agents=True, warmup_ns=SECOND)
    assert algo.children >= 5
    if risk == "on":
        assert orders == [] and engine.risk.denial_counts["market_order_banned"] == algo.children
    else:
        assert len(orders) == algo.children and all(o.ord_type == "market" for o in orders)
        assert algo.filled > 0


def test_counting_its_own_volume_makes_the_participation_algo_sell_more_than_its_share():
    async def body(ctx):
        a = ctx.engine("A")
        feed = feed_for(a, ["PRB"])
        algo = FeedbackParticipation("sell_algo", a, "PRB", SELL, 5_000, feed=feed, participation="0.3")
        await asyncio.sleep(0.1)
        algo.start()
        await asyncio.sleep(4)
        algo.stop()
        tape = feed.book("PRB").volume - algo._volume0
        return algo.filled, tape

    filled, tape = _run(body, "off", RiskLimits(), agents=True, warmup_ns=SECOND)
    others = tape - filled
    assert filled > 0.3 * others * 1.2          # its share of the *others'* volume is well above 30%


# -- STALE QUOTER (stale-feed) --------------------------------------------------------------------

@pytest.mark.parametrize("risk", RISK)
def test_a_stale_quoter_requoting_on_a_frozen_feed_is_stopped_by_the_collar_and_picked_off_without_it(risk):
    async def body(ctx):
        a, b = ctx.engine("A"), ctx.engine("B")
        await _ladder(b, qty=5, levels=1)                                    # 9,990 / 10,010
        quoter = StaleQuoter("quoter", a, "PRB", feed=feed_for(a, ["PRB"]), half_spread_ticks=2)
        await asyncio.sleep(0.01)
        quoter.start()
        await asyncio.sleep(0.2)
        quotes_before = len(venue_orders(ctx.world, "A", replaces=True))
        ctx.world.venue.publisher.set_fault("PRB", frozen=True)
        a.set_reference("PRB", 10_200)                  # the independent reference sees the market move
        b.cancel_all()
        b.submit("lp", "PRB", BUY, 50, 10_190)          # the market moved up 2 points ...
        b.submit("lp", "PRB", SELL, 50, 10_210)
        b.submit("mover", "PRB", BUY, 1, 10_210, time_in_force="ioc")  # ... and the stale ask is taken
        await asyncio.sleep(0.5)
        quoter.stop(cancel_orders=False)
        after = venue_orders(ctx.world, "A", replaces=True)[quotes_before:]
        return quoter, after, a

    quoter, after, engine = _run(body, risk, RiskLimits(price_collar_ticks=50))
    if risk == "on":
        assert engine.position("PRB", "quoter") == -1     # picked off once: that quote was resting already
        assert after == [] and engine.risk.denial_counts["price_collar_ticks"] >= 1
    else:
        assert after and all(abs(o.price - 10_200) > 50 for o in after)   # stale quotes reached the venue
        assert engine.position("PRB", "quoter") <= -5     # and each one was picked off again


# -- RETRY STORM (everbright-2013) ----------------------------------------------------------------

@pytest.mark.parametrize("risk", RISK)
def test_a_market_order_retry_storm_is_throttled_by_the_order_rate_and_floods_the_venue_without_it(risk):
    async def body(ctx):
        a = ctx.engine("A")
        storm = RetryStorm("arb", a, "PRB", BUY, 100, timeout_ns=50_000)      # a round trip is 100 us
        storm.start()
        await asyncio.sleep(0.02)
        storm.stop()
        return storm, venue_orders(ctx.world, "A"), a

    storm, orders, engine = _run(body, risk, RiskLimits(max_order_submit_rate="5/00:00:01"))
    assert storm.attempts >= 300
    if risk == "on":
        assert len(orders) == 5 and engine.risk.denial_counts["max_order_submit_rate"] == storm.attempts - 5
    else:
        assert len(orders) >= storm.attempts - 1 and all(o.ord_type == "market" for o in orders)  # 1 in flight


def test_the_retry_storm_stops_once_a_fill_comes_back():
    async def body(ctx):
        a, b = ctx.engine("A"), ctx.engine("B")
        await _ladder(b, qty=10_000, levels=1)
        storm = RetryStorm("arb", a, "PRB", BUY, 100, timeout_ns=50_000)
        storm.start()
        await asyncio.sleep(0.02)
        return storm, a.position("PRB", "arb")

    storm, position = _run(body, "off", RiskLimits())
    assert storm.got_fill and storm.attempts == 2 and position == 200   # it bought twice what it wanted


# -- CANCEL/REPLACE STORM (cancel-storm) ----------------------------------------------------------

@pytest.mark.parametrize("risk", RISK)
def test_a_walking_replace_storm_is_stopped_by_the_collar_and_walks_away_without_it(risk):
    async def body(ctx):
        a = ctx.engine("A")
        storm = CancelReplaceStorm("storm", a, "PRB", BUY, 1, 9_950, mode="replace", step_ticks=1)
        storm.start()
        await asyncio.sleep(0.2)
        storm.stop()
        return storm, venue_orders(ctx.world, "A", replaces=True)

    storm, messages = _run(body, risk, RiskLimits(price_collar_ticks=60))
    replaces = [o for o in messages if o.msg_type == "G"]
    if risk == "on":
        assert max(o.price for o in replaces) == 10_060 and storm.refused >= 50
    else:
        assert len(replaces) >= 190 and max(o.price for o in replaces) >= 10_140


@pytest.mark.parametrize("risk", RISK)
def test_a_cancel_and_new_storm_is_throttled_by_the_order_rate_and_floods_the_venue_without_it(risk):
    async def body(ctx):
        a = ctx.engine("A")
        storm = CancelReplaceStorm("storm", a, "PRB", BUY, 1, 9_900, mode="cancel_new")
        storm.start()
        await asyncio.sleep(0.2)
        storm.stop()
        return storm, venue_orders(ctx.world, "A")

    storm, news = _run(body, risk, RiskLimits(max_order_submit_rate="20/00:00:01", max_open_orders=5))
    assert storm.news >= 190
    if risk == "on":
        assert len(news) <= 20
    else:
        assert len(news) == storm.news


# -- ALL OF THEM: halts --------------------------------------------------------------------------

def test_a_faulty_strategy_is_held_by_an_engine_halt_like_any_other():
    async def body(ctx):
        a = ctx.engine("A")
        a.halt(reason="kill: runaway suspected")
        storm = RetryStorm("arb", a, "PRB", BUY, 100, timeout_ns=50_000, on_halt="give_up")
        storm.start()
        await asyncio.sleep(0.02)
        return storm, venue_orders(ctx.world, "A")

    storm, orders = _run(body, "on", RiskLimits())
    assert storm.gave_up and storm.attempts == 1 and orders == []
