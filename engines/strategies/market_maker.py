"""A market maker: two-sided quotes around the mid it sees, skewed by inventory, pulled on stale data.

Every tick (``interval_ns``) the maker reads its view of the book (its own resting quantity left
out, so it does not chase itself) and computes a bid and an offer:

    fair2 = best_bid + best_ask                        (twice the mid, exact in ticks)
    shift = -round(inventory x skew_ticks_per_unit)    (long -> quote lower, to sell)
    bid   = floor(fair2 / 2 - half_spread) + shift      ask = ceil(fair2 / 2 + half_spread) + shift

clamped so that neither quote crosses the other side of the book.  A side whose fill would take
|inventory| beyond ``max_inventory`` is not quoted (its size shrinks to what is left first).  A quote
is replaced when its price is off target by ``requote_ticks`` or more; an order still in flight
(unacknowledged, pending cancel/replace) is left alone until the venue answers.  A quote that
fills is replaced at once, not at the next tick.

Stale data guard: if the view's last update is older than ``max_data_age_ns`` (a frozen feed), or
the view is one-sided or crossed, both quotes are cancelled ("pulled") and nothing is quoted until
the data is fresh again; each pull is recorded in ``pulls`` as (time, reason).  ``max_data_age_ns
= None`` switches the guard off (that is :class:`engines.strategies.faulty.StaleQuoter`).  Note
that the age counts any update of the symbol, so on a very quiet book a short ``max_data_age_ns``
also pulls (the venue's feed has no heartbeat).

After a halt the parked quotes are dropped and the next tick requotes at the then-current mid.
"""

from __future__ import annotations

from fractions import Fraction

from engines.order_engine import OrderHandle, OrderState, OrderUpdate
from engines.strategies.base import BUY, SELL, OrderRequest, Strategy

__all__ = ["MarketMaker"]

_IN_FLIGHT = (OrderState.PENDING_CANCEL, OrderState.PENDING_REPLACE)


