"""Noise traders: uninformed flow arriving as a Poisson process around the fundamental.

One noise trader per symbol sends ``noise_rate_per_s`` requests per second; the gaps are
exponential, so arrivals are Poisson.  Each request is, by a uniform draw ``u``:

* ``u < cancel_share``: cancel its oldest resting order (a passive order otherwise, if none rests);
* then ``marketable_share``: a marketable order - a true market order with probability
  ``market_order_share`` (these sweep whatever is there, which is what turns a thin book into a
  crash), otherwise an IOC limit ``take_bps`` through the fundamental;
* otherwise a passive limit order ``offset`` ticks behind the fundamental, with ``offset``
  exponential of mean ``offset_bps`` (floor to whole ticks, so some orders sit at the fundamental).

Side is a fair coin; size is geometric in lots with mean ``size_lots``.  More than ``max_resting``
live orders cancels the oldest, so the book does not fill with stale noise.

Why batches: every arrival needs five draws.  Drawing 1024 arrivals at once (one numpy call per
quantity, then ``tolist``) costs ~0.2 us per arrival instead of ~5 us for ten scalar calls.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sim.agents.base import IOC, LIMIT, MARKET, Agent, bps_ticks

__all__ = ["NoiseTrader"]

_BATCH = 1024


class NoiseTrader(Agent):
    """Poisson limit, marketable and cancel requests around the fundamental for one symbol."""

    kind = "noise"
    firm = "AGENTS-NOISE"

    def __init__(self, market, owner: str, symbol: str, rng: np.random.Generator) -> None:
        super().__init__(market, owner, symbol, rng)
        cfg = market.config.noise
        self.cfg = cfg
        self.resting: deque = deque()     # live Order records, oldest first (done ones dropped lazily)
        self._draws: list[tuple] = []
        self._i = _BATCH
        self._mean_gap_ns = 1e9 / cfg.rate_per_s if cfg.rate_per_s > 0 else 0.0

    def start(self) -> None:
        """Schedule the first arrival (none if the rate is 0)."""
        if self._mean_gap_ns:
            self._next()

    def _refill(self) -> None:
        rng, cfg = self.rng, self.cfg
        gaps = np.maximum(1, np.rint(rng.exponential(self._mean_gap_ns, _BATCH))).astype(np.int64).tolist()
        action = rng.random(_BATCH).tolist()
        market_order = rng.random(_BATCH).tolist()
        side = rng.integers(1, 3, _BATCH).tolist()
        offset = rng.exponential(1.0, _BATCH).tolist()    # in units of the mean offset
        lots = rng.geometric(1.0 / cfg.size_lots, _BATCH).tolist()
        self._draws = list(zip(gaps, action, market_order, side, offset, lots, strict=True))
        self._i = 0

    def _next(self) -> None:
        if self._i >= _BATCH:
            self._refill()
        self._timer = self._call_at(self._now() + self._draws[self._i][0], self._act)

    def _act(self) -> None:
        """One arrival: cancel, marketable or passive, then schedule the next."""
        i = self._i
        draw = self._draws[i]
        self._i = i = i + 1
        # _next, inline (one arrival per timer: the call is a measurable share of an arrival)
        if i >= _BATCH:
            self._refill()
            i = 0
        self._timer = self._call_at(self._now() + self._draws[i][0], self._act)
        if self.state.halted:
            return
        _gap, u, u_market, side, offset, lots = draw
        cfg = self.cfg
        resting = self.resting
        while resting and resting[0].done:
            resting.popleft()
        if u < cfg.cancel_share and resting:
            self.send_cancel(resting.popleft())
            return
        st = self.state
        fair = self._values[self.symbol]
        qty = lots * st.lot
        buy = side == 1
        if cfg.cancel_share <= u < cfg.cancel_share + cfg.marketable_share:
            if u_market < cfg.market_order_share:
                self.send_new(side, qty, None, MARKET)
            else:
                take = bps_ticks(fair, cfg.take_bps)
                self.send_new(side, qty, fair + take if buy else max(1, fair - take), LIMIT, IOC)
            return
        off = int(offset * fair * cfg.offset_bps / 10_000.0)
        order = self.send_new(side, qty, max(1, fair - off) if buy else fair + off)
        if order is not None:
            resting.append(order)
            if len(resting) > cfg.max_resting:
                self.send_cancel(resting.popleft())
