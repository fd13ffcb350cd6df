"""Liquidity providers: two-sided quotes around a fair price, inventory-aware, withdrawing under stress.

Each LP quotes one bid and one ask on one symbol and refreshes them every ``lp_refresh_ms`` on
average (uniform jitter of +-50 %, and a random first phase, so LPs do not move in lock step).
On a refresh it computes:

* **fair** = ``market_weight`` x last trade + (1 - weight) x fundamental.  Real market makers lean
  on the market they see, not on a value they cannot observe; the weight is what lets a crash
  drag quotes down (and the fundamental what pulls them back).
* **half spread** = ``half_spread_bps + index x layer_bps`` (LPs layer the book into depth), times
  ``1 + widen_per_stress x (stress - 1)`` when stress is above 1.
* **size** = ``size / (1 + shrink_per_stress x (stress - 1))`` lots, floored (0 = no quote).
* **inventory**: both quotes shift by ``-position x skew_bps_per_lot`` (long -> cheaper, to sell);
  at ``max_inventory`` lots the side that would add stops quoting.
* **withdrawal**: above its own pull threshold (LP i of n: spread evenly from
  ``pull_stress_min`` to ``pull_stress_max``) the LP cancels both quotes and stays out until
  stress falls below ``return_fraction`` x threshold.  Some LPs leave early, the last ones late:
  liquidity thins progressively, the shape of 6 May 2010.

A quote that is already right is left alone (no message); a changed one is replaced in place
(one command, keeps the order id; the venue's priority rules apply); a filled one is re-sent.
"""

from __future__ import annotations

import numpy as np

from sim.agents.base import Agent, bps_ticks
from sim.exchange import Order

__all__ = ["LiquidityProvider"]

_BATCH = 256


class LiquidityProvider(Agent):
    """Quotes both sides of one symbol around a fair price; widens, shrinks and pulls under stress."""

    kind = "lp"
    firm = "AGENTS-LP"

    def __init__(self, market, owner: str, symbol: str, rng: np.random.Generator, *, index: int = 0,
                 of: int = 1) -> None:
        super().__init__(market, owner, symbol, rng)
        cfg = market.config.lp
        self.cfg = cfg
        self.index = index
        self.half_bps = cfg.half_spread_bps + index * cfg.layer_bps
        span = cfg.pull_stress_max - cfg.pull_stress_min
        self.pull_at = cfg.pull_stress_min + (span * index / (of - 1) if of > 1 else 0.0)
        self.pulled = False
        self.withdrawals = 0
        self.bid: Order | None = None
        self.ask: Order | None = None
        self._period_ns = cfg.refresh_ms * 1_000_000
        self._jitter: list[float] = []
        self._i = _BATCH

    def start(self) -> None:
        """Schedule the first refresh at a random phase within one period."""
        self._wake_at(self.market.clock.now_ns() + 1 + int(self._uniform() * self._period_ns), self._refresh)

    def _uniform(self) -> float:
        if self._i >= _BATCH:
            self._jitter = self.rng.random(_BATCH).tolist()
            self._i = 0
        u = self._jitter[self._i]
        self._i += 1
        return u

    def quoting(self) -> bool:
        """True if the LP has at least one live quote."""
        return any(o is not None and not o.done for o in (self.bid, self.ask))

    def _refresh(self) -> None:
        """Recompute and (re)send both quotes, or pull them; schedule the next refresh."""
        self._timer = self._call_at(self._now() + int((0.5 + self._uniform()) * self._period_ns), self._refresh)
        st = self.state
        if st.halted:
            return
        cfg = self.cfg
        stress = st.stress
        if self.pulled:
            if stress >= self.pull_at * cfg.return_fraction:
                return
            self.pulled = False
        elif stress > self.pull_at:
            self.pulled = True
            self.withdrawals += 1
            for order in (self.bid, self.ask):
                if order is not None:
                    self.send_cancel(order)
            self.bid = self.ask = None
            return
        excess = stress - 1.0 if stress > 1.0 else 0.0
        fundamental = self._values[self.symbol]
        last = st.last_trade
        w = cfg.market_weight
        fair = fundamental if last is None or w == 0.0 else int(w * last + (1.0 - w) * fundamental + 0.5)
        half = bps_ticks(fair, self.half_bps * (1.0 + cfg.widen_per_stress * excess))
        lot = st.lot
        qty = int(cfg.size / (1.0 + cfg.shrink_per_stress * excess)) * lot
        skew = int(round(self.position / lot * cfg.skew_bps_per_lot * fair / 10_000.0))
        centre = fair - skew
        cap = cfg.max_inventory * lot
        self.bid = self._quote(self.bid, 1, max(1, centre - half), qty if self.position < cap else 0)
        self.ask = self._quote(self.ask, 2, centre + half, qty if self.position > -cap else 0)

    def _quote(self, order: Order | None, side: int, price: int, qty: int) -> Order | None:
        """Make one side's live quote (price, qty), with as few commands as possible."""
        live = order is not None and not order.done
        if qty <= 0:
            if live:
                self.send_cancel(order)
            return None
        if live:
            if order.price == price and order.order_qty - order.cum_qty == qty:  # leaves_qty (not done)
                return order
            self.send_replace(order, qty, price)
            return None if order.done else order
        return self.send_new(side, qty, price)
