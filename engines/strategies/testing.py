"""Helpers for strategy tests and scenarios: what the venue actually received from a firm.

The point of the faulty strategies is to show where a bad order stops, so tests read the
*venue's* side: the messages its session for a CompID received (``Venue`` sessions keep a
:class:`~sim.fix.session.MemoryLog` unless a log path is configured).

>>> VenueOrder("A-1", 1, 5, 10_000, "limit", "D").notional_ticks
50000
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engines.order_engine import OrderEngine
from engines.risk import RiskEngine
from scenarios.world import World
from sim.agents import attach_to_venue
from sim.clock import Clock, VirtualClock, current_clock, run_virtual
from sim.fix.codec import decode
from sim.venue_config import venue_config_from_dict

__all__ = ["VenueOrder", "venue_orders", "venue_messages", "SimContext", "run_world"]

_ORD_TYPES = {b"1": "market", b"2": "limit"}


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """A NewOrderSingle (D) or CancelReplaceRequest (G) as the venue received it."""

    cl_ord_id: str
    side: int
    qty: int
    price: int | None      # ticks; None for market orders
    ord_type: str
    msg_type: str          # "D" or "G"

    @property
    def notional_ticks(self) -> int:
        """qty x price in ticks (0 for market orders)."""
        return self.qty * (self.price or 0)


def venue_messages(world, comp_id: str, msg_types: tuple[bytes, ...] = (b"D",)) -> list:
    """Decoded application messages of the given types the venue received from ``comp_id``."""
    log = world.venue_session(comp_id).log
    incoming = getattr(log, "incoming", None)
    if incoming is None:
        raise TypeError("the venue session keeps no in-memory log (a log_path is configured)")
    messages = []
    for raw in incoming:
        msg = decode(raw)
        if msg.msg_type() in msg_types:
            messages.append(msg)
    return messages


def venue_orders(world, comp_id: str, *, replaces: bool = False) -> list[VenueOrder]:
    """New orders (and replaces, if asked) the venue received from ``comp_id``, prices in ticks."""
    types = (b"D", b"G") if replaces else (b"D",)
    table = world.venue.exchange.instruments
    orders = []
    for msg in venue_messages(world, comp_id, types):
        symbol = (msg.get(55) or b"").decode("latin-1")
        raw_price = msg.get(44)
        price = table.get(symbol).to_ticks(raw_price) if raw_price is not None and symbol in table else None
        orders.append(VenueOrder((msg.get(11) or b"").decode("latin-1"), int(msg.get(54) or b"0"),
                                 int(Decimal((msg.get(38) or b"0").decode())), price,
                                 _ORD_TYPES.get(msg.get(40) or b"", "?"), msg.msg_type().decode()))
    return orders


@dataclass
class SimContext:
    """What :func:`run_world` hands the body: the world, its engines by name, the market, the clock."""

    world: World
    engines: dict[str, OrderEngine]
    clock: Clock
    market: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def engine(self, name: str) -> OrderEngine:
        """An engine by name."""
        return self.engines[name]


def run_world(body: Callable[[SimContext], Awaitable[Any]], config: dict[str, Any], *,
              engines: dict[str, RiskEngine | None], references: dict[str, int] | None = None,
              agents: bool = False, warmup_ns: int = 0, latency_ns: int = 50_000,
              clock: VirtualClock | None = None) -> Any:
    """Run ``await body(ctx)`` in virtual time in a :class:`World` built from a venue config dict.

    ``engines`` maps engine name (also its CompID, a firm of the config) to its RiskEngine (None =
    risk layer off); ``references`` sets each engine's independent reference price per symbol;
    ``agents=True`` attaches the background market of the config's ``[agents]`` table, then
    ``warmup_ns`` passes before the body runs.  The market is stopped afterwards.
    """
    async def main() -> Any:
        now = current_clock()
        world = World(venue_config_from_dict(config), now_ns=now.now_ns, latency_ns=latency_ns)
        built = {name: world.add_engine(name, name, risk=risk) for name, risk in engines.items()}
        await world.logged_on()
        for engine in built.values():
            for symbol, ticks in (references or {}).items():
                engine.set_reference(symbol, ticks)
        market = attach_to_venue(world.venue, now) if agents else None
        ctx = SimContext(world, built, now, market)
        if warmup_ns:
            await now.sleep_ns(warmup_ns)
        try:
            return await body(ctx)
        finally:
            if market is not None:
                market.stop()

    return run_virtual(main(), clock=clock or VirtualClock())
