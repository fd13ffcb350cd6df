"""Order engine end to end: strategies -> risk -> FIX -> venue and back, in virtual time."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from engines.order_engine import OrderState
from engines.risk import RiskEngine, RiskLimits, TradingState
from scenarios.world import World
from sim.clock import VirtualClock, current_clock, run_virtual
from sim.instruments import InstrumentTable
from sim.venue_config import venue_config_from_dict

CONFIG = {
    "venue": {"comp_id": "VENUE"},
    "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
    "firm": [{"id": "A", "cancel_on_disconnect": True}, {"id": "B"}],
}


def _run(body, limits: RiskLimits | None = None, latency_ns: int = 100_000):
    async def main():
        world = World(venue_config_from_dict(CONFIG), now_ns=current_clock().now_ns, latency_ns=latency_ns)
        a = world.add_engine("A", "A", risk=RiskEngine(limits) if limits else None)
        b = world.add_engine("B", "B")
        await world.logged_on()
        for engine in (a, b):
            engine.set_reference("PRB", 10_000)
        return await body(world, a, b)

    return run_virtual(main(), clock=VirtualClock())


async def _settle():
    await asyncio.sleep(0.01)


def test_an_order_is_acked_then_filled_and_positions_and_pnl_follow():
    async def body(world, a, b):
        ask = a.submit("mm", "PRB", 2, 10, 10_005)
        assert ask.state == OrderState.PENDING_NEW and not ask.acked
        await _settle()
        assert ask.state == OrderState.NEW and ask.order_id
        bid = b.submit("taker", "PRB", 1, 4, 10_010)
        await _settle()
        assert bid.state == OrderState.FILLED and bid.cum_qty == 4 and bid.avg_px_ticks == 10_005
        assert ask.state == OrderState.PARTIALLY_FILLED and ask.leaves_qty == 6
        assert a.position("PRB") == -4 and b.position("PRB") == 4
        a.set_reference("PRB", 10_000)
        assert a.unrealized_pnl() == Decimal("0.20")  # short 4 from 100.05, marked at 100.00
        return True

    assert _run(body)


def test_a_fat_finger_is_denied_by_the_engine_and_never_reaches_the_venue():
    async def body(world, a, b):
        before = len(world.venue.exchange.orders)
        handle = a.submit("mm", "PRB", 2, 610_000, 1)  # Mizuho: 610,000 at 1 instead of 1 at 610,000
        await _settle()
        assert handle.state == OrderState.DENIED and handle.reject_code
        assert len(world.venue.exchange.orders) == before
        return handle.reject_code

    code = _run(body, RiskLimits(max_order_qty=10_000, price_collar_bps=500))
    assert code == "max_order_qty"


def test_a_halted_engine_denies_new_orders_but_cancels_and_flatten_pass():
    async def body(world, a, b):
        resting = a.submit("mm", "PRB", 1, 5, 9_990)
        b.submit("taker", "PRB", 2, 3, 9_990)
        await _settle()
        assert a.position("PRB") == 3
        a.halt(reason="operator halt: runaway suspected")
        assert a.risk.state() == TradingState.HALTED
        denied = a.submit("mm", "PRB", 1, 1, 9_980)
        assert denied.state == OrderState.DENIED
        assert a.cancel(resting)
        b.submit("lp", "PRB", 1, 10, 9_995)
        await _settle()
        assert resting.state == OrderState.CANCELED
        flat = a.flatten("mm", "PRB", protect_ticks=10)
        await _settle()
        assert flat is not None and flat.state == OrderState.FILLED and a.position("PRB") == 0
        return True

    assert _run(body, RiskLimits(price_collar_ticks=50))


def test_replace_moves_the_order_and_the_venue_confirms():
    async def body(world, a, b):
        order = a.submit("mm", "PRB", 1, 5, 9_990)
        await _settle()
        assert a.replace(order, qty=8, price=9_995)
        assert order.state == OrderState.PENDING_REPLACE
        await _settle()
        assert (order.state, order.qty, order.price) == (OrderState.NEW, 8, 9_995)
        assert world.venue.exchange.books["PRB"].best_bid().price == 9_995
        return True

    assert _run(body)


def test_unacked_orders_are_tracked_until_the_ack_arrives():
    async def body(world, a, b):
        order = a.submit("mm", "PRB", 1, 5, 9_990)
        assert a.unacked() == [order]
        await asyncio.sleep(0.0005)  # latency 1 ms each way: not acked yet
        assert a.unacked(older_than_ns=400_000) == [order]
        await asyncio.sleep(0.01)
        assert a.unacked() == []
        return True

    assert _run(body, latency_ns=1_000_000)


def test_a_session_drop_cancels_the_firms_orders_at_the_venue():
    async def body(world, a, b):
        a.submit("mm", "PRB", 1, 5, 9_990)
        await _settle()
        assert world.venue.exchange.books["PRB"].best_bid() is not None
        world.disconnect("A")
        await _settle()
        assert world.venue.exchange.books["PRB"].best_bid() is None
        denied = a.submit("mm", "PRB", 1, 5, 9_990)
        assert denied.state == OrderState.DENIED and denied.reject_code == "not_connected"
        return True

    assert _run(body)


def test_the_same_run_twice_gives_identical_fix_traffic():
    async def body(world, a, b):
        for i in range(20):
            a.submit("mm", "PRB", 1 + i % 2, 1 + i, 9_990 + i)
            b.submit("mm", "PRB", 2 - i % 2, 2 + i, 9_995 + i)
            await asyncio.sleep(0.003)
        await _settle()
        return b"".join(world.venue_session("A").log.outgoing + world.venue_session("B").log.outgoing)

    assert _run(body) == _run(body)


def test_instrument_table_is_shared_with_the_venue():
    assert isinstance(venue_config_from_dict(CONFIG).instruments, InstrumentTable)
