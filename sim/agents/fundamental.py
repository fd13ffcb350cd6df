"""The fundamental value of each symbol: a random walk in whole ticks, drawn in vectorised batches.

Why integer ticks: the fundamental decides prices agents send, and prices are integers everywhere
in marketdrill.  A float walk rounded at use would be exact too, but two consumers rounding at
different moments could disagree; one integer state cannot.

Step distribution: over one step of ``dt`` seconds the walk should move with standard deviation
``sigma = volatility_bps x 1e-4 x reference_ticks x sqrt(dt)`` ticks.  When ``sigma >= 1`` a step is
``round(normal(0, sigma))`` (variance sigma^2 + ~1/12, close enough).  When ``sigma < 1``, rounding
a normal would mostly give 0 and understate the variance badly, so the step is ternary: +-1 tick
with probability sigma^2 / 2 each, 0 otherwise - exactly the right variance, zero mean.  The
walk never goes below one tick.

Draws come from the walk's own child Generator, ``batch`` steps x symbols at a time (one numpy
call instead of one per step); ``shift`` moves a fundamental by hand (news, a scenario's jump).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["FundamentalWalk"]


class FundamentalWalk:
    """Integer-tick random walks for several symbols, stepped together.

    >>> walk = FundamentalWalk({"A": 10_000}, volatility_bps=2.0, step_ms=100,
    ...                        rng=np.random.default_rng(1))
    >>> walk.value["A"]
    10000
    >>> _ = [walk.step() for _ in range(100)]
    >>> abs(walk.value["A"] - 10_000) < 100
    True
    """

    __slots__ = ("value", "sigma_ticks", "_symbols", "_rng", "_batch", "_steps", "_pos", "_ternary")

    def __init__(self, start: dict[str, int], *, volatility_bps: float, step_ms: int,
                 rng: np.random.Generator, batch: int = 1024) -> None:
        self.value: dict[str, int] = dict(start)
        self._symbols = list(start)
        dt = step_ms / 1000.0
        self.sigma_ticks = [volatility_bps * 1e-4 * start[s] * math.sqrt(dt) for s in self._symbols]
        self._ternary = [sig < 1.0 for sig in self.sigma_ticks]
        self._rng = rng
        self._batch = batch
        self._steps: list[list[int]] = []
        self._pos = batch

    def _refill(self) -> None:
        """Draw the next ``batch`` steps for every symbol in one call per symbol."""
        rng, n = self._rng, self._batch
        cols = []
        for sig, ternary in zip(self.sigma_ticks, self._ternary, strict=True):
            if sig == 0:
                col = np.zeros(n, dtype=np.int64)
            elif ternary:
                u = rng.random(n)
                p = sig * sig / 2.0
                col = (u < p).astype(np.int64) - (u > 1.0 - p).astype(np.int64)
            else:
                col = np.rint(rng.normal(0.0, sig, n)).astype(np.int64)
            cols.append(col)
        # rows = steps, so one step reads one short list of Python ints
        self._steps = np.stack(cols, axis=1).tolist()
        self._pos = 0

    def step(self) -> dict[str, int]:
        """Advance every symbol by one step; return the new values (the live dict).

        Runtime complexity: O(symbols), plus one batched draw every ``batch`` steps
        """
        if self._pos >= self._batch:
            self._refill()
        row = self._steps[self._pos]
        self._pos += 1
        value = self.value
        for symbol, move in zip(self._symbols, row, strict=True):
            if move:
                v = value[symbol] + move
                value[symbol] = v if v >= 1 else 1
        return value

    def shift(self, symbol: str, ticks: int) -> int:
        """Move one fundamental by ``ticks`` at once (never below one tick); return the new value."""
        v = max(1, self.value[symbol] + int(ticks))
        self.value[symbol] = v
        return v
