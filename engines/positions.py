"""Positions and P&L per strategy and symbol, from fills, against an independent reference price.

Quantities are signed integers (buy +, sell -), prices integer ticks; money is ``Decimal`` in
the instrument's currency (qty x ticks x tick_size), so P&L is exact and never depends on float
rounding.  Average cost follows the usual convention: it moves only when a fill adds to the
position; a fill that reduces it realises (fill price - average cost) x qty; a fill through zero
closes the old position and opens the rest at the fill price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sim.instruments import Instrument


@dataclass(slots=True)
class Position:
    """One strategy's position in one symbol."""

    symbol: str
    qty: int = 0
    cost_ticks: Decimal = Decimal(0)   # average cost in ticks (exact fraction kept as Decimal)
    realized_ticks: Decimal = Decimal(0)  # realised P&L in ticks x qty
    bought: int = 0
    sold: int = 0

    def apply(self, side: int, qty: int, price: int) -> Decimal:
        """Apply a fill; returns the realised P&L it produced, in ticks x qty."""
        signed = qty if side == 1 else -qty
        if side == 1:
            self.bought += qty
        else:
            self.sold += qty
        realized = Decimal(0)
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            total = self.qty + signed
            self.cost_ticks = (self.cost_ticks * abs(self.qty) + Decimal(price) * qty) / abs(total)
            self.qty = total
            return realized
        closing = min(qty, abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        realized = (Decimal(price) - self.cost_ticks) * closing * direction
        self.realized_ticks += realized
        remaining = qty - closing
        if remaining == 0:
            self.qty += signed
            if self.qty == 0:
                self.cost_ticks = Decimal(0)
        else:
            self.qty = remaining if side == 1 else -remaining
            self.cost_ticks = Decimal(price)
        return realized

    def unrealized_ticks(self, reference: int | None) -> Decimal:
        """Mark-to-reference P&L of the open quantity, in ticks x qty (0 without a reference)."""
        if reference is None or self.qty == 0:
            return Decimal(0)
        return (Decimal(reference) - self.cost_ticks) * self.qty


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

    def apply_fill(self, strategy: str, symbol: str, side: int, qty: int, price: int) -> Decimal:
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
                total += p.realized_ticks * _tick(instruments, symbol)
        return total

    def unrealized(self, instruments, references: dict[str, int], strategy: str | None = None) -> Decimal:
        """Unrealised P&L in currency against the reference prices."""
        total = Decimal(0)
        for (s, symbol), p in self.positions.items():
            if strategy is None or s == strategy:
                total += p.unrealized_ticks(references.get(symbol)) * _tick(instruments, symbol)
        return total


def _tick(instruments, symbol: str) -> Decimal:
    return instruments.get(symbol).tick_size
