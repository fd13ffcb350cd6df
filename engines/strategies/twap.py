"""TWAP and participation (POV): work a parent order in IOC child orders on a schedule.

Schedule: by time ``t`` since the start, ``total_qty x t / duration`` should be done (rounded down
to lots; all of it from the end of the window on).  With ``participation`` p, no more than
``floor(p x V)`` may be done, where V is the market volume the strategy *sees* on its feed's
tape since it started (trade entries of the venue's market data).  By default its own fills are
taken out of V (they are on the tape too); ``count_own_volume=True`` leaves them in, and then the
algo's own trading raises its own rate: the Flash Crash feedback loop
(:class:`engines.strategies.faulty.FeedbackParticipation`).  ``duration_ns=None`` is a pure
participation algo: no schedule, only the cap.

Each tick it sends one child for ``due - filled - working`` (at most ``max_clip``): an IOC limit
at the best opposite price of its view plus ``slip_ticks`` through it, never beyond
``limit_price`` (if the touch is beyond the limit, it waits); ``child_type="market"`` sends market
orders instead (only sensible with no limit: that is the faulty variant).  When everything is
filled it records ``completed_ns`` and stops.  After a halt, parked children are dropped: the
schedule itself says what to catch up.
"""

from __future__ import annotations

from fractions import Fraction

from engines.order_engine import OrderUpdate
from engines.strategies.base import BUY, SELL, OrderRequest, Strategy

__all__ = ["Twap"]


def _fraction(value: Fraction | int | str | float) -> Fraction:
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


class Twap(Strategy):
    """Buys or sells ``total_qty`` evenly over ``duration_ns``, optionally capped by participation and a price.

    Parameters (plus those of :class:`~engines.strategies.base.Strategy`):

    * ``symbol``, ``side`` (1 buy / 2 sell), ``total_qty`` (units, whole lots) - the parent order;
    * ``duration_ns`` - the window, from :meth:`start` (default 60 s; None = participation only);
    * ``limit_price`` - ticks: never buy above / sell below it (default None = no limit);
    * ``participation`` - max share of the market volume seen (e.g. ``"0.1"``; default None = off);
    * ``count_own_volume`` - count its own fills in that volume (default False; True is the bug);
    * ``slip_ticks`` - children are priced this far through the touch (default 1);
    * ``max_clip`` - units per child (default None = no cap);
    * ``child_type`` - "limit" (IOC at the touch +/- slip, default) or "market";
    * ``interval_ns`` - one child per tick at most (default 1 s).
    """

    def __init__(self, name, engine, symbol: str, side: int, total_qty: int, *, feed=None,
                 duration_ns: int | None = 60_000_000_000, limit_price: int | None = None,
                 participation: Fraction | int | str | float | None = None, count_own_volume: bool = False,
                 slip_ticks: int = 1, max_clip: int | None = None, child_type: str = "limit",
                 interval_ns: int = 1_000_000_000, **kwargs) -> None:
        super().__init__(name, engine, feed=feed, interval_ns=interval_ns, **kwargs)
        if side not in (BUY, SELL):
            raise ValueError(f"side must be 1 (buy) or 2 (sell), got {side!r}")
        if child_type not in ("limit", "market"):
            raise ValueError(f"child_type must be 'limit' or 'market', got {child_type!r}")
        lot = engine.instruments.get(symbol).lot_size
        if total_qty <= 0 or total_qty % lot:
            raise ValueError(f"total_qty must be a positive multiple of the lot {lot}, got {total_qty}")
        self.symbol = symbol
        self.side = side
        self.total_qty = total_qty
        self.duration_ns = duration_ns
        self.limit_price = limit_price
        self.participation = None if participation is None else _fraction(participation)
        self.count_own_volume = count_own_volume
        self.slip_ticks = slip_ticks
        self.max_clip = max_clip
        self.child_type = child_type
        self.start_ns: int | None = None
        self.completed_ns: int | None = None
        self.filled = 0
        self.children = 0
        self._volume0 = 0

    # -- SCHEDULE --------------------------------------------------------------------------------

    @property
    def end_ns(self) -> int | None:
        """End of the window (None for participation only or before start)."""
        if self.start_ns is None or self.duration_ns is None:
            return None
        return self.start_ns + self.duration_ns

    def market_volume(self) -> int:
        """Market volume seen on the tape since the start (own fills out unless ``count_own_volume``)."""
        view = self.view(self.symbol)
        seen = 0 if view is None else view.volume - self._volume0
        return seen if self.count_own_volume else max(0, seen - self.filled)

    def due(self) -> int:
        """Quantity that should be done by now (schedule, then participation cap), in whole lots."""
        now = self.now_ns()
        if self.duration_ns is None or self.start_ns is None or now >= self.start_ns + self.duration_ns:
            due = self.total_qty
        else:
            due = self.total_qty * (now - self.start_ns) // self.duration_ns
        if self.participation is not None:
            due = min(due, int(self.participation * self.market_volume()))
        return self.round_lots(self.symbol, due)

    def child_price(self) -> int | None:
        """The child's limit price: touch +/- slip, within the limit; None = do not send now."""
        view = self.view(self.symbol)
        if view is None:
            return None
        touch = view.best(SELL if self.side == BUY else BUY)
        if touch is None:
            return None
        if self.side == BUY:
            price = touch[0] + self.slip_ticks
            if self.limit_price is not None:
                if touch[0] > self.limit_price:
                    return None
                price = min(price, self.limit_price)
        else:
            price = max(1, touch[0] - self.slip_ticks)
            if self.limit_price is not None:
                if touch[0] < self.limit_price:
                    return None
                price = max(price, self.limit_price)
        return price

    # -- HOOKS -----------------------------------------------------------------------------------

    def on_start(self) -> None:
        """Mark the start and the tape's volume so far."""
        self.start_ns = self.now_ns()
        view = self.view(self.symbol)
        self._volume0 = view.volume if view is not None else 0

    def on_timer(self) -> None:
        """Send the child the schedule asks for."""
        if self.filled >= self.total_qty:
            return
        working = abs(self.working(self.symbol))
        want = min(self.due(), self.total_qty) - self.filled - working
        if self.max_clip is not None:
            want = min(want, self.max_clip)
        want = self.round_lots(self.symbol, want)
        if want <= 0:
            return
        if self.child_type == "market":
            self.children += 1
            self.send(self.symbol, self.side, want, None, ord_type="market")
            return
        price = self.child_price()
        if price is None:
            return
        self.children += 1
        self.send(self.symbol, self.side, want, price, time_in_force="ioc")

    def on_order_update(self, update: OrderUpdate) -> None:
        """Count fills; complete when the parent is done."""
        if update.kind == "fill" and update.fill is not None and update.fill.symbol == self.symbol:
            self.filled += update.fill.qty
            if self.filled >= self.total_qty and self.completed_ns is None:
                self.completed_ns = self.now_ns()
                self.stop(cancel_orders=True)

    def on_resume(self, parked: list[OrderRequest]) -> None:
        """Parked children are dropped: the schedule catches up on the next tick."""

    @property
    def remaining(self) -> int:
        """Quantity still to do."""
        return max(0, self.total_qty - self.filled)
