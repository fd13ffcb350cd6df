"""Arbitrageurs: the market punishes mistakes - a mispriced order is taken at once.

One arbitrageur per symbol.  A resting order is *mispriced* when it is more than the threshold
from the fundamental on the wrong side: an ask below ``fair - thr`` or a bid above ``fair + thr``,
where ``thr = max(arb_threshold_ticks, arb_threshold_bps of fair)`` whole ticks.  The arbitrageur
then sends an IOC priced at ``fair - thr - 1`` (buy) or ``fair + thr + 1`` (sell): it takes every
mispriced order at its own price in one command and cannot touch a fair one.

When it looks: the Market *pokes* it after every BookChange of its symbol (agents' commands and,
through :meth:`Market.watch`, FIX firms' orders), after every fundamental step and on a
fundamental shift.  A poke is an O(1) look at the top of the book (mispriced orders are always at
the top: a too-cheap ask is the best ask); only if something is off does it schedule a take at
``now + arb_latency_us`` - with latency 0 still *after* the command that caused it, at the same
virtual instant, so reports keep their order.  At that time it looks again (the order may be
gone) and takes.  Its own take produces a BookChange, which pokes it again: it keeps taking until
the top is fair or its position reaches ``arb_max_position`` lots; ``arb_max_qty`` lots per take.

Why the fundamental and not the last trade: a fat-finger sell at 1 yen also prints trades at
absurd prices; only a value outside the order flow can call them wrong.  The capacity limit is
what lets a scenario make arbitrageurs *fail* to stop a crash (as on 6 May 2010).
"""

from __future__ import annotations

from sim.agents.base import IOC, LIMIT, Agent, bps_ticks

__all__ = ["Arbitrageur"]


class Arbitrageur(Agent):
    """Takes orders of one symbol mispriced against the fundamental by more than a threshold."""

    kind = "arb"
    firm = "AGENTS-ARB"

    def __init__(self, market, owner: str, symbol: str, rng=None) -> None:
        super().__init__(market, owner, symbol, rng)
        self.cfg = cfg = market.config.arb
        self.latency_ns = cfg.latency_us * 1000
        self.takes = 0
        self._fair = 0                    # fundamental the cached band was computed for
        self._lo = self._hi = 0           # asks below _lo / bids above _hi are mispriced

    def start(self) -> None:
        """Look at the book once (something may already be mispriced)."""
        self.poke()

    def threshold(self) -> int:
        """The mispricing threshold now, in whole ticks."""
        return max(self.cfg.threshold_ticks, bps_ticks(self.market.walk.value[self.symbol], self.cfg.threshold_bps, 0))

    def target(self) -> tuple[int, int, int] | None:
        """(side, limit price, qty) of the take the book calls for now, or None if it is fair."""
        st = self.state
        if st.halted:
            return None
        cfg = self.cfg
        fair = self.market.walk.value[self.symbol]
        thr = max(cfg.threshold_ticks, bps_ticks(fair, cfg.threshold_bps, 0))
        lot = st.lot
        room = cfg.max_position * lot
        book = st.book
        ask = book.best_ask()
        if ask is not None and ask.price < fair - thr and self.position < room:
            return 1, fair - thr - 1, min(cfg.max_qty, (room - self.position) // lot) * lot
        bid = book.best_bid()
        if bid is not None and bid.price > fair + thr and self.position > -room:
            return 2, fair + thr + 1, min(cfg.max_qty, (room + self.position) // lot) * lot
        return None

    def poke(self) -> None:
        """Something changed: if the top of the book is mispriced, schedule a take after the latency."""
        if self._timer is not None or not self.market.running:
            return
        if self.target() is not None:
            self._wake_at(self.market.clock.now_ns() + self.latency_ns, self._take)

    def poke_levels(self, levels: tuple[tuple[int, int, int], ...]) -> None:
        """A BookChange touched these (side, price, qty) levels: look only at them (O(levels)).

        A resting order can become mispriced only by arriving (a touched level) or by the
        fundamental moving (the Market pokes on every step), so this is enough and cheap.
        """
        if self._timer is not None:
            return
        fair = self._values[self.symbol]
        if fair != self._fair:
            self._fair = fair
            thr = max(self.cfg.threshold_ticks, bps_ticks(fair, self.cfg.threshold_bps, 0))
            self._lo, self._hi = fair - thr, fair + thr
        lo, hi = self._lo, self._hi
        for side, price, qty in levels:
            if qty and (price < lo if side == 2 else price > hi):
                self.poke()
                return

    def _take(self) -> None:
        self._timer = None
        target = self.target()
        if target is None or target[2] <= 0:
            return
        side, price, qty = target
        self.takes += 1
        self.send_new(side, qty, price, LIMIT, IOC)
