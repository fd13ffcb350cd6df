"""A hedger: keeps the position in instrument B at ``-ratio x`` the position in instrument A.

The exposure to hedge is the net position in ``source_symbol`` of the ``watch`` strategies (default:
every strategy on the engine except the hedger itself).  The target in ``hedge_symbol`` is
``-round(ratio x exposure)`` (whole lots); the hedger sends an IOC for the difference between the
target and its own position plus working orders in B, priced ``slip_ticks`` through the touch of
its view of B.  It rebalances on every fill of a watched strategy in A (at once, on the loop, after
the report is processed) and on its timer (an IOC that missed is retried there).  Differences of
``tolerance`` units or less are left alone.  Net delta = exposure x ratio + hedge position, which
the hedger keeps near 0.  After a halt parked hedges are dropped and the next rebalance
recomputes from positions.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from engines.order_engine import OrderUpdate
from engines.strategies.base import BUY, SELL, OrderRequest, Strategy

__all__ = ["Hedger"]


class Hedger(Strategy):
    """Hedges fills in ``source_symbol`` with ``hedge_symbol`` at ``ratio``.

    Parameters (plus those of :class:`~engines.strategies.base.Strategy`):

    * ``source_symbol`` (A) and ``hedge_symbol`` (B);
    * ``ratio`` - units of B per unit of A (int, ``Fraction`` or decimal string; default 1);
    * ``watch`` - strategy ids whose A position is hedged (default None: all but the hedger);
    * ``slip_ticks`` - hedges are priced this far through the touch (default 2);
    * ``max_clip`` - units per hedge order (default None = all at once);
    * ``tolerance`` - an imbalance of at most this many units of B is left alone (default 0);
    * ``interval_ns`` - rebalance period (default 100 ms).
    """

    def __init__(self, name, engine, source_symbol: str, hedge_symbol: str, *, feed,
                 ratio: Fraction | int | str = 1, watch: Iterable[str] | None = None, slip_ticks: int = 2,
                 max_clip: int | None = None, tolerance: int = 0, interval_ns: int = 100_000_000,
                 **kwargs) -> None:
        super().__init__(name, engine, feed=feed, interval_ns=interval_ns, **kwargs)
        self.source_symbol = source_symbol
        self.hedge_symbol = hedge_symbol
        self.ratio = Fraction(ratio)
        self.watch = None if watch is None else frozenset(watch)
        self.slip_ticks = slip_ticks
        self.max_clip = max_clip
        self.tolerance = tolerance
        self.hedges_sent = 0

    def exposure(self) -> int:
        """Net position in the source symbol of the watched strategies."""
        if self.watch is None:
            return self.engine.position(self.source_symbol) - self.engine.position(self.source_symbol, self.name)
        return sum(self.engine.position(self.source_symbol, s) for s in self.watch)

    def target(self) -> int:
        """Hedge position wanted: -round(ratio x exposure), in whole lots toward zero."""
        raw = -round(self.ratio * self.exposure())
        lot = self.lot(self.hedge_symbol)
        return raw // lot * lot if raw >= 0 else -((-raw) // lot * lot)

    def net_delta(self) -> Fraction:
        """Exposure x ratio + hedge position: what is left unhedged, in units of B."""
        return self.ratio * self.exposure() + self.position(self.hedge_symbol)

    def rebalance(self) -> None:
        """Send the hedge the target asks for (one IOC)."""
        gap = self.target() - self.position(self.hedge_symbol) - self.working(self.hedge_symbol)
        if abs(gap) <= self.tolerance:
            return
        side = BUY if gap > 0 else SELL
        qty = abs(gap) if self.max_clip is None else min(abs(gap), self.max_clip)
        qty = self.round_lots(self.hedge_symbol, qty)
        view = self.view(self.hedge_symbol)
        if qty <= 0 or view is None:
            return
        touch = view.best(SELL if side == BUY else BUY)
        if touch is None:
            return
        price = touch[0] + self.slip_ticks if side == BUY else max(1, touch[0] - self.slip_ticks)
        self.hedges_sent += 1
        self.send(self.hedge_symbol, side, qty, price, time_in_force="ioc")

    def on_timer(self) -> None:
        """Periodic rebalance (retries IOCs that missed)."""
        self.rebalance()

    def on_engine_update(self, update: OrderUpdate) -> None:
        """A watched strategy's fill in A: rebalance right after it is booked."""
        handle = update.handle
        if update.kind != "fill" or handle.symbol != self.source_symbol or handle.strategy == self.name:
            return
        if self.watch is None or handle.strategy in self.watch:
            self.soon(self.rebalance)

    def on_resume(self, parked: list[OrderRequest]) -> None:
        """Parked hedges are stale: rebalance from positions now."""
        self.rebalance()
