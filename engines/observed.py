"""A firm whose order engine is someone else's program, seen from the venue's side.

A scenario can give a firm an external order engine (``[[firm]] engine = "fix"``): any FIX
initiator (QuickFIX, QuickFIX/J, a team's own engine) logs on to the venue over TCP and trades as
it likes; the venue does not care who is on the other side.  The runner cannot look inside that
engine, so :class:`ObservedFirm` rebuilds what the report and the expectations need from the
execution reports the venue sends that firm: orders, fills, positions, realised and unrealised
P&L against the scenario's reference prices, and every refusal (with the venue's reason).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from engines.positions import Portfolio
from sim.instruments import InstrumentTable
from sim.venue_events import ExecReport, ExecType

_OPEN = frozenset(("0", "1", "6", "A", "E"))  # OrdStatus of orders still working at the venue
EXTERNAL_STRATEGY = "external"  # positions are booked under one pseudo-strategy: we cannot see theirs


@dataclass(slots=True)
class ObservedOrder:
    """One order of the external engine as the venue reported it."""

    cl_ord_id: str
    symbol: str
    side: int
    qty: int
    status: str = "new"


class ObservedFirm:
    """The parts of an order engine a report and expectations read, for an engine we cannot see into."""

    def __init__(self, name: str, instruments: InstrumentTable, *, now_ns: Callable[[], int],
                 on_fill: Callable[[str, int], None] | None = None,
                 on_refusal: Callable[[ExecReport], None] | None = None) -> None:
        self.name = name
        self.instruments = instruments
        self._now = now_ns
        self.portfolio = Portfolio()
        self.references: dict[str, tuple[int, int]] = {}
        self.orders: dict[str, ObservedOrder] = {}
        self.sent = 0  # new orders the venue acknowledged or rejected
        self.rejected = 0
        self._on_fill = on_fill
        self._on_refusal = on_refusal

    def on_report(self, report: ExecReport) -> None:
        """Take one ExecutionReport the venue sent this firm."""
        kind = report.exec_type
        if report.cl_ord_id not in self.orders and kind in (ExecType.NEW, ExecType.REJECTED):
            self.sent += 1
            self.orders[report.cl_ord_id] = ObservedOrder(report.cl_ord_id, report.symbol, report.side,
                                                          report.order_qty)
        order = self.orders.get(report.cl_ord_id)
        if order is not None:
            order.status = str(report.ord_status)
        if kind == ExecType.TRADE and report.last_qty:
            self.portfolio.apply_fill(EXTERNAL_STRATEGY, report.symbol, report.side, report.last_qty, report.last_px)
            if self._on_fill is not None:
                self._on_fill(report.symbol, abs(self.position(report.symbol)))
        elif kind == ExecType.REJECTED:
            self.rejected += 1
            if self._on_refusal is not None:
                self._on_refusal(report)

    def set_reference(self, symbol: str, ticks: int, as_of_ns: int | None = None) -> None:
        """The independent reference price unrealised P&L is marked against."""
        self.references[symbol] = (ticks, self._now() if as_of_ns is None else as_of_ns)

    def position(self, symbol: str, strategy: str | None = None) -> int:
        """Signed filled quantity."""
        return self.portfolio.net(symbol)

    def open_order_count(self, strategy: str | None = None) -> int:
        """Orders the venue reported and has not finished."""
        return sum(1 for o in self.orders.values() if o.status in _OPEN)

    def realized_pnl(self, strategy: str | None = None) -> Decimal:
        """Realised P&L in currency."""
        return self.portfolio.realized(self.instruments)

    def unrealized_pnl(self, strategy: str | None = None) -> Decimal:
        """Unrealised P&L in currency against the reference prices."""
        return self.portfolio.unrealized(self.instruments, {s: r[0] for s, r in self.references.items()})
