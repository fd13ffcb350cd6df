"""Strategy base: lifecycle, layer-1 sanity limits, and what strategies do when the engine halts."""

from __future__ import annotations

import asyncio

import pytest

from engines.order_engine import OrderState
from engines.risk import RiskEngine, RiskLimits, TradingState
from engines.strategies.base import SanityLimits, Strategy, StrategyState
from engines.strategies.market_data import feed_for
from engines.strategies.taker import Taker
from engines.strategies.testing import run_world, venue_orders

CONFIG = {
    "venue": {"comp_id": "VENUE"},
    "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
    "firm": [{"id": "A"}, {"id": "B"}],
}
REFS = {"PRB": 10_000}


async def _book(b, bid=9_990, ask=10_010, qty=100):
    b.submit("lp", "PRB", 1, qty, bid)
    b.submit("lp", "PRB", 2, qty, ask)
    await asyncio.sleep(0.01)


def _run(body, risk_a=None):
    return run_world(body, CONFIG, engines={"A": risk_a, "B": None}, references=REFS)


def test_an_order_beyond_the_strategys_own_limits_never_reaches_the_engine():
    async def body(ctx):
        a = ctx.engine("A")
        await _book(ctx.engine("B"))
        s = Strategy("s", a, feed=feed_for(a, ["PRB"]),
                     sanity=SanityLimits(max_order_qty=10, max_order_notional="5000", max_price_deviation_ticks=50))
        await asyncio.sleep(0.01)
        s.start()
        assert s.send("PRB", 1, 11, 10_000) is None                  # 11 > max_order_qty 10
        assert s.send("PRB", 1, 1, 10_100) is None                   # 100 ticks from its view (mid 10,000)
        ok = s.send("PRB", 1, 6, 10_020)                             # 6 x 100.20 = 601.20 <= 5,000
        codes = [d.code for d in s.sanity_denials]
        s.stop()
        return codes, ok, a.sent

    codes, ok, engine_orders = _run(body)
    assert codes == ["strategy_max_order_qty", "strategy_price_deviation"]
    assert ok is not None and engine_orders == 1                     # only the sane one reached the engine


def test_notional_and_missing_view_are_refused_by_layer_one_and_off_switches_it():
    async def body(ctx):
        a = ctx.engine("A")
        strict = Strategy("strict", a, sanity=SanityLimits(max_order_notional="1000", max_price_deviation_bps=100))
        off = Strategy("off", a, sanity=SanityLimits.off())
        strict.start()
        off.start()
        refused = [strict.send("PRB", 1, 20, 10_000), strict.send("PRB", 1, 1, 10_000)]
        passed = off.send("PRB", 1, 20, 10_000)
        strict.stop()
        off.stop()
        return [d.code for d in strict.sanity_denials], refused, passed

    codes, refused, passed = _run(body)
    assert codes == ["strategy_max_order_notional", "strategy_no_view"] and refused == [None, None]
    assert passed is not None and passed.state is OrderState.PENDING_NEW


def test_a_strategy_waits_through_an_engine_halt_and_resends_its_order_after_resume():
    async def body(ctx):
        a = ctx.engine("A")
        await _book(ctx.engine("B"))
        taker = Taker("taker", a, "PRB", feed=feed_for(a, ["PRB"]), side=1, take_probability=1.0,
                      clip_qty=2, max_position=2, on_halt="wait", interval_ns=100_000_000)
        await asyncio.sleep(0.01)
        a.halt(reason="operator halt: drill")
        taker.start()
        await asyncio.sleep(1.0)
        during = venue_orders(ctx.world, "A")
        parked = list(taker.parked)
        a.resume(reason="drill over")
        await asyncio.sleep(0.3)
        taker.stop()
        return taker, during, parked, venue_orders(ctx.world, "A"), a.position("PRB", "taker")

    taker, during, parked, after, position = _run(body)
    assert during == [] and len(parked) == 1
    assert [kind for _, kind in taker.halt_events] == ["halted", "resumed"]
    assert len(after) == 1 and (after[0].qty, after[0].price) == (parked[0].qty, parked[0].price) == (2, 10_010)
    assert position == 2 and taker.error is None


def test_a_strategy_with_give_up_cancels_and_stops_when_halted_and_sends_nothing_after_resume():
    async def body(ctx):
        a = ctx.engine("A")
        await _book(ctx.engine("B"))
        resting = a.submit("quitter", "PRB", 1, 1, 9_900)
        taker = Taker("quitter", a, "PRB", feed=feed_for(a, ["PRB"]), side=1, take_probability=1.0,
                      on_halt="give_up", interval_ns=100_000_000)
        await asyncio.sleep(0.01)
        taker.start()
        a.halt(strategy="quitter", reason="strategy halted by risk desk")
        await asyncio.sleep(0.5)
        a.resume(strategy="quitter")
        await asyncio.sleep(0.5)
        return taker, resting, venue_orders(ctx.world, "A")

    taker, resting, orders = _run(body)
    assert taker.gave_up and taker.state is StrategyState.STOPPED and taker.parked == []
    assert resting.state is OrderState.CANCELED
    assert [o.price for o in orders] == [9_900]          # only the order from before the halt


def test_a_halt_seen_by_risk_state_not_just_a_denial_code_is_left_only_when_active_again():
    async def body(ctx):
        a = ctx.engine("A")
        s = Strategy("s", a, interval_ns=10_000_000)
        s.start()
        a.halt()
        assert s.send("PRB", 1, 1, 10_000) is None or s.halted
        assert s.halted and s.send("PRB", 1, 1, 10_001) is None and len(s.parked) == 2
        await asyncio.sleep(0.05)
        assert s.halted and a.risk.state("s") is TradingState.HALTED
        a.resume()
        await asyncio.sleep(0.05)
        s.stop()
        return s, venue_orders(ctx.world, "A")

    s, orders = _run(body, RiskEngine(RiskLimits()))
    assert not s.halted and [o.price for o in orders] == [10_000, 10_001]


def test_a_hook_that_raises_faults_the_strategy_but_not_the_engine():
    class Broken(Strategy):
        def on_timer(self):
            raise ZeroDivisionError("bug")

    async def body(ctx):
        a = ctx.engine("A")
        s = Broken("broken", a, interval_ns=1_000_000)
        s.start()
        await asyncio.sleep(0.01)
        order = a.submit("other", "PRB", 1, 1, 9_999)
        await asyncio.sleep(0.01)
        return s, order

    s, order = _run(body)
    assert s.state is StrategyState.FAULTED and isinstance(s.error, ZeroDivisionError)
    assert order.state is OrderState.NEW


def test_bad_lifecycle_and_policy_arguments_are_refused():
    async def body(ctx):
        a = ctx.engine("A")
        with pytest.raises(ValueError, match="on_halt"):
            Strategy("x", a, on_halt="panic")
        with pytest.raises(ValueError, match="interval_ns"):
            Strategy("x", a, interval_ns=0)
        s = Strategy("x", a)
        s.start()
        with pytest.raises(RuntimeError, match="ready"):
            s.start()
        s.stop()
        return s.state

    assert _run(body) is StrategyState.STOPPED