class MarketMaker(Strategy):
    """Quotes ``quote_qty`` on both sides around the mid it sees, with inventory skew and a stale guard.

    Parameters (plus those of :class:`~engines.strategies.base.Strategy`):

    * ``symbol`` - the instrument quoted;
    * ``quote_qty`` - size per side (units, a multiple of the lot; default 1 lot);
    * ``half_spread_ticks`` - distance of each quote from the mid (default 2);
    * ``skew_ticks_per_unit`` - quotes shift this many ticks per unit of inventory, against it
      (int, ``Fraction``, ``Decimal`` or decimal string; default 0 = no skew);
    * ``max_inventory`` - |position| bound; the side that would grow beyond it is not quoted (default 10 lots);
    * ``requote_ticks`` - replace a quote once it is this far from its target (default 1);
    * ``max_data_age_ns`` - pull quotes when the view is older than this (default 1 s; None = never);
    * ``interval_ns`` - tick period (default 50 ms).
    """

    def __init__(self, name, engine, symbol: str, *, feed, quote_qty: int | None = None,
                 half_spread_ticks: int = 2, skew_ticks_per_unit: int | str | Fraction = 0,
                 max_inventory: int | None = None, requote_ticks: int = 1,
                 max_data_age_ns: int | None = 1_000_000_000, interval_ns: int = 50_000_000, **kwargs) -> None:
        super().__init__(name, engine, feed=feed, interval_ns=interval_ns, **kwargs)
        lot = engine.instruments.get(symbol).lot_size
        self.symbol = symbol
        self.quote_qty = lot if quote_qty is None else quote_qty
        self.half_spread_ticks = half_spread_ticks
        self.skew = Fraction(skew_ticks_per_unit)
        self.max_inventory = 10 * lot if max_inventory is None else max_inventory
        self.requote_ticks = max(1, requote_ticks)
        self.max_data_age_ns = max_data_age_ns
        if self.quote_qty <= 0 or self.quote_qty % lot:
            raise ValueError(f"quote_qty must be a positive multiple of the lot {lot}, got {quote_qty}")
        self.quotes: dict[int, OrderHandle | None] = {BUY: None, SELL: None}
        self.pulled = False
        self.pulls: list[tuple[int, str]] = []
        self.ticks = 0
        self.two_sided_ticks = 0      # ticks at which both quotes were live at the venue

    # -- DECISIONS -------------------------------------------------------------------------------

    def targets(self) -> tuple[dict[int, tuple[int, int] | None], str]:
        """Target (price, qty) per side, and a reason when the maker should not quote at all."""
        view = self.view(self.symbol)
        none: dict[int, tuple[int, int] | None] = {BUY: None, SELL: None}
        if view is None:
            return none, "no market data"
        if self.max_data_age_ns is not None:
            age = view.age_ns(self.now_ns())
            if age is None:
                return none, "stale market data: no update yet"
            if age > self.max_data_age_ns:
                return none, f"stale market data: last update {age:,} ns ago > {self.max_data_age_ns:,} ns"
        own = self.own_levels(self.symbol)
        bid, ask = view.best(BUY, own), view.best(SELL, own)
        if bid is None or ask is None:
            return none, "one-sided market"
        if bid[0] >= ask[0]:
            return none, f"crossed market {bid[0]} >= {ask[0]}"
        inventory = self.position(self.symbol)
        skew = self.skew
        # a whole-tick skew (the usual 0) needs no Fraction arithmetic: the same integer in 0.2 us, not 2.9
        shift = -(skew.numerator * inventory) if skew.denominator == 1 else -round(skew * inventory)
        fair2 = bid[0] + ask[0]
        bid_px = (fair2 - 2 * self.half_spread_ticks) // 2 + shift
        ask_px = -((-(fair2 + 2 * self.half_spread_ticks)) // 2) + shift
        bid_px = max(1, min(bid_px, ask[0] - 1))
        ask_px = max(ask_px, bid[0] + 1, bid_px + 1)
        lot = self.lot(self.symbol)
        room_buy = (self.max_inventory - inventory) // lot * lot
        room_sell = (self.max_inventory + inventory) // lot * lot
        targets: dict[int, tuple[int, int] | None] = {
            BUY: (bid_px, min(self.quote_qty, room_buy)) if room_buy > 0 else None,
            SELL: (ask_px, min(self.quote_qty, room_sell)) if room_sell > 0 else None,
        }
        return targets, ""

    def on_timer(self) -> None:
        """Requote both sides (or pull them)."""
        self.ticks += 1
        targets, reason = self.targets()
        if reason:
            if not self.pulled:
                self.pulled = True
                self.pulls.append((self.now_ns(), reason))
            for side in (BUY, SELL):
                self._cancel_side(side)
            return
        self.pulled = False
        for side in (BUY, SELL):
            self._work_side(side, targets[side])
        if all(h is not None and h.acked and not h.done for h in self.quotes.values()):
            self.two_sided_ticks += 1

    def _cancel_side(self, side: int) -> None:
        handle = self.quotes[side]
        if handle is None or handle.done:
            self.quotes[side] = None
            return
        if handle.state is not OrderState.PENDING_CANCEL:
            self.cancel(handle)

    def _work_side(self, side: int, target: tuple[int, int] | None) -> None:
        handle = self.quotes[side]
        if handle is not None and handle.done:
            handle = self.quotes[side] = None
        if target is None:
            if handle is not None:
                self._cancel_side(side)
            return
        price, qty = target
        if handle is None:
            self.quotes[side] = self.send(self.symbol, side, qty, price)
            return
        if not handle.acked or handle.state in _IN_FLIGHT:
            return
        if abs(handle.price - price) >= self.requote_ticks or handle.leaves_qty > qty:
            self.replace(handle, price=price, qty=handle.cum_qty + min(qty, handle.leaves_qty))

    # -- EVENTS ----------------------------------------------------------------------------------

    def on_order_update(self, update: OrderUpdate) -> None:
        """Forget a quote once it is done; after a fill, requote at once (not at the next tick)."""
        for side, handle in self.quotes.items():
            if handle is update.handle and handle.done:
                self.quotes[side] = None
                if update.kind == "fill":
                    self.soon(self.requote)

    def requote(self) -> None:
        """Work both sides now (a fill changed the inventory); the tick does the same."""
        targets, reason = self.targets()
        if not reason:
            for side in (BUY, SELL):
                self._work_side(side, targets[side])

    def on_resume(self, parked: list[OrderRequest]) -> None:
        """Parked quotes are stale: drop them; the next tick requotes."""
        self.quotes = {BUY: None, SELL: None}

    def on_stop(self) -> None:
        """Quotes were cancelled by stop()."""
        self.quotes = {BUY: None, SELL: None}
