"""The reference plug-in engine (examples/minimal_engine.py) trading against the real venue in a World.

It is wired exactly as a team's own engine would be (``engines.testing.connect_engine``), trades
against the built-in engine as counterparty, and carries a stock strategy with its market data,
halt and resume included: the point is that nothing outside the engine needs to know it is not
the built-in one.
"""

from __future__ import annotations

import asyncio
import doctest
import importlib.util
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np

from engines.order_engine import OrderEngine, OrderState
from engines.protocol import OrderEngineProtocol
from engines.risk import RiskEngine, RiskLimits, TradingState
from engines.strategies.base import SanityLimits
from engines.strategies.market_data import feed_for
from engines.strategies.taker import Taker
from engines.strategies.testing import venue_messages
from engines.testing import connect_engine
from scenarios.world import World
from sim.clock import VirtualClock, current_clock, run_virtual
from sim.instruments import InstrumentTable
from sim.venue_config import venue_config_from_dict


def _load_example():
    """examples/ is not a package: load the module from its file, as a reader would run it."""
    path = Path(__file__).resolve().parents[2] / "examples" / "minimal_engine.py"
    spec = importlib.util.spec_from_file_location("examples_minimal_engine", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


minimal = _load_example()
MinimalEngine = minimal.MinimalEngine

CONFIG = {
    "venue": {"comp_id": "VENUE"},
    "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
    "firm": [{"id": "MIN"}, {"id": "CP"}],
}


def _run(body, limits: RiskLimits | None = None):
    async def main():
        now = current_clock().now_ns
        world = World(venue_config_from_dict(CONFIG), now_ns=now, latency_ns=100_000)
        cp = world.add_engine("CP", "CP")
        engine = connect_engine(world, MinimalEngine, "MIN", risk=RiskEngine(limits or RiskLimits(), clock=now))
        await world.logged_on()
        for e in (engine, cp):
            e.set_reference("PRB", 10_000)
        return await body(world, engine, cp)

    return run_virtual(main(), clock=VirtualClock())


async def _settle():
    await asyncio.sleep(0.01)


def test_the_minimal_engine_and_the_built_in_one_both_satisfy_the_protocol():
    instruments = InstrumentTable(list(venue_config_from_dict(CONFIG).instruments))
    for cls in (MinimalEngine, OrderEngine):
        engine = cls("X", instruments, now_ns=lambda: 0, risk=RiskEngine())
        assert isinstance(engine, OrderEngineProtocol)


def test_the_minimal_engine_rests_is_filled_and_books_position_and_pnl():
    async def body(world, engine, cp):
        ask = engine.submit("mm", "PRB", 2, 10, 10_005)
        await _settle()
        assert ask.state is OrderState.NEW and ask.order_id
        assert world.venue.exchange.books["PRB"].best_ask().price == 10_005
        cp.submit("taker", "PRB", 1, 4, 10_010)
        await _settle()
        assert ask.state is OrderState.PARTIALLY_FILLED and ask.cum_qty == 4 and ask.leaves_qty == 6
        assert engine.position("PRB") == -4 and cp.position("PRB") == 4
        assert engine.unrealized_pnl() == Decimal("0.20")  # short 4 from 100.05, marked at 100.00
        assert engine.cancel_all() == 1
        await _settle()
        assert ask.state is OrderState.CANCELED and engine.open_order_count() == 0
        return True

    assert _run(body)


def test_a_fat_finger_on_the_minimal_engine_is_denied_by_its_risk_engine_and_never_sent():
    async def body(world, engine, cp):
        handle = engine.submit("mm", "PRB", 2, 610_000, 1)
        await _settle()
        assert handle.state is OrderState.DENIED and handle.reject_code == "max_order_qty"
        assert venue_messages(world, "MIN") == [] and engine.sent == 0
        return True

    assert _run(body, RiskLimits(max_order_qty=10_000))


def test_a_stock_strategy_trades_through_the_minimal_engine_and_waits_out_a_halt():
    async def body(world, engine, cp):
        for price in range(10_001, 10_011):
            cp.submit("lp", "PRB", 2, 100, price)
        await _settle()
        taker = Taker("tk", engine, "PRB", feed=feed_for(engine, ["PRB"]), side=1, clip_qty=5,
                      take_probability=1.0, max_position=1_000, interval_ns=100_000_000,
                      sanity=SanityLimits.off(), rng=np.random.default_rng(7))
        taker.start()
        await asyncio.sleep(1.0)
        traded = engine.position("PRB", "tk")
        assert traded > 0 and traded % 5 == 0
        engine.halt(reason="drill")
        await asyncio.sleep(0.5)
        assert taker.halted and engine.risk.state("tk") is TradingState.HALTED
        assert engine.position("PRB", "tk") <= traded + 5  # at most the clip in flight at the halt
        frozen = engine.position("PRB", "tk")
        await asyncio.sleep(0.5)
        assert engine.position("PRB", "tk") == frozen
        engine.resume()
        await asyncio.sleep(1.0)
        assert not taker.halted and engine.position("PRB", "tk") > frozen
        taker.stop()
        return True

    assert _run(body)


def test_the_examples_in_the_minimal_engine_docstring_run():
    result = doctest.testmod(minimal, verbose=False)
    assert result.attempted >= 1 and result.failed == 0
