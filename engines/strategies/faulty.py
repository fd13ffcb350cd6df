"""Strategies broken on purpose, one per incident shape (see /work/shared/INCIDENTS.md).

Each one reproduces the *shape* of a real failure, scaled to the simulator, so scenarios can show
which defence layer stops it: the strategy's own sanity limits (layer 1, **off by default here**:
they are what failed), the order engine's pre-trade risk (layer 2), the venue's protections
(layer 3).  Every class is parameterised and its docstring names the incident and the control
that stops it.  They are still deterministic: time from the loop's clock, randomness (none needed
so far) from the Generator.

=========================  ==================  ===============================================
class                      incident            what is broken
=========================  ==================  ===============================================
FatFinger                  mizuho-2005,        price/qty swapped; notional typed as quantity;
                           citi-2022           extra zeros
RunawayChildren            knight-2012         never counts its fills, so child orders never end
FeedbackHedger             (hedging loops)     hedges its own hedge fills, which it then hedges
FeedbackParticipation      flash-crash-2010    participation algo, no price/time limit, its own
                                               volume raises its rate, market orders
StaleQuoter                stale-feed          market maker without a stale-data guard
RetryStorm                 everbright-2013     re-sends a market order on every timeout
CancelReplaceStorm         cancel-storm        cancel/replace (or cancel+new) without waiting
=========================  ==================  ===============================================
"""

from __future__ import annotations

import math
from fractions import Fraction

from engines.order_engine import OrderHandle, OrderState, OrderUpdate
from engines.strategies.base import BUY, SELL, OrderRequest, SanityLimits, Strategy
from engines.strategies.market_maker import MarketMaker
from engines.strategies.twap import Twap

__all__ = ["FatFinger", "RunawayChildren", "FeedbackHedger", "FeedbackParticipation", "StaleQuoter",
           "RetryStorm", "CancelReplaceStorm", "MISTAKES"]

MISTAKES = ("swap", "units", "zeros")


def _off(kwargs: dict) -> dict:
    """Faulty strategies default to layer 1 off: their own checks are what failed."""
    kwargs.setdefault("sanity", SanityLimits.off())
    return kwargs


class FatFinger(Strategy):
    """One order typed wrong (Mizuho 2005: 610,000 shares at 1 yen instead of 1 share at 610,000;
    Citi 2022: a notional typed into the units field).

    The trader meant ``side`` ``intended_qty`` at ``intended_price`` (ticks); what is sent depends
    on ``mistake``:

    * ``"swap"`` - price and quantity swapped: qty = intended_price, price = intended_qty ticks
      (mizuho-2005);
    * ``"units"`` - the notional (intended_qty x intended_price x tick size, in currency) typed as
      the quantity, at the intended price (citi-2022);
    * ``"zeros"`` - ``zeros`` extra zeros on the quantity (default 3: x1000).

    Sent once, ``delay_ns`` after start (default at start); ``ord_type`` "limit" (default) or
    "market".  Stopped by: max order qty / % of shares outstanding, max notional, price collar
    (engine); max order size/value, price bands (venue).  The order's handle is ``handle``.
    """

    def __init__(self, name, engine, symbol: str, side: int, intended_qty: int, intended_price: int, *,
                 mistake: str = "swap", zeros: int = 3, delay_ns: int = 0, ord_type: str = "limit",
                 **kwargs) -> None:
        if mistake not in MISTAKES:
            raise ValueError(f"mistake must be one of {MISTAKES}, got {mistake!r}")
        super().__init__(name, engine, interval_ns=max(delay_ns, 1_000_000), **_off(kwargs))
        self.symbol = symbol
        self.side = side
        self.intended_qty = intended_qty
        self.intended_price = intended_price
        self.mistake = mistake
        self.zeros = zeros
        self.delay_ns = delay_ns
        self.ord_type = ord_type
        self.handle: OrderHandle | None = None
        self.sent = False

    def bad_order(self) -> OrderRequest:
        """The order as mistyped."""
        qty, price = self.intended_qty, self.intended_price
        if self.mistake == "swap":
            qty, price = price, qty
        elif self.mistake == "units":
            tick = self.engine.instruments.get(self.symbol).tick_size
            qty = int(self.intended_qty * self.intended_price * tick)
        else:
            qty = qty * 10 ** self.zeros
        qty = max(self.lot(self.symbol), self.round_lots(self.symbol, qty))
        return OrderRequest(self.symbol, self.side, qty, None if self.ord_type == "market" else price,
                            self.ord_type, "day")

    def on_start(self) -> None:
        """Send at once if there is no delay."""
        if self.delay_ns == 0:
            self._fire()

    def on_timer(self) -> None:
        """Send once the delay has passed."""
        if not self.sent:
            self._fire()

    def _fire(self) -> None:
        self.sent = True
        self.handle = self.send_request(self.bad_order())


