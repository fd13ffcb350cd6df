"""A liquidity taker: crosses the spread with IOC orders at the touch it sees, within a position bound.

Every tick, with probability ``take_probability`` (drawn from the strategy's Generator), it takes
``clip_qty`` on one side: ``side`` if fixed, else a fair coin, except that a side which would take
|position| beyond ``max_position`` is replaced by the other one.  The order is an IOC limit at the
best opposite price of its view plus ``slip_ticks`` (buy) or minus (sell): it never trades through
more than that, so a stale or empty view means no order.  Parked orders are re-sent after a halt
(the default of :class:`~engines.strategies.base.Strategy`), re-checked by the strategy's own
sanity limits against its view at that time.
"""

from __future__ import annotations

from engines.strategies.base import BUY, SELL, Strategy

__all__ = ["Taker"]


class Taker(Strategy):
    """Takes liquidity with IOC orders at the touch.

    Parameters (plus those of :class:`~engines.strategies.base.Strategy`):

    * ``symbol`` - the instrument;
    * ``clip_qty`` - units per order (default 1 lot);
    * ``take_probability`` - chance of an order per tick (default 0.5);
    * ``side`` - 1 buy / 2 sell only, or None for a random side (default);
    * ``slip_ticks`` - how far through the touch the IOC is priced (default 0);
    * ``max_position`` - |position| bound (default 20 lots);
    * ``max_data_age_ns`` - no order on a view older than this (default None: no check);
    * ``interval_ns`` - tick period (default 200 ms).
    """

    def __init__(self, name, engine, symbol: str, *, feed, clip_qty: int | None = None,
                 take_probability: float = 0.5, side: int | None = None, slip_ticks: int = 0,
                 max_position: int | None = None, max_data_age_ns: int | None = None,
                 interval_ns: int = 200_000_000, **kwargs) -> None:
        super().__init__(name, engine, feed=feed, interval_ns=interval_ns, **kwargs)
        lot = engine.instruments.get(symbol).lot_size
        if side not in (None, BUY, SELL):
            raise ValueError(f"side must be None, 1 or 2, got {side!r}")
        self.symbol = symbol
        self.clip_qty = lot if clip_qty is None else clip_qty
        self.take_probability = take_probability
        self.side = side
        self.slip_ticks = slip_ticks
        self.max_position = 20 * lot if max_position is None else max_position
        self.max_data_age_ns = max_data_age_ns
        self.orders_sent = 0

    def choose_side(self) -> int | None:
        """The side to take now, or None if neither fits within the position bound."""
        position = self.position(self.symbol) + self.working(self.symbol)
        side = self.side if self.side is not None else (BUY if self.rng.random() < 0.5 else SELL)
        fits = {BUY: position + self.clip_qty <= self.max_position,
                SELL: position - self.clip_qty >= -self.max_position}
        if fits[side]:
            return side
        if self.side is None and fits[BUY if side == SELL else SELL]:
            return BUY if side == SELL else SELL
        return None

    def on_timer(self) -> None:
        """Maybe take one clip."""
        if self.rng.random() >= self.take_probability:
            return
        side = self.choose_side()
        view = self.view(self.symbol)
        if side is None or view is None:
            return
        if self.max_data_age_ns is not None and (view.age_ns(self.now_ns()) or 0) > self.max_data_age_ns:
            return
        touch = view.best(SELL if side == BUY else BUY, self.own_levels(self.symbol))
        if touch is None:
            return
        price = touch[0] + self.slip_ticks if side == BUY else max(1, touch[0] - self.slip_ticks)
        self.orders_sent += 1
        self.send(self.symbol, side, self.clip_qty, price, time_in_force="ioc")
