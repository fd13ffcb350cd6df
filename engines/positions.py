"""Positions and P&L per strategy and symbol, from fills, against an independent reference price.

Quantities are signed integers (buy +, sell -), prices integer ticks; average cost and P&L are
kept as exact fractions of ticks (``fractions.Fraction``: a 28-digit Decimal average drifted by
1e-23 after a few fills) and turned into ``Decimal`` money (qty x ticks x tick_size) at the edge.  Average cost follows the usual convention: it moves only when a fill adds to the
position; a fill that reduces it realises (fill price - average cost) x qty; a fill through zero
closes the old position and opens the rest at the fill price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sim.instruments import Instrument


@dataclass(slots=True)
class Position:
    """One strategy's position in one symbol."""

    symbol: str
    qty: int = 0
    cost_ticks: Fraction = Fraction(0)      # average cost in ticks, exact
    realized_ticks: Fraction = Fraction(0)  # realised P&L in ticks x qty, exact
    bought: int = 0
    sold: int = 0

    def apply(self, side: int, qty: int, price: int) -> Fraction:
        """Apply a fill; returns the realised P&L it produced, in ticks x qty (exact)."""
        signed = qty if side == 1 else -qty
        if side == 1:
            self.bought += qty
        else:
            self.sold += qty
        realized = Fraction(0)
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            total = self.qty + signed
            self.cost_ticks = (self.cost_ticks * abs(self.qty) + price * qty) / Fraction(abs(total))
            self.qty = total
            return realized
        closing = min(qty, abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        realized = (price - self.cost_ticks) * closing * direction
        self.realized_ticks += realized
        remaining = qty - closing
        if remaining == 0:
            self.qty += signed
            if self.qty == 0:
                self.cost_ticks = Fraction(0)
        else:
            self.qty = remaining if side == 1 else -remaining
            self.cost_ticks = Fraction(price)
        return realized

    def unrealized_ticks(self, reference: int | None) -> Fraction:
        """Mark-to-reference P&L of the open quantity, in ticks x qty (0 without a reference)."""
        if reference is None or self.qty == 0:
            return Fraction(0)
        return (reference - self.cost_ticks) * self.qty


class Portfolio:
    """All positions of an engine, keyed by (strategy, symbol)."""

    def __init__(self) -> None:
        self.positions: dict[tuple[str, str], Position] = {}

    def position(self, strategy: str, symbol: str) -> Position:
        """The position (created flat on first use)."""
        key = (strategy, symbol)
        position = self.positions.get(key)
        if position is None:
            position = self.positions[key] = Position(symbol)
        return position

    def apply_fill(self, strategy: str, symbol: str, side: int, qty: int, price: int) -> Fraction:
        """Book a fill; returns realised P&L in ticks x qty."""
        return self.position(strategy, symbol).apply(side, qty, price)

    def net(self, symbol: str, strategy: str | None = None) -> int:
        """Net signed quantity in a symbol (one strategy's, or all strategies')."""
        return sum(p.qty for (s, sym), p in self.positions.items() if sym == symbol and (strategy is None or s == strategy))

    def realized(self, instruments: dict[str, Instrument] | object, strategy: str | None = None) -> Decimal:
        """Realised P&L in currency over the chosen positions."""
        total = Decimal(0)
        for (s, symbol), p in self.positions.items():
            if strategy is None or s == strategy:
                total += _money(p.realized_ticks, _tick(instruments, symbol))
        return total

    def unrealized(self, instruments, references: dict[str, int], strategy: str | None = None) -> Decimal:
        """Unrealised P&L in currency against the reference prices."""
        total = Decimal(0)
        for (s, symbol), p in self.positions.items():
            if strategy is None or s == strategy:
                total += _money(p.unrealized_ticks(references.get(symbol)), _tick(instruments, symbol))
        return total


def _tick(instruments, symbol: str) -> Decimal:
    return instruments.get(symbol).tick_size


def _money(ticks: Fraction, tick_size: Decimal) -> Decimal:
    """Exact ticks x tick size as Decimal money; a fraction of a cent is rounded only here, at the edge."""
    value = Decimal(ticks.numerator) * tick_size / Decimal(ticks.denominator)
    return value if ticks.denominator == 1 else value.quantize(Decimal(1).scaleb(-12))