class RunawayChildren(Strategy):
    """Knight Capital 2012: a parent order whose fills are never counted, so children never stop.

    A repurposed flag re-activated old code ("Power Peg") that sent child orders for a parent but
    never recognised the parent as filled.  Here: the parent is ``side`` ``parent_qty``; every tick
    (``interval_ns``, default 10 ms) a child of ``clip_qty`` is sent while
    ``counted + working < parent_qty``; with ``counts_fills=False`` (the bug, default) ``counted``
    stays 0, so it goes on for ever.  Children are IOC limits at the touch of its view plus
    ``slip_ticks`` (or market orders without a feed).  ``filled`` is what really traded.
    Stopped by: max position / gross notional, order rate, repeated-execution throttle, kill switch.
    """

    def __init__(self, name, engine, symbol: str, side: int, parent_qty: int, *, feed=None,
                 clip_qty: int | None = None, slip_ticks: int = 5, counts_fills: bool = False,
                 interval_ns: int = 10_000_000, **kwargs) -> None:
        super().__init__(name, engine, feed=feed, interval_ns=interval_ns, **_off(kwargs))
        self.symbol = symbol
        self.side = side
        self.parent_qty = parent_qty
        self.clip_qty = clip_qty or engine.instruments.get(symbol).lot_size
        self.slip_ticks = slip_ticks
        self.counts_fills = counts_fills
        self.counted = 0
        self.filled = 0
        self.children = 0

    def on_timer(self) -> None:
        """Send the next child if the (miscounted) parent is not done."""
        if self.counted + abs(self.working(self.symbol)) >= self.parent_qty:
            return
        qty = min(self.clip_qty, self.parent_qty - self.counted)
        view = self.view(self.symbol)
        self.children += 1
        if view is None:
            self.send(self.symbol, self.side, qty, None, ord_type="market")
            return
        touch = view.best(SELL if self.side == BUY else BUY)
        if touch is None:
            return
        price = touch[0] + self.slip_ticks if self.side == BUY else max(1, touch[0] - self.slip_ticks)
        self.send(self.symbol, self.side, qty, price, time_in_force="ioc")

    def on_order_update(self, update: OrderUpdate) -> None:
        """Book fills; count them toward the parent only if the code is the right version."""
        if update.kind == "fill" and update.fill is not None:
            self.filled += update.fill.qty
            if self.counts_fills:
                self.counted += update.fill.qty


