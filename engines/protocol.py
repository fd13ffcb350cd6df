"""What an order engine must offer to plug into marketdrill: :class:`OrderEngineProtocol`.

The built-in :class:`engines.order_engine.OrderEngine` is one implementation; a trading team can
bring its own and run every scenario, strategy and monitor against it.  This protocol lists
*exactly* what the rest of the code base touches on an engine (read off the scenario runner and
injections, the monitors, the strategy base and the reports), nothing more.  It is structural
(``typing.Protocol``): an engine subclasses nothing, it only needs these members.

How a team plugs its own engine in
----------------------------------
1. Write a class whose constructor matches :data:`EngineFactory`,
   ``Engine(name, instruments, *, now_ns, risk)``, so the class itself is the factory.  Read time
   only through ``now_ns`` (the virtual clock in tests), never from the wall clock.
2. Use the :class:`engines.risk.RiskEngine` given as ``risk`` for pre-trade checks and the trading
   state: call ``risk.evaluate(intent, self)`` before sending a new order (the engine itself is the
   :class:`engines.risk.RiskContext`), ``risk.on_submitted`` after sending, ``risk.on_fill`` per
   fill.  Halts, limit changes and the What Changed timeline all go through it.  An engine may add
   checks of its own in front; it must not skip these.
3. Speak FIX through the :class:`sim.fix.session.Session` given to :meth:`attach`: the engine is
   the session's application (``on_logon_request``, ``on_logon``, ``on_logout``, ``from_app``),
   sends NewOrderSingle / OrderCancelRequest / OrderCancelReplaceRequest with ``session.send``, and
   books ExecutionReports and OrderCancelRejects as they come back.
4. Hand out the shared value types of :mod:`engines.order_engine` (:class:`OrderHandle`,
   :class:`OrderUpdate`, :class:`Fill`, :class:`OrderState`): strategies and monitors read their
   fields (``state``, ``cum_qty``, ``reject_code`` ...), so those are part of the contract too.
   Update kinds the rest of the system reacts to: ``sent``, ``ack``, ``fill`` (with ``fill``),
   ``denied`` (``code`` = the risk code, e.g. ``trading_halted``), ``rejected`` (venue, with the
   venue's Text), ``canceled``, ``replaced``, ``cancel_rejected``, ``replace_denied``.
5. Run :func:`engines.testing.check_order_engine` on it in the team's own test suite (it drives
   the engine against the real venue in virtual time and names any broken behaviour), then use
   it wherever an ``OrderEngine`` goes.

``examples/minimal_engine.py`` is a small, complete implementation to copy from.

Why a Protocol rather than an abstract base class: teams wrap engines they already have (an
adapter over a C++ gateway, a FIX endpoint proxy), and a structural type lets them do so without
inheriting our implementation or its state.  ``runtime_checkable`` lets tests assert the members
exist (``isinstance`` checks names only, not signatures; the conformance kit checks behaviour).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol, runtime_checkable

from engines.order_engine import OrderHandle, OrderUpdate
from engines.risk import RiskEngine
from sim.fix.codec import FixMessage
from sim.fix.session import Session
from sim.instruments import Instrument, InstrumentTable

__all__ = ["OrderEngineProtocol", "EngineFactory"]


@runtime_checkable
class OrderEngineProtocol(Protocol):
    """The members the scenario runner, strategies, monitors and reports use on an order engine."""

    # -- IDENTITY AND WIRING ---------------------------------------------------------------------

    name: str
    """The engine's (firm's) name; monitors and reports label alerts and lines with it."""
    instruments: InstrumentTable
    """The firm's own copy of the reference data (may disagree with the venue's after a change)."""
    risk: RiskEngine
    """Pre-trade risk and trading state: ``state``/``why``/``limits``/``changes``/``set_state``/``set_limit``."""
    session: Session | None
    """The FIX initiator session to the venue (None until :meth:`attach`)."""
    orders: dict[str, OrderHandle]
    """Every ClOrdID the engine used -> its order's handle (a handle appears once per ClOrdID)."""
    open_orders: dict[str, OrderHandle]
    """First ClOrdID -> handle, for orders not yet done."""
    sent: int
    """How many new orders the engine sent to the venue (denied ones not counted)."""

    def attach(self, session: Session) -> None:
        """Use ``session`` for order entry and become its application (``session.app = self``)."""

    def subscribe(self, callback: Callable[[OrderUpdate], None]) -> None:
        """Call ``callback`` with every update of every order (monitors, journal, strategies)."""

    def set_reference(self, symbol: str, ticks: int, as_of_ns: int | None = None) -> None:
        """Record the independent reference price of ``symbol`` (risk collars, flatten, P&L)."""

    # -- STRATEGY API ----------------------------------------------------------------------------

    def submit(self, strategy: str, symbol: str, side: int, qty: int, price: int | None = None, *,
               ord_type: str = "limit", time_in_force: str = "day", flatten: bool = False) -> OrderHandle:
        """Risk-check and send a new order; the handle is ``denied`` (with code and text) if refused."""

    def cancel(self, handle: OrderHandle) -> bool:
        """Send a cancel for an open order (allowed even when HALTED); False if nothing was sent."""

    def replace(self, handle: OrderHandle, *, qty: int | None = None, price: int | None = None) -> bool:
        """Risk-check and send a cancel/replace of an open limit order; False if refused or not sent."""

    def cancel_all(self, strategy: str | None = None, symbol: str | None = None) -> int:
        """Cancel every open order (of one strategy and/or symbol); returns how many cancels were sent."""

    def flatten(self, strategy: str, symbol: str, *, protect_ticks: int | None = None) -> OrderHandle | None:
        """Close a strategy's position (allowed while HALTED); None if already flat."""

    def halt(self, *, strategy: str | None = None, who: str = "operator", reason: str = "manual halt") -> None:
        """Set the engine (or one strategy) HALTED: new orders denied, cancels and flatten pass."""

    def resume(self, *, strategy: str | None = None, who: str = "operator", reason: str = "resume") -> None:
        """Set the engine (or one strategy) ACTIVE again."""

    # -- RISK CONTEXT (read by engines.risk, monitors, expectations and reports) -------------------

    def now_ns(self) -> int:
        """The engine's clock (the injected ``now_ns``)."""

    def instrument(self, symbol: str) -> Instrument:
        """The engine's instrument definition for ``symbol``."""

    def position(self, symbol: str, strategy: str | None = None) -> int:
        """Signed filled quantity (buys +, sells -), firm-wide or of one strategy."""

    def working_qty(self, symbol: str, side: int, strategy: str | None = None) -> int:
        """Open (unfilled) quantity on one side."""

    def open_order_count(self, strategy: str | None = None) -> int:
        """Number of open orders."""

    def reference_price(self, symbol: str) -> tuple[int, int] | None:
        """The independent reference price as (ticks, as_of_ns), or None."""

    def realized_pnl(self, strategy: str | None = None) -> Decimal:
        """Realised P&L in the instrument currency."""

    def unrealized_pnl(self, strategy: str | None = None) -> Decimal:
        """Unrealised P&L against the reference prices."""

    def unacked(self, older_than_ns: int = 0) -> list[OrderHandle]:
        """Open orders sent but not yet acknowledged, sent at least ``older_than_ns`` ago."""

    # -- FIX APPLICATION (called by the session) ---------------------------------------------------

    def on_logon_request(self, session: Session, logon: FixMessage) -> None:
        """The venue's Logon reply (raise ``RejectLogon`` to refuse it)."""

    def on_logon(self, session: Session) -> None:
        """The session is logged on."""

    def on_logout(self, session: Session) -> None:
        """The session ended; orders stay as they are (the venue decides on cancel-on-disconnect)."""

    def from_app(self, session: Session, message: FixMessage) -> None:
        """An application message from the venue: ExecutionReport (8), OrderCancelReject (9), ..."""


class EngineFactory(Protocol):
    """Builds an unconnected engine: ``factory(name, instruments, *, now_ns, risk)``; a class can be one.

    ``name`` is also the firm's CompID in test worlds; ``instruments`` a fresh
    :class:`~sim.instruments.InstrumentTable` the engine owns; ``now_ns`` a zero-argument clock in
    integer nanoseconds; ``risk`` the :class:`~engines.risk.RiskEngine` it must use.  The caller
    creates the FIX session and calls :meth:`OrderEngineProtocol.attach`.
    """

    def __call__(self, name: str, instruments: InstrumentTable, *, now_ns: Callable[[], int],
                 risk: RiskEngine) -> OrderEngineProtocol:
        """Build one engine."""
