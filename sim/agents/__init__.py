"""Background market: seeded agents that trade inside the venue, and arbitrageurs that pounce.

The venue around a firm's order engine should behave like a market: prices that wander, a book
with depth, flow that trades against resting orders, and someone who takes a fat-finger order at
once.  This package provides it with one seeded ``numpy.random.Generator`` and the virtual clock,
so the same seed gives the same orders (``Market.digest()``).

Modules, one concept each:

* :mod:`~sim.agents.config` - frozen config dataclasses per agent type, loaded from the venue
  TOML's flat ``[agents]`` table, :class:`AgentsConfigError` naming the key and the reason;
* :mod:`~sim.agents.fundamental` - the integer-tick random walk of each symbol's value;
* :mod:`~sim.agents.base` - the agent base class (owner, position, commands) and symbol state;
* :mod:`~sim.agents.noise`, :mod:`~sim.agents.liquidity`, :mod:`~sim.agents.momentum`,
  :mod:`~sim.agents.arbitrage` - the four kinds of trader;
* :mod:`~sim.agents.market` - :class:`Market`: owns the rest, schedules it, routes events.

Wiring into a :class:`~sim.venue.Venue` (what :func:`attach_to_venue` does)::

    market = Market(config, venue.exchange, clock, emit=<the gateway's original dispatch>)
    gateway.dispatch = lambda events: (original(events), market.watch(events))
    market.start()

``emit`` carries the agents' BookChanges (market data) and the reports of *other* firms whose
orders they traded with; ``watch`` shows the market every event list the venue dispatches for
FIX flow, which is how arbitrageurs see a FIX firm's fat finger and LPs learn they were filled.
"""

from __future__ import annotations

from typing import Any

from sim.agents.arbitrage import Arbitrageur
from sim.agents.base import Agent, SymbolState, bps_ticks
from sim.agents.config import (
    AgentsConfig,
    AgentsConfigError,
    ArbitrageConfig,
    FundamentalConfig,
    LiquidityConfig,
    MomentumConfig,
    NoiseConfig,
    StressConfig,
    agents_config_from_dict,
)
from sim.agents.fundamental import FundamentalWalk
from sim.agents.liquidity import LiquidityProvider
from sim.agents.market import Market
from sim.agents.momentum import MomentumFollower
from sim.agents.noise import NoiseTrader

__all__ = [
    "Agent", "AgentsConfig", "AgentsConfigError", "ArbitrageConfig", "Arbitrageur", "FundamentalConfig",
    "FundamentalWalk", "LiquidityConfig", "LiquidityProvider", "Market", "MomentumConfig", "MomentumFollower",
    "NoiseConfig", "NoiseTrader", "StressConfig", "SymbolState", "agents_config_from_dict", "attach_to_venue",
    "bps_ticks",
]


def attach_to_venue(venue: Any, clock: Any, config: AgentsConfig | dict[str, Any] | None = None,
                    *, start: bool = True) -> Market | None:
    """Wire a Market into a Venue (emit + watch) and start it; None if ``[agents] enabled = false``.

    ``config`` defaults to the venue config's ``[agents]`` table.  The gateway's ``dispatch`` is
    wrapped on the *instance*, so every path that dispatches (order entry, cancel-on-disconnect,
    mass cancel) also feeds ``watch``; the Market emits through the unwrapped original.  A venue
    that grows a proper observer hook should call ``market.watch`` from it instead.
    """
    if config is None:
        config = agents_config_from_dict(venue.config.agents, source=getattr(venue.config, "source", "<venue>"))
    elif isinstance(config, dict):
        config = agents_config_from_dict(config)
    if not config.enabled:
        return None
    gateway = venue.gateway
    original = gateway.dispatch
    market = Market(config, venue.exchange, clock, emit=original)

    def dispatch(events: list) -> None:
        original(events)
        market.watch(events)

    gateway.dispatch = dispatch
    if start:
        market.start()
    return market