class FeedbackHedger(Strategy):
    """A hedger that hedges its own hedges: each hedge fill is seen as new exposure and hedged again.

    The intended job: for each fill in ``source_symbol`` by another strategy, trade the opposite
    side in ``hedge_symbol`` for ``ceil(ratio x qty)``.  The bug: it reacts to *every* fill on the
    engine, its own hedge fills in ``hedge_symbol`` included (``hedges_own_fills=True``, default),
    so one fill starts a loop that runs as fast as the round trip; with ``ratio >= 1`` it never
    decays and the size grows as ratio^n.  Hedges are IOC limits ``slip_ticks`` through the touch
    of its view.  Stopped by: max order qty, position limit, order rate, repeated-execution throttle.
    """

    def __init__(self, name, engine, source_symbol: str, hedge_symbol: str, *, feed,
                 ratio: Fraction | int | str = 1, slip_ticks: int = 2, hedges_own_fills: bool = True,
                 **kwargs) -> None:
        super().__init__(name, engine, feed=feed, **_off(kwargs))
        self.source_symbol = source_symbol
        self.hedge_symbol = hedge_symbol
        self.ratio = Fraction(ratio)
        self.slip_ticks = slip_ticks
        self.hedges_own_fills = hedges_own_fills
        self.hedges_sent = 0
        self.largest_hedge = 0

    def on_engine_update(self, update: OrderUpdate) -> None:
        """Hedge every fill it sees (its own too, when buggy)."""
        if update.kind != "fill" or update.fill is None:
            return
        fill = update.fill
        own = fill.strategy == self.name
        if own and not self.hedges_own_fills:
            return
        if not own and fill.symbol != self.source_symbol:
            return
        side = SELL if fill.side == BUY else BUY
        qty = self.round_lots(self.hedge_symbol, math.ceil(self.ratio * fill.qty)) or self.lot(self.hedge_symbol)
        self.soon(self._hedge, side, qty)

    def _hedge(self, side: int, qty: int) -> None:
        view = self.view(self.hedge_symbol)
        if view is None:
            return
        touch = view.best(SELL if side == BUY else BUY)
        if touch is None:
            return
        price = touch[0] + self.slip_ticks if side == BUY else max(1, touch[0] - self.slip_ticks)
        self.hedges_sent += 1
        self.largest_hedge = max(self.largest_hedge, qty)
        self.send(self.hedge_symbol, side, qty, price, time_in_force="ioc")


class FeedbackParticipation(Twap):
    """Flash Crash 2010: a sell algo at a share of volume, no price and no time limit, in a thinning book.

    A :class:`~engines.strategies.twap.Twap` with the settings of the 6 May 2010 sell program:
    ``participation`` (default 9%), ``duration_ns=None`` (no time limit), ``limit_price=None``,
    ``count_own_volume=True`` (its own trades, and the hot-potato trading they cause, raise the
    volume it keys on, so the more it sells the faster it sells) and ``child_type="market"``
    (default).  In a book whose liquidity providers withdraw, each market order walks further
    down.  Stopped by: market-order ban/protection and price collar (engine), price bands /
    stop-logic pause (venue); the working algo has a price limit and leaves its own volume out.
    """

    def __init__(self, name, engine, symbol: str, side: int, total_qty: int, *, feed,
                 participation: Fraction | int | str | float = "0.09", child_type: str = "market",
                 interval_ns: int = 100_000_000, **kwargs) -> None:
        kwargs.setdefault("duration_ns", None)
        kwargs.setdefault("limit_price", None)
        kwargs.setdefault("count_own_volume", True)
        super().__init__(name, engine, symbol, side, total_qty, feed=feed, participation=participation,
                         child_type=child_type, interval_ns=interval_ns, **_off(kwargs))


class StaleQuoter(MarketMaker):
    """A market maker with no stale-data guard: keeps quoting around a frozen feed's price (stale-feed).

    A :class:`~engines.strategies.market_maker.MarketMaker` with ``max_data_age_ns=None``: when the
    feed freezes it keeps its quotes where the frozen mid says, and when one is picked off by a
    market that has moved, it sends it again at the same stale price.  Stopped by: the engine's
    price collar against an independent reference and the reference-age guard; the
    fill-too-good alert on the other side.  All MarketMaker parameters apply.
    """

    def __init__(self, name, engine, symbol: str, *, feed, **kwargs) -> None:
        kwargs.setdefault("max_data_age_ns", None)
        super().__init__(name, engine, symbol, feed=feed, **_off(kwargs))


