"""The strategy base: lifecycle on the running loop, its own sanity limits, halt handling.

A :class:`Strategy` trades through one :class:`~engines.order_engine.OrderEngine` under its
``name`` (the engine's strategy id), reads the market through a feed
(:mod:`engines.strategies.market_data`), and is driven by two things only: a timer every
``interval_ns`` on the running loop's clock (:meth:`Strategy.on_timer`) and the engine's order
updates (:meth:`Strategy.on_order_update`, :meth:`Strategy.on_engine_update`).  Time comes only
from ``sim.clock.current_clock()``, randomness only from the ``numpy.random.Generator`` given.

Lifecycle (NautilusTrader's component states): READY -> RUNNING (:meth:`start`, inside a running
loop) -> STOPPED (:meth:`stop`, or giving up on a halt); an exception in a hook moves it to
FAULTED with ``error`` set and stops its timer (it never breaks the engine's FIX processing).

Layer 1 of defence in depth: :class:`SanityLimits`
--------------------------------------------------
Before anything reaches the engine, :meth:`Strategy.send` (and :meth:`Strategy.replace`) check the
strategy's *own* limits: max order quantity, max notional (currency), and max price deviation
(ticks and/or bps) from the strategy's *own* view of the market (its feed's mid, else last trade).
The engine's layer 2 checks against an independent reference instead, so the two layers fail
independently.  ``SanityLimits.off()`` switches layer 1 off for scenarios (the faulty strategies
default to it: their own checks are what failed).  Refusals are kept in ``sanity_denials``.

Halts: ``on_halt`` = "wait" | "give_up"
---------------------------------------
A denial with code ``trading_halted`` (the engine or this strategy HALTED) makes the strategy
*halted*: the refused request is parked, the timer keeps running but only polls
``engine.risk.state(name)``; no new orders are sent (requests made meanwhile are parked too).
When the state is no longer HALTED, :meth:`on_resume` gets the parked requests; by default they
are re-sent (and re-checked); strategies whose orders go stale (quotes, schedules) override it to
recompute instead.  With "give_up" the strategy cancels its open orders and stops
(``gave_up = True``).  Polling the risk state each tick (rather than a callback) keeps the
strategy independent of who lifts the halt and is deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import numpy as np

from engines.order_engine import OrderEngine, OrderHandle, OrderState, OrderUpdate
from engines.risk import RiskCode, TradingState
from engines.strategies.market_data import BookView, Feed
from sim.clock import Clock, current_clock

__all__ = ["Strategy", "StrategyState", "SanityLimits", "SanityDenial", "OrderRequest", "HALT_POLICIES",
           "BUY", "SELL"]

BUY, SELL = 1, 2
HALT_POLICIES = ("wait", "give_up")
_NS_PER_MS = 1_000_000


class StrategyState(StrEnum):
    """Where a strategy is in its life."""

    READY = "ready"
    RUNNING = "running"
    STOPPED = "stopped"
    FAULTED = "faulted"


@dataclass(frozen=True, slots=True)
class SanityLimits:
    """A strategy's own pre-trade limits (layer 1); every ``None`` is off, ``enabled=False`` all off.

    * ``max_order_qty`` - units per order;
    * ``max_order_notional`` - currency per order: qty x price x tick size (Decimal / int / str);
    * ``max_price_deviation_ticks`` / ``max_price_deviation_bps`` - |price - own view| where the
      view is the feed's mid (else its last trade); market orders are checked only for
      qty/notional (at the view's price);
    * ``require_view`` - with a deviation limit set and no view of the symbol, refuse (fail closed).

    >>> SanityLimits(max_order_qty=100).enabled, SanityLimits.off().enabled
    (True, False)
    """

    enabled: bool = True
    max_order_qty: int | None = None
    max_order_notional: Decimal | int | str | None = None
    max_price_deviation_ticks: int | None = None
    max_price_deviation_bps: int | None = None
    require_view: bool = True

    def __post_init__(self) -> None:
        if self.max_order_notional is not None:
            if isinstance(self.max_order_notional, (float, bool)):
                raise TypeError(f"max_order_notional must be an int, a decimal string or a Decimal, never a "
                                f"float, got {self.max_order_notional!r}")
            object.__setattr__(self, "max_order_notional", Decimal(self.max_order_notional))

    @classmethod
    def off(cls) -> SanityLimits:
        """Layer 1 switched off (scenarios that test the next layer)."""
        return cls(enabled=False)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a strategy wants to send, before its own checks and the engine's."""

    symbol: str
    side: int
    qty: int
    price: int | None = None
    ord_type: str = "limit"
    time_in_force: str = "day"


@dataclass(frozen=True, slots=True)
class SanityDenial:
    """An order the strategy's own limits refused: code, sentence, the request and when."""

    code: str
    text: str
    request: OrderRequest
    time_ns: int


class Strategy:
    """Base of every strategy: lifecycle, engine access, feed, sanity limits and halt policy.

    Parameters (shared by every subclass):

    * ``name`` - the strategy id the engine books orders, positions and limits under;
    * ``engine`` - the :class:`OrderEngine` it trades through;
    * ``feed`` - a :class:`~engines.strategies.market_data.Feed` (``feed_for(engine, symbols)``),
      or None for strategies that trade blind;
    * ``sanity`` - :class:`SanityLimits` (default: none configured, layer on);
    * ``on_halt`` - "wait" (park and resend after resume) or "give_up" (cancel and stop);
    * ``interval_ns`` - timer period (default 100 ms);
    * ``rng`` - a ``numpy.random.Generator`` (default ``default_rng(0)``): the only randomness.
    """

    def __init__(self, name: str, engine: OrderEngine, *, feed: Feed | None = None,
                 sanity: SanityLimits | None = None, on_halt: str = "wait", interval_ns: int = 100 * _NS_PER_MS,
                 rng: np.random.Generator | None = None) -> None:
        if on_halt not in HALT_POLICIES:
            raise ValueError(f"on_halt must be one of {HALT_POLICIES}, got {on_halt!r}")
        if type(interval_ns) is not int or interval_ns <= 0:
            raise ValueError(f"interval_ns must be a positive integer, got {interval_ns!r}")
        self.name = name
        self.engine = engine
        self.feed = feed
        self.sanity = sanity if sanity is not None else SanityLimits()
        self.on_halt_policy = on_halt
        self.interval_ns = interval_ns
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.state = StrategyState.READY
        self.error: BaseException | None = None
        self.clock: Clock | None = None
        self.halted = False
        self.gave_up = False
        self.parked: list[OrderRequest] = []
        self.halt_events: list[tuple[int, str]] = []     # (time, "halted"|"resumed"|"gave_up")
        self.sanity_denials: list[SanityDenial] = []
        self.handles: list[OrderHandle] = []             # every order this strategy sent (incl. denied)
        self._task: asyncio.Task | None = None
        self._subscribed = False

    # -- LIFECYCLE -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start on the running loop: subscribe to order updates, call :meth:`on_start`, run the timer."""
        if self.state is not StrategyState.READY:
            raise RuntimeError(f"strategy {self.name} is {self.state}, only a ready strategy can start")
        self.clock = current_clock()
        if not self._subscribed:
            self.engine.subscribe(self._on_engine_update)
            self._subscribed = True
        self.state = StrategyState.RUNNING
        self._guard(self.on_start)
        if self.state is StrategyState.RUNNING:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"strategy:{self.name}")

    def stop(self, *, cancel_orders: bool = True) -> None:
        """Stop the timer (and cancel this strategy's open orders unless told not to)."""
        if self.state is StrategyState.RUNNING:
            self.state = StrategyState.STOPPED
        if self._task is not None and self._task is not _current_task():
            self._task.cancel()
        self._task = None
        if cancel_orders:
            self.engine.cancel_all(strategy=self.name)
        self._guard(self.on_stop)

    @property
    def running(self) -> bool:
        """True while started and neither stopped nor faulted."""
        return self.state is StrategyState.RUNNING

    async def _run(self) -> None:
        assert self.clock is not None
        while self.state is StrategyState.RUNNING:
            await self.clock.sleep_ns(self.interval_ns)
            if self.state is not StrategyState.RUNNING:
                return
            if self.halted:
                self._guard(self._poll_halt)
            else:
                self._guard(self.on_timer)

    def _guard(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a hook; an exception faults the strategy instead of escaping into the engine or loop."""
        try:
            fn(*args)
        except Exception as exc:  # a strategy bug must not break FIX processing
            self.error = exc
            self.state = StrategyState.FAULTED
            if self._task is not None and self._task is not _current_task():
                self._task.cancel()

    def soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop after the current callback (reactions to order updates)."""
        def run() -> None:
            if self.running and not self.halted:
                self._guard(fn, *args)
        asyncio.get_running_loop().call_soon(run)

    # -- HOOKS (override) ------------------------------------------------------------------------

    def on_start(self) -> None:
        """Called once when started."""

    def on_timer(self) -> None:
        """Called every ``interval_ns`` while running and not halted."""

    def on_order_update(self, update: OrderUpdate) -> None:
        """Called with every update of this strategy's own orders."""

    def on_engine_update(self, update: OrderUpdate) -> None:
        """Called with every update of every strategy on the engine (default: own ones only)."""
        if update.handle.strategy == self.name:
            self.on_order_update(update)

    def on_halt(self) -> None:
        """Called when a halt denial was seen (before waiting or giving up)."""

    def on_resume(self, parked: list[OrderRequest]) -> None:
        """Called after a halt lifted, with the requests refused or held meanwhile: re-sent by default."""
        for request in parked:
            self.send_request(request)

    def on_stop(self) -> None:
        """Called when stopped."""

    # -- ORDERS ----------------------------------------------------------------------------------

    def now_ns(self) -> int:
        """The running loop's clock."""
        return self.clock.now_ns() if self.clock is not None else self.engine.now_ns()

    def view(self, symbol: str) -> BookView | None:
        """This strategy's view of a symbol's book (None without a feed or before the snapshot)."""
        if self.feed is None:
            return None
        view = self.feed.book(symbol)
        return view if view is not None and view.last_update_ns is not None else None

    def send(self, symbol: str, side: int, qty: int, price: int | None = None, *, ord_type: str = "limit",
             time_in_force: str = "day") -> OrderHandle | None:
        """Send an order through layer 1 then the engine; None if refused here or parked (halted)."""
        return self.send_request(OrderRequest(symbol, side, qty, price, ord_type, time_in_force))

    def send_request(self, request: OrderRequest) -> OrderHandle | None:
        """:meth:`send` for a prepared :class:`OrderRequest`."""
        if self.halted:
            self.parked.append(request)
            return None
        denial = self.check_sanity(request)
        if denial is not None:
            self.sanity_denials.append(denial)
            return None
        handle = self.engine.submit(self.name, request.symbol, request.side, request.qty, request.price,
                                    ord_type=request.ord_type, time_in_force=request.time_in_force)
        self.handles.append(handle)
        if handle.state is OrderState.DENIED and handle.reject_code == RiskCode.TRADING_HALTED:
            self.parked.append(request)
            self._enter_halt()
        return handle

    def cancel(self, handle: OrderHandle) -> bool:
        """Cancel one of this strategy's orders (always allowed, even when halted)."""
        return self.engine.cancel(handle)

    def replace(self, handle: OrderHandle, *, qty: int | None = None, price: int | None = None) -> bool:
        """Replace an open order after the same layer-1 checks as a new one."""
        if self.halted:
            return False
        request = OrderRequest(handle.symbol, handle.side, handle.qty if qty is None else qty,
                               handle.price if price is None else price, "limit", handle.time_in_force)
        denial = self.check_sanity(request)
        if denial is not None:
            self.sanity_denials.append(denial)
            return False
        return self.engine.replace(handle, qty=qty, price=price)

    def open_orders(self, symbol: str | None = None) -> list[OrderHandle]:
        """This strategy's open orders (optionally of one symbol), in sending order."""
        return [h for h in self.engine.open_orders.values()
                if h.strategy == self.name and (symbol is None or h.symbol == symbol)]

    def own_levels(self, symbol: str) -> dict[tuple[int, int], int]:
        """This strategy's resting quantity per (side, price): what to leave out of its own view."""
        levels: dict[tuple[int, int], int] = {}
        for h in self.open_orders(symbol):
            if h.price is not None and h.acked:
                key = (h.side, h.price)
                levels[key] = levels.get(key, 0) + h.leaves_qty
        return levels

    def position(self, symbol: str) -> int:
        """This strategy's signed filled position."""
        return self.engine.position(symbol, self.name)

    def working(self, symbol: str) -> int:
        """Signed open quantity: buys minus sells still working."""
        return (self.engine.working_qty(symbol, BUY, self.name)
                - self.engine.working_qty(symbol, SELL, self.name))

    def lot(self, symbol: str) -> int:
        """The instrument's lot size."""
        return self.engine.instruments.get(symbol).lot_size

    def round_lots(self, symbol: str, qty: int) -> int:
        """``qty`` rounded down to whole lots."""
        lot = self.lot(symbol)
        return qty // lot * lot

    # -- LAYER 1 ---------------------------------------------------------------------------------

    def reference(self, symbol: str) -> int | None:
        """The strategy's own idea of the price: its view's mid, else its last trade, else None."""
        view = self.view(symbol)
        if view is None:
            return None
        mid = view.mid()
        return mid if mid is not None else view.last_trade

    def check_sanity(self, r: OrderRequest) -> SanityDenial | None:
        """Layer-1 checks of one request; None = fine."""
        limits = self.sanity
        if not limits.enabled:
            return None

        def deny(code: str, text: str) -> SanityDenial:
            return SanityDenial(code, f"{self.name}: {text}", r, self.now_ns())

        if limits.max_order_qty is not None and r.qty > limits.max_order_qty:
            return deny("strategy_max_order_qty", f"qty {r.qty:,} exceeds the strategy's max_order_qty "
                                                  f"{limits.max_order_qty:,}")
        ref = self.reference(r.symbol)
        if limits.max_order_notional is not None:
            price = r.price if r.price is not None else ref
            if price is None:
                return deny("strategy_no_view", "a market order and no view of the price to value it")
            tick = self.engine.instruments.get(r.symbol).tick_size
            notional = r.qty * max(price, ref or 0) * tick
            if notional > limits.max_order_notional:
                return deny("strategy_max_order_notional", f"notional {notional:,} exceeds the strategy's "
                                                           f"max_order_notional {limits.max_order_notional:,}")
        if r.price is not None and (limits.max_price_deviation_ticks is not None
                                    or limits.max_price_deviation_bps is not None):
            if ref is None:
                if limits.require_view:
                    return deny("strategy_no_view", f"no view of {r.symbol} to check the price against")
                return None
            deviation = abs(r.price - ref)
            if limits.max_price_deviation_ticks is not None and deviation > limits.max_price_deviation_ticks:
                return deny("strategy_price_deviation", f"price {r.price} is {deviation} ticks from the "
                                                        f"strategy's view {ref} (max "
                                                        f"{limits.max_price_deviation_ticks})")
            if limits.max_price_deviation_bps is not None and deviation * 10_000 > limits.max_price_deviation_bps * ref:
                return deny("strategy_price_deviation", f"price {r.price} is {deviation * 10_000 // ref} bps from "
                                                        f"the strategy's view {ref} (max "
                                                        f"{limits.max_price_deviation_bps} bps)")
        return None

    # -- HALTS -----------------------------------------------------------------------------------

    def _enter_halt(self) -> None:
        if self.halted:
            return
        self.halted = True
        self.halt_events.append((self.now_ns(), "halted"))
        self.on_halt()
        if self.on_halt_policy == "give_up":
            self.gave_up = True
            self.halt_events.append((self.now_ns(), "gave_up"))
            self.parked.clear()
            self.stop(cancel_orders=True)

    def _poll_halt(self) -> None:
        if self.engine.risk.state(self.name) is TradingState.HALTED:
            return
        self.halted = False
        self.halt_events.append((self.now_ns(), "resumed"))
        parked, self.parked = self.parked, []
        self.on_resume(parked)

    # -- ENGINE UPDATES --------------------------------------------------------------------------

    def _on_engine_update(self, update: OrderUpdate) -> None:
        if self.state is not StrategyState.RUNNING:
            return
        self._guard(self.on_engine_update, update)


def _current_task() -> asyncio.Task | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
