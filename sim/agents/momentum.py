"""Momentum followers: buy after prices rose, sell after they fell - the feedback in a feedback loop.

Each follower wakes as a Poisson process (``momentum_rate_per_s``), compares the last trade price
with the one ``momentum_lookback`` trades earlier, and if the move is at least ``trigger_bps`` of
the fundamental it sends an IOC ``size`` lots in the same direction, priced ``slip_bps`` through
the touch (so it takes liquidity but cannot sweep a hollow book to nothing).  ``max_position``
caps what one follower can accumulate.  They read only trade prints (``SymbolState.trades``,
fed from BookChanges, including trades of FIX firms), never the fundamental's direction.
"""

from __future__ import annotations

import numpy as np

from sim.agents.base import IOC, LIMIT, Agent, bps_ticks

__all__ = ["MomentumFollower"]

_BATCH = 256


class MomentumFollower(Agent):
    """Trades one symbol in the direction of its recent trade prices."""

    kind = "momentum"
    firm = "AGENTS-MOMENTUM"

    def __init__(self, market, owner: str, symbol: str, rng: np.random.Generator) -> None:
        super().__init__(market, owner, symbol, rng)
        self.cfg = cfg = market.config.momentum
        self._mean_gap_ns = 1e9 / cfg.rate_per_s if cfg.rate_per_s > 0 else 0.0
        self._gaps: list[int] = []
        self._i = _BATCH

    def start(self) -> None:
        """Schedule the first decision (none if the rate is 0)."""
        if self._mean_gap_ns:
            self._next()

    def _next(self) -> None:
        if self._i >= _BATCH:
            self._gaps = np.maximum(1, np.rint(self.rng.exponential(self._mean_gap_ns, _BATCH))).astype(
                np.int64).tolist()
            self._i = 0
        gap = self._gaps[self._i]
        self._i += 1
        self._wake_at(self.market.clock.now_ns() + gap, self._act)

    def _act(self) -> None:
        """Look at the trade prints; follow a move past the trigger."""
        self._next()
        st = self.state
        trades = st.trades
        if st.halted or len(trades) < trades.maxlen:
            return
        cfg = self.cfg
        move = trades[-1] - trades[0]
        trigger = bps_ticks(self.market.walk.value[self.symbol], cfg.trigger_bps)
        if -trigger < move < trigger:
            return
        qty = cfg.size * st.lot
        cap = cfg.max_position * st.lot
        if move > 0:
            touch = st.book.best_ask()
            if touch is None or self.position + qty > cap:
                return
            self.send_new(1, qty, touch.price + bps_ticks(touch.price, cfg.slip_bps), LIMIT, IOC)
        else:
            touch = st.book.best_bid()
            if touch is None or self.position - qty < -cap:
                return
            self.send_new(2, qty, max(1, touch.price - bps_ticks(touch.price, cfg.slip_bps)), LIMIT, IOC)