class RetryStorm(Strategy):
    """Everbright 2013: re-sends a market order on every timeout (26,082 market orders in 2 s).

    Sends ``side`` ``qty`` as a market order (``ord_type="limit"`` with ``price`` for a limit
    variant); ``timeout_ns`` (default 100 us, shorter than a round trip: the bug) after each order,
    if that order is not FILLED it sends another one, without cancelling the first.  So every
    order spawns a retry until one fill comes back (``stop_on_fill``, default True) or
    ``max_retries`` (default None = no cap).  Denied orders are retried too.
    Stopped by: order-rate throttle, market-order ban, duplicate detection, kill switch.
    """

    def __init__(self, name, engine, symbol: str, side: int, qty: int, *, timeout_ns: int = 100_000,
                 ord_type: str = "market", price: int | None = None, stop_on_fill: bool = True,
                 max_retries: int | None = None, **kwargs) -> None:
        super().__init__(name, engine, **_off(kwargs))
        self.symbol = symbol
        self.side = side
        self.qty = qty
        self.timeout_ns = timeout_ns
        self.ord_type = ord_type
        self.price = price
        self.stop_on_fill = stop_on_fill
        self.max_retries = max_retries
        self.attempts = 0
        self.got_fill = False

    def on_start(self) -> None:
        """First order."""
        self._attempt()

    def _attempt(self) -> None:
        if not self.running or self.halted:
            return
        if (self.stop_on_fill and self.got_fill) or (self.max_retries is not None
                                                     and self.attempts > self.max_retries):
            return
        self.attempts += 1
        handle = self.send(self.symbol, self.side, self.qty, self.price if self.ord_type == "limit" else None,
                           ord_type=self.ord_type, time_in_force="ioc" if self.ord_type == "limit" else "day")
        assert self.clock is not None
        self.clock.call_later(self.timeout_ns, self._timeout, handle)

    def _timeout(self, handle: OrderHandle | None) -> None:
        if handle is not None and handle.state is OrderState.FILLED:
            return
        self._guard(self._attempt)

    def on_order_update(self, update: OrderUpdate) -> None:
        """Note a fill (the storm stops only once one comes back)."""
        if update.kind == "fill":
            self.got_fill = True

    def on_resume(self, parked: list[OrderRequest]) -> None:
        """After a halt: start retrying again."""
        self._attempt()


class CancelReplaceStorm(Strategy):
    """Cancel/replace loop that never waits for acknowledgements (cancel-storm; Facebook IPO 2012).

    One ``side`` ``qty`` limit order at ``price``; then every ``interval_ns`` (default 1 ms):

    * ``mode="replace"`` - replace it, moving the price ``step_ticks`` (default +1) each time;
    * ``mode="cancel_new"`` - cancel it and send a new one ``step_ticks`` away, without waiting for
      the cancel to be confirmed, so unacknowledged orders pile up.

    ``wait_for_acks=True`` is the fixed version (act only on a confirmed order).  Stopped by:
    order rate, max open orders, duplicate detection, price collar (the walking price); venue
    messaging controls and cancel-on-disconnect.
    """

    def __init__(self, name, engine, symbol: str, side: int, qty: int, price: int, *, mode: str = "replace",
                 step_ticks: int = 1, wait_for_acks: bool = False, interval_ns: int = 1_000_000,
                 **kwargs) -> None:
        if mode not in ("replace", "cancel_new"):
            raise ValueError(f"mode must be 'replace' or 'cancel_new', got {mode!r}")
        super().__init__(name, engine, interval_ns=interval_ns, **_off(kwargs))
        self.symbol = symbol
        self.side = side
        self.qty = qty
        self.price = price
        self.mode = mode
        self.step_ticks = step_ticks
        self.wait_for_acks = wait_for_acks
        self.handle: OrderHandle | None = None
        self.replaces = 0
        self.cancels = 0
        self.news = 0
        self.refused = 0

    def on_start(self) -> None:
        """The first order."""
        self._new()

    def _new(self) -> None:
        self.news += 1
        self.handle = self.send(self.symbol, self.side, self.qty, self.price)

    def on_timer(self) -> None:
        """One more cancel/replace."""
        handle = self.handle
        if handle is None or handle.done:
            if self.mode == "cancel_new" or handle is None:
                self.price += self.step_ticks
                self._new()
            return
        if self.wait_for_acks and (not handle.acked or handle.state in (OrderState.PENDING_CANCEL,
                                                                        OrderState.PENDING_REPLACE)):
            return
        self.price += self.step_ticks
        if self.mode == "replace":
            if self.replace(handle, price=self.price):
                self.replaces += 1
            else:
                self.refused += 1
            return
        if self.cancel(handle):
            self.cancels += 1
        self._new()
