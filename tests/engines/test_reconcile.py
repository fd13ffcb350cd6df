"""Order engine reconciliation after a re-logon or a restart, in virtual time with the in-memory World."""

from __future__ import annotations

import asyncio

from engines.order_engine import OrderEngine, OrderHandle, OrderState
from scenarios.world import World
from sim.clock import VirtualClock, current_clock, run_virtual
from sim.fix.session import Session, SessionConfig
from sim.fix.store import SessionID
from sim.fix.transport import memory_pipe
from sim.venue_config import venue_config_from_dict

CONFIG = {
    "venue": {"comp_id": "VENUE"},
    "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
    "firm": [{"id": "A"}, {"id": "B"}],  # no cancel-on-disconnect: A's orders outlive its session
}
LATENCY_NS = 2_000_000  # 2 ms each way: a status round trip is long enough to try trading inside it


def _run(body):
    async def main():
        world = World(venue_config_from_dict(CONFIG), now_ns=current_clock().now_ns, latency_ns=LATENCY_NS)
        a = world.add_engine("A", "A")
        b = world.add_engine("B", "B")
        await world.logged_on()
        return await body(world, a, b)

    return run_virtual(main(), clock=VirtualClock())


async def _settle():
    await asyncio.sleep(0.05)


def _reconnect(world: World, engine: OrderEngine, comp_id: str) -> None:
    """Re-open the engine's link to the venue (the World's sessions reset sequence numbers on logon)."""
    world.drivers[engine.name] = memory_pipe(engine.session, world.venue_session(comp_id),
                                             now_ns=world.now_ns, latency_ns=world.latency_ns)


async def _until_logged_on(engine: OrderEngine) -> None:
    while not engine.session.logged_on:
        await asyncio.sleep(0.0001)


def test_fills_missed_while_disconnected_are_booked_and_trading_waits_for_the_statuses():
    async def body(world, a, b):
        bid = a.submit("mm", "PRB", 1, 10, 9_990)
        ask = a.submit("mm", "PRB", 2, 5, 10_020)
        await _settle()
        assert bid.state == OrderState.NEW and ask.state == OrderState.NEW
        world.disconnect("A")
        await _settle()
        b.submit("taker", "PRB", 2, 4, 9_990)        # trades with A's bid; A's session is down
        b.submit("taker", "PRB", 1, 5, 10_020)       # fills A's ask completely
        await _settle()
        assert bid.cum_qty == 0 and ask.state == OrderState.NEW  # A heard nothing
        _reconnect(world, a, "A")
        await _until_logged_on(a)
        assert set(a.reconciling) == {bid.cl_ord_id, ask.cl_ord_id}
        denied = a.submit("mm", "PRB", 1, 1, 9_980)
        assert denied.state == OrderState.DENIED and denied.reject_code == "reconciling"
        assert "reconciling 2 open order(s)" in denied.reject_text
        assert not a.replace(bid, price=9_985)
        assert a.cancel(ask)                          # cancels always pass (this one is too late: filled)
        await _settle()
        assert not a.reconciling
        assert (bid.cum_qty, bid.notional_ticks) == (4, 4 * 9_990) and a.position("PRB") == 4 - 5
        assert ask.state == OrderState.FILLED and ask.cl_ord_id not in a.open_orders
        fills = [u for u in bid.updates if u.kind == "fill"]
        assert len(fills) == 1 and fills[0].code == "reconciled" and fills[0].fill.qty == 4
        assert fills[0].fill.exec_id.startswith("reconcile:")
        again = a.submit("mm", "PRB", 1, 1, 9_980)
        await _settle()
        assert again.state == OrderState.NEW
        return True

    assert _run(body)


def test_an_order_the_venue_does_not_know_is_closed_as_rejected():
    async def body(world, a, b):
        ghost = OrderHandle("A-900", "mm", "PRB", 1, 3, 9_990, "limit", "day", state=OrderState.NEW,
                            order_id="O999", cl_ord_ids=["A-900"])
        a.adopt([ghost])                              # logged on: reconciled at once
        assert list(a.reconciling) == ["A-900"]
        await _settle()
        assert ghost.state == OrderState.REJECTED and ghost.reject_code == "reconcile_unknown_order"
        assert "Unknown order" in ghost.reject_text and not a.open_orders and not a.reconciling
        fresh = a.submit("mm", "PRB", 1, 1, 9_980)
        assert fresh.cl_ord_id == "A-901"             # new ClOrdIDs continue past the adopted ones
        return True

    assert _run(body)


def test_a_restarted_engine_adopts_its_open_orders_and_learns_what_happened_meanwhile():
    async def body(world, a, b):
        resting = a.submit("mm", "PRB", 1, 10, 9_990)
        moved = a.submit("mm", "PRB", 1, 6, 9_980)
        await _settle()
        a.replace(moved, price=9_985)
        await _settle()
        world.disconnect("A")                         # the engine process dies
        await _settle()
        b.submit("taker", "PRB", 2, 12, 9_985)        # 10 from `resting`, 2 from `moved` (now at 99.85)
        await _settle()
        # What the restarted engine kept on disk about its open orders (ClOrdID chain, OrderID, fills).
        kept = [OrderHandle(h.cl_ord_ids[0], h.strategy, h.symbol, h.side, h.qty, h.price, h.ord_type,
                            h.time_in_force, state=h.state, order_id=h.order_id, cl_ord_ids=list(h.cl_ord_ids))
                for h in (resting, moved)]
        restarted = OrderEngine("A", world.venue.exchange.instruments, now_ns=world.now_ns)
        sid = SessionID("FIX.4.4", "A", "VENUE")
        restarted.attach(Session(SessionConfig(sid, initiator=True, reset_on_logon=True), now_ns=world.now_ns))
        restarted.adopt(kept)
        world.engines["A"] = restarted
        _reconnect(world, restarted, "A")
        await _until_logged_on(restarted)
        assert restarted.submit("mm", "PRB", 1, 1, 9_970).reject_code == "reconciling"
        await _settle()
        first, second = kept
        assert (first.state, first.cum_qty) == (OrderState.FILLED, 10)
        assert (second.state, second.cum_qty, second.price, second.leaves_qty) == \
            (OrderState.PARTIALLY_FILLED, 2, 9_985, 4)
        assert restarted.position("PRB") == 12 and list(restarted.open_orders) == [second.cl_ord_id]
        follow = restarted.submit("mm", "PRB", 1, 1, 9_970)
        assert follow.cl_ord_id == "A-5"              # A-1..A-4 were used before the restart
        await _settle()
        assert follow.state == OrderState.NEW
        return True

    assert _run(body)


def test_reconciliation_can_be_switched_off():
    async def body(world, a, b):
        a.reconcile_on_logon = False
        a.submit("mm", "PRB", 1, 10, 9_990)
        await _settle()
        world.disconnect("A")
        await _settle()
        _reconnect(world, a, "A")
        await _until_logged_on(a)
        assert not a.reconciling and a.submit("mm", "PRB", 1, 1, 9_980).state == OrderState.PENDING_NEW
        return True

    assert _run(body)
