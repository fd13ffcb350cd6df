"""What every background agent shares: identity, position, the three order commands, its timer.

An agent is one *owner* (a session-like string such as ``AGENTS-LP2:PRB``) of one *firm*
(``AGENTS-LP``) trading one symbol.  Owners are not FIX sessions, so the venue's gateway sends
their reports nowhere; the :class:`~sim.agents.market.Market` routes the reports it sees back to the
agent (fills update ``position``) and forwards only what others must see.

Commands go through :meth:`Market._submit` so that every one is counted, logged into the run's
digest and followed by the same event routing, whoever sends it.  An agent keeps the Exchange's
live :class:`~sim.exchange.Order` record of each resting order (``Exchange.order_by_id``): its
``done``, ``price``, ``cum_qty`` and current ``cl_ord_id`` are then always the venue's truth,
including fills by FIX firms the agent never heard about directly.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from sim.exchange import Order
from sim.venue_events import ExecReport, ExecType, OrdType, TimeInForce

if TYPE_CHECKING:
    from sim.agents.market import Market

__all__ = ["Agent", "SymbolState", "bps_ticks"]

LIMIT, MARKET = OrdType.LIMIT, OrdType.MARKET
IOC = TimeInForce.IOC
NEW = ExecType.NEW


def bps_ticks(price: int, bps: float, floor: int = 1) -> int:
    """Return ``bps`` basis points of ``price`` (ticks) as whole ticks (half up), at least ``floor``.

    >>> bps_ticks(10_000, 2.5), bps_ticks(10_000, 0.0), bps_ticks(200, 1.0)
    (3, 1, 1)
    """
    ticks = int(price * bps / 10_000.0 + 0.5)
    return ticks if ticks > floor else floor


class SymbolState:
    """What the agents know about one symbol besides the book: trades, stress, trading phase."""

    __slots__ = ("symbol", "book", "lot", "reference", "last_trade", "trades", "var", "var_w", "base", "base_w", "floor", "mids",
                 "stress", "halted", "arb")

    def __init__(self, symbol: str, book: object, lot: int, reference: int, lookback: int,
                 horizon: int = 11) -> None:
        self.symbol = symbol
        self.book = book                   # the Exchange's OrderBook (read only)
        self.lot = lot
        self.reference = reference
        self.last_trade: int | None = None
        self.trades: deque[int] = deque(maxlen=max(2, lookback))  # recent trade prices, oldest first
        self.var = self.var_w = 0.0        # short EWMA of squared sampled mid returns: sum, weight
        self.base = self.base_w = 0.0      # baseline (long) EWMA of the same: sum, weight
        self.floor = 0.0                   # least baseline: the fundamental's variance or one tick, if more
        self.mids: deque[int] = deque(maxlen=max(2, horizon))  # sampled mids in half ticks (bid + ask)
        self.stress = 1.0                  # realised vol now / its baseline (1 = as usual)
        self.halted = False
        self.arb = None                    # this symbol's arbitrageur, poked on every book change


class Agent:
    """Base of the background agents: one owner of one firm trading one symbol."""

    kind = "agent"
    firm = "AGENTS"

    def __init__(self, market: Market, owner: str, symbol: str, rng: np.random.Generator) -> None:
        self.market = market
        self.owner = owner
        self.symbol = symbol
        self.rng = rng
        self.state: SymbolState = market.state[symbol]
        self.position = 0          # signed quantity (not lots): + long
        self.fills = 0
        self.sent = {"N": 0, "C": 0, "R": 0}   # commands sent: new, cancel, replace
        self._next_id = 0
        self._timer = None
        # bound once: every action reads the clock and sets a timer, ~0.1 us per attribute chain
        self._now = market.clock.now_ns
        self._call_at = market.clock.call_at
        self._values = market.walk.value     # the live fundamentals (FundamentalWalk mutates it in place)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.owner} position={self.position}>"

    # -- LIFECYCLE --

    def start(self) -> None:
        """Schedule the agent's first action (the default agent never acts on its own)."""

    def stop(self) -> None:
        """Cancel the agent's pending timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _wake_at(self, ns: int, callback) -> None:
        self._timer = self._call_at(ns, callback)

    # -- REPORTS --

    def on_fill(self, report: ExecReport) -> None:
        """Account one of the agent's fills (from its own command or another firm's)."""
        self.fills += 1
        self.position += report.last_qty if report.side == 1 else -report.last_qty

    # -- COMMANDS --

    def _cl_ord_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def send_new(self, side: int, qty: int, price: int | None, ord_type: OrdType = LIMIT,
                 tif: TimeInForce | None = None) -> Order | None:
        """Send a new order; return the venue's live record if it rests, else None."""
        market = self.market
        next_id = self._next_id = self._next_id + 1  # _cl_ord_id, inline
        events = market.exchange.new_order(
            firm=self.firm, owner=self.owner, cl_ord_id=str(next_id), symbol=self.symbol, side=side,
            qty=qty, ord_type=ord_type, price=price, time_in_force=tif)
        market._submitted(self, "N", side, qty, price, events)
        # a resting order's record is live: fills by anyone show up in it
        if tif is None and ord_type is LIMIT:
            first = events[0]
            if type(first) is ExecReport and first.exec_type is NEW:
                order = market.exchange.order_by_id(self.firm, first.order_id)
                if order is not None and not order.done:
                    return order
        return None

    def send_cancel(self, order: Order) -> None:
        """Cancel one of the agent's resting orders (a done one is left alone)."""
        if order.done:
            return
        market = self.market
        next_id = self._next_id = self._next_id + 1
        events = market.exchange.cancel(firm=self.firm, owner=self.owner, cl_ord_id=str(next_id),
                                        orig_cl_ord_id=order.cl_ord_id, order_id=order.order_id)
        market._submitted(self, "C", order.side, order.leaves_qty, order.price, events)

    def send_replace(self, order: Order, leaves: int, price: int) -> bool:
        """Give a resting order new open quantity ``leaves`` and ``price``; False if the venue refused."""
        market = self.market
        next_id = self._next_id = self._next_id + 1
        events = market.exchange.replace(
            firm=self.firm, owner=self.owner, cl_ord_id=str(next_id), orig_cl_ord_id=order.cl_ord_id,
            order_id=order.order_id, symbol=self.symbol, side=order.side, qty=order.cum_qty + leaves,
            price=price)
        market._submitted(self, "R", order.side, leaves, price, events)
        return type(events[0]) is ExecReport
