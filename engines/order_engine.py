"""The order engine: what a firm runs between its strategies and the exchange.

Strategies call :meth:`OrderEngine.submit`, :meth:`cancel`, :meth:`replace`, :meth:`flatten`
and :meth:`cancel_all`; every new order first goes through the engine's pre-trade risk pipeline
(:class:`engines.risk.RiskEngine`) and is either denied on the spot (with the check's reason code
and sentence) or sent to the venue as a FIX NewOrderSingle over the engine's initiator session.
The engine is that session's :class:`~sim.fix.session.Application`: execution reports and cancel
rejects come back through :meth:`from_app` and move each :class:`OrderHandle` through the FIX
order states, book fills into positions, and notify listeners (monitors, the journal, tests).

Sans-I/O like the session: no sockets and no clock reads of its own (``now_ns`` is injected), so
the same engine runs over real TCP, over the in-memory pipe in virtual time, and in unit tests.

Order handles expose state as FIX does (pending new, new, partially filled, filled, pending
cancel, cancelled, pending replace, rejected, expired) plus ``denied`` for orders the engine's own
risk refused (they never left the engine), with callbacks and an async iterator of updates.

Reconciliation: whenever the session logs on (again) while the engine holds open orders, or
after :meth:`OrderEngine.adopt` gave a restarted engine the orders its previous run left open,
the engine sends an OrderStatusRequest (H) for each of them and refuses new orders and replaces
(code ``reconciling``, check ``engine``) until every status is back.  A status report brings the
handle to the venue's state: OrderID, quantity, price, fills missed while disconnected (booked
into positions as one fill at the implied average price), done or not.  An order the venue does
not know is closed as ``rejected`` with code ``reconcile_unknown_order``.  Cancels always pass.
``OrderEngine(..., reconcile_on_logon=False)`` leaves re-logons alone (:meth:`reconcile` still works).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from engines.positions import Portfolio
from engines.risk import Denial, OrderIntent, OverriddenWarning, RiskEngine, TradingState
from sim.fix.codec import FixMessage
from sim.fix.session import BusinessReject, Session
from sim.fix.timestamps import format_utc_timestamp
from sim.instruments import InstrumentError, InstrumentTable


class OrderState(StrEnum):
    """Where an order is in its life, as FIX names it (plus ``denied``: refused before sending)."""

    DENIED = "denied"
    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    PENDING_REPLACE = "pending_replace"
    REJECTED = "rejected"
    EXPIRED = "expired"


DONE_STATES = frozenset({OrderState.DENIED, OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED,
                         OrderState.EXPIRED})
_ORD_STATUS = {b"0": OrderState.NEW, b"1": OrderState.PARTIALLY_FILLED, b"2": OrderState.FILLED,
               b"4": OrderState.CANCELED, b"6": OrderState.PENDING_CANCEL, b"8": OrderState.REJECTED,
               b"A": OrderState.PENDING_NEW, b"C": OrderState.EXPIRED, b"E": OrderState.PENDING_REPLACE,
               b"5": OrderState.NEW}
_TIF = {"day": b"0", "gtc": b"1", "ioc": b"3", "fok": b"4"}
# FIX 4.2/4.4 have no ExecRestatementReason(378) for self-trade prevention (venues use private values
# a validating session rejects), so a venue says it in Text(58) and the engine keys on the words.
_STP_TEXT = re.compile(r"self[- ](?:trade|match)[- ]prevention", re.IGNORECASE)
STP_CODE = "self_trade_prevention"  # update code of a cancel/restatement the venue's STP caused


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders."""

    cl_ord_id: str
    strategy: str
    symbol: str
    side: int
    qty: int
    price: int
    exec_id: str
    time_ns: int


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """Something happened to an order: ``kind`` is sent, ack, fill, cancel, replace, reject, denied, ..."""

    kind: str
    handle: OrderHandle
    time_ns: int
    fill: Fill | None = None
    code: str = ""
    text: str = ""


@dataclass(eq=False)
class OrderHandle:
    """A strategy's view of one order, updated as reports arrive."""

    cl_ord_id: str
    strategy: str
    symbol: str
    side: int
    qty: int
    price: int | None
    ord_type: str
    time_in_force: str
    state: OrderState = OrderState.PENDING_NEW
    order_id: str | None = None
    cum_qty: int = 0
    notional_ticks: int = 0
    sent_ns: int | None = None
    acked_ns: int | None = None
    reject_code: str = ""
    reject_text: str = ""
    flatten: bool = False
    cl_ord_ids: list[str] = field(default_factory=list)
    updates: list[OrderUpdate] = field(default_factory=list)
    _listeners: list[Callable[[OrderUpdate], None]] = field(default_factory=list)
    _queue: asyncio.Queue | None = None

    @property
    def leaves_qty(self) -> int:
        """Open quantity (0 once the order is done)."""
        return 0 if self.done else self.qty - self.cum_qty

    @property
    def done(self) -> bool:
        """True once the order can no longer trade."""
        return self.state in DONE_STATES

    @property
    def acked(self) -> bool:
        """True once the venue acknowledged the order (or it is done)."""
        return self.acked_ns is not None or self.done

    @property
    def avg_px_ticks(self) -> Decimal:
        """Average fill price in ticks (0 before any fill)."""
        return Decimal(self.notional_ticks) / self.cum_qty if self.cum_qty else Decimal(0)

    def side_text(self) -> str:
        """``buy`` or ``sell``."""
        return "buy" if self.side == 1 else "sell"

    def on_update(self, callback: Callable[[OrderUpdate], None]) -> None:
        """Call ``callback`` with every later update of this order."""
        self._listeners.append(callback)

    async def stream(self) -> AsyncIterator[OrderUpdate]:
        """Iterate over this order's updates until it is done."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            for update in self.updates:
                self._queue.put_nowait(update)
        while True:
            update = await self._queue.get()
            yield update
            if self.done and self._queue.empty():
                return

    async def wait_done(self) -> OrderHandle:
        """Wait until the order is done (filled, cancelled, rejected, denied, expired)."""
        if self.done:
            return self
        async for _ in self.stream():
            if self.done:
                break
        return self

    def publish(self, update: OrderUpdate) -> None:
        """Record an update and tell every listener (plug-in engines call this for their handles)."""
        self.updates.append(update)
        for callback in self._listeners:
            callback(update)
        if self._queue is not None:
            self._queue.put_nowait(update)


class OrderEngine:
    """A firm's order engine: strategy API, pre-trade risk, FIX order entry, positions and P&L."""

    def __init__(self, name: str, instruments: InstrumentTable, *, now_ns: Callable[[], int],
                 risk: RiskEngine | None = None, session: Session | None = None,
                 reconcile_on_logon: bool = True) -> None:
        self.name = name
        self.instruments = instruments
        self._now = now_ns
        self.risk = risk if risk is not None else RiskEngine(enabled=False)
        self.session = session
        self.portfolio = Portfolio()
        self.orders: dict[str, OrderHandle] = {}          # every ClOrdID we used -> handle
        self.open_orders: dict[str, OrderHandle] = {}     # first ClOrdID -> handle, while not done
        self.references: dict[str, tuple[int, int]] = {}  # symbol -> (ticks, as_of_ns), independent source
        self.denials: list[Denial] = []
        self.sent = 0
        self._next_id = 1
        self._listeners: list[Callable[[OrderUpdate], None]] = []
        # First ClOrdID -> open order whose venue status is still awaited (a dict: requests go out in order).
        self.reconciling: dict[str, OrderHandle] = {}
        self.reconcile_on_logon = reconcile_on_logon

    # -- WIRING ----------------------------------------------------------------------------------

    def attach(self, session: Session) -> None:
        """Use ``session`` (an initiator to the venue) for order entry; the engine becomes its application."""
        self.session = session
        session.app = self

    def subscribe(self, callback: Callable[[OrderUpdate], None]) -> None:
        """Call ``callback`` with every order update of every strategy (monitors, journal)."""
        self._listeners.append(callback)

    def set_reference(self, symbol: str, ticks: int, as_of_ns: int | None = None) -> None:
        """Record an independent reference price for a symbol (risk collars and P&L use it)."""
        self.references[symbol] = (ticks, self._now() if as_of_ns is None else as_of_ns)
        if self.risk.enabled and self.orders:
            self.risk.check_loss(self)  # a loss limit can be breached by the market moving, not only by fills

    # -- STRATEGY API ----------------------------------------------------------------------------

    def submit(self, strategy: str, symbol: str, side: int, qty: int, price: int | None = None, *,
               ord_type: str = "limit", time_in_force: str = "day", flatten: bool = False,
               override: str = "") -> OrderHandle:
        """Ask for a new order; returns its handle (state ``denied`` if risk refused it).

        ``override`` names who explicitly overrides soft risk warnings for this order (see engines.risk);
        each warning it overrides is reported as a ``warning_overridden`` update before ``sent``.
        """
        cl_ord_id = self._new_cl_ord_id()
        handle = OrderHandle(cl_ord_id, strategy, symbol, side, qty, price, ord_type, time_in_force,
                             flatten=flatten, cl_ord_ids=[cl_ord_id])
        self.orders[cl_ord_id] = handle
        intent = OrderIntent(strategy, symbol, side, qty, price, ord_type, time_in_force, flatten, cl_ord_id,
                             override)
        overridden: list[OverriddenWarning] = []
        denial = self._pre_checks(intent) or self.risk.evaluate(intent, self, overridden=overridden)
        if denial is not None:
            self.denials.append(denial)
            handle.state = OrderState.DENIED
            handle.reject_code, handle.reject_text = denial.code, denial.text
            self._notify(handle, "denied", code=denial.code, text=f"[{denial.check}] {denial.text}")
            return handle
        instrument = self.instruments.get(symbol)
        if ord_type == "market":
            # "protect" policy: a market order goes out as an IOC limit at the protection price
            # (CME-style protection points), never as a naked market order.
            protected = self.risk.protection_price(intent, self) if self.risk.enabled else None
            if protected is not None:
                ord_type, price, time_in_force = "limit", protected, "ioc"
                handle.ord_type, handle.price, handle.time_in_force = ord_type, price, time_in_force
        body: list[tuple[int, object]] = [(11, cl_ord_id), (21, b"1"), (38, qty),
                                          (40, b"2" if ord_type == "limit" else b"1")]
        if price is not None and ord_type == "limit":
            body.append((44, instrument.to_price(price)))
        body += [(54, side), (55, symbol)]
        if ord_type == "limit":
            body.append((59, _TIF.get(time_in_force, b"0")))
        body.append((60, format_utc_timestamp(self._now())))
        self.open_orders[cl_ord_id] = handle
        handle.sent_ns = self._now()
        self.risk.on_submitted(intent, self)
        self.sent += 1
        for warning in overridden:
            self._notify(handle, "warning_overridden", code=warning.code,
                         text=f"[{warning.check}] {warning.text}; overridden by {warning.who}")
        self._notify(handle, "sent")
        assert self.session is not None
        self.session.send(b"D", body)
        return handle

    def cancel(self, handle: OrderHandle) -> bool:
        """Ask the venue to cancel an open order (always allowed, even when halted)."""
        if handle.done or self.session is None or not self.session.logged_on:
            return False
        cl_ord_id = self._new_cl_ord_id()
        orig = handle.cl_ord_ids[-1]
        handle.cl_ord_ids.append(cl_ord_id)
        self.orders[cl_ord_id] = handle
        handle.state = OrderState.PENDING_CANCEL if handle.state != OrderState.PENDING_NEW else handle.state
        body: list[tuple[int, object]] = [(11, cl_ord_id), (38, handle.qty), (41, orig)]
        if handle.order_id:
            body.insert(1, (37, handle.order_id))
        body += [(54, handle.side), (55, handle.symbol), (60, format_utc_timestamp(self._now()))]
        self.session.send(b"F", body)
        self._notify(handle, "cancel_sent")
        return True

    def replace(self, handle: OrderHandle, *, qty: int | None = None, price: int | None = None,
                override: str = "") -> bool:
        """Ask the venue to change an open limit order's quantity and/or price (risk-checked).

        ``override`` works as for :meth:`submit`: soft warnings it overrides are reported as
        ``warning_overridden`` updates before ``replace_sent``.
        """
        if handle.done or handle.ord_type != "limit" or self.session is None or not self.session.logged_on:
            return False
        if self.reconciling:
            self._notify(handle, "replace_denied", code="reconciling", text=f"[engine] {self._reconciling_text()}")
            return False
        new_qty = handle.qty if qty is None else qty
        new_price = handle.price if price is None else price
        extra = new_qty - handle.qty
        intent = OrderIntent(handle.strategy, handle.symbol, handle.side, max(extra, 0) or new_qty, new_price,
                             "limit", handle.time_in_force, False, handle.cl_ord_id, override)
        overridden: list[OverriddenWarning] = []
        denial = self.risk.evaluate(intent, self, overridden=overridden) \
            if (extra > 0 or new_price != handle.price) else None
        if denial is not None:
            self.denials.append(denial)
            self._notify(handle, "replace_denied", code=denial.code, text=f"[{denial.check}] {denial.text}")
            return False
        if extra > 0 or new_price != handle.price:
            self.risk.on_submitted(intent, self)  # a replace is a message too: it counts towards the rate
        cl_ord_id = self._new_cl_ord_id()
        orig = handle.cl_ord_ids[-1]
        handle.cl_ord_ids.append(cl_ord_id)
        self.orders[cl_ord_id] = handle
        handle.state = OrderState.PENDING_REPLACE
        instrument = self.instruments.get(handle.symbol)
        body: list[tuple[int, object]] = [(11, cl_ord_id), (21, b"1")]
        if handle.order_id:
            body.append((37, handle.order_id))
        body += [(38, new_qty), (40, b"2"), (41, orig), (44, instrument.to_price(new_price)), (54, handle.side),
                 (55, handle.symbol), (59, _TIF.get(handle.time_in_force, b"0")),
                 (60, format_utc_timestamp(self._now()))]
        for warning in overridden:
            self._notify(handle, "warning_overridden", code=warning.code,
                         text=f"[{warning.check}] {warning.text}; overridden by {warning.who}")
        self.session.send(b"G", body)
        self._notify(handle, "replace_sent")
        return True

    def cancel_all(self, strategy: str | None = None, symbol: str | None = None) -> int:
        """Cancel every open order (of one strategy / symbol); returns how many cancels were sent."""
        count = 0
        for handle in list(self.open_orders.values()):
            if (strategy is None or handle.strategy == strategy) and (symbol is None or handle.symbol == symbol):
                count += self.cancel(handle)
        return count

    def flatten(self, strategy: str, symbol: str, *, protect_ticks: int | None = None) -> OrderHandle | None:
        """Close a strategy's position with an IOC order at the reference +/- protect_ticks (market if None).

        Flatten is allowed while HALTED: getting out is the point of a halt.
        """
        qty = self.portfolio.net(symbol, strategy)
        if qty == 0:
            return None
        side = 2 if qty > 0 else 1
        reference = self.references.get(symbol)
        if protect_ticks is not None and reference is not None:
            price = reference[0] - protect_ticks if side == 2 else reference[0] + protect_ticks
            return self.submit(strategy, symbol, side, abs(qty), max(price, 1), time_in_force="ioc", flatten=True)
        return self.submit(strategy, symbol, side, abs(qty), None, ord_type="market", flatten=True)

    def halt(self, *, strategy: str | None = None, who: str = "operator", reason: str = "manual halt") -> None:
        """Stop new orders (engine-wide or for one strategy); cancels and flatten still pass."""
        self.risk.set_state(TradingState.HALTED, strategy=strategy, who=who, reason_code="manual", text=reason)

    def resume(self, *, strategy: str | None = None, who: str = "operator", reason: str = "resume") -> None:
        """Let new orders through again."""
        self.risk.set_state(TradingState.ACTIVE, strategy=strategy, who=who, reason_code="manual", text=reason)

    # -- RECONCILIATION ---------------------------------------------------------------------------

    def adopt(self, handles: Iterable[OrderHandle], *, next_id: int | None = None) -> None:
        """Take over the orders a previous run of this engine left (a restart); reconciled at logon.

        Each handle is known again under every ClOrdID of its chain, and new ClOrdIDs continue past
        them (or from ``next_id``), so the venue never sees a ClOrdID twice.  Positions are not
        rebuilt here: fills the venue reports during reconciliation are booked, earlier ones are
        the caller's to restore.
        """
        prefix = f"{self.name}-"
        for handle in handles:
            chain = handle.cl_ord_ids or [handle.cl_ord_id]
            handle.cl_ord_ids = chain
            for cl_ord_id in chain:
                self.orders[cl_ord_id] = handle
                if cl_ord_id.startswith(prefix) and cl_ord_id[len(prefix):].isdigit():
                    self._next_id = max(self._next_id, int(cl_ord_id[len(prefix):]) + 1)
            if not handle.done:
                self.open_orders[chain[0]] = handle
        if next_id is not None:
            self._next_id = max(self._next_id, next_id)
        if self.session is not None and self.session.logged_on:
            self.reconcile()

    def reconcile(self) -> int:
        """Ask the venue for the status of every open order; new orders wait until all are answered.

        Returns how many OrderStatusRequests were sent.
        """
        if self.session is None or not self.session.logged_on:
            return 0
        self.reconciling = dict(self.open_orders)
        for handle in self.reconciling.values():
            body: list[tuple[int, object]] = [(11, handle.cl_ord_ids[0])]
            if handle.order_id:
                body.append((37, handle.order_id))
            body += [(54, handle.side), (55, handle.symbol)]
            self.session.send(b"H", body)
            self._notify(handle, "status_requested")
        return len(self.reconciling)

    def _reconciling_text(self) -> str:
        return (f"engine {self.name} is reconciling {len(self.reconciling)} open order(s) with the venue after "
                f"logging on; new orders and replaces wait until every status is back")

    def _status_handle(self, msg: FixMessage) -> OrderHandle | None:
        """The handle a status report is about: by ClOrdID, else (a chain we lost) OrderID or OrigClOrdID."""
        handle = self.orders.get((msg.get(11) or b"").decode("latin-1"))
        if handle is not None:
            return handle
        order_id = (msg.get(37) or b"").decode("latin-1")
        orig = (msg.get(41) or b"").decode("latin-1")
        for candidate in self.reconciling.values():
            if (order_id and candidate.order_id == order_id) or (orig and orig in candidate.cl_ord_ids):
                cl_ord_id = (msg.get(11) or b"").decode("latin-1")
                candidate.cl_ord_ids.append(cl_ord_id)  # replaced while we were away
                self.orders[cl_ord_id] = candidate
                return candidate
        return None

    def _on_status(self, handle: OrderHandle, msg: FixMessage) -> None:
        """Bring ``handle`` to the state an OrderStatus report (ExecType I) says the venue has."""
        now = self._now()
        status = _ORD_STATUS.get(msg.get(39) or b"", handle.state)
        text = (msg.get(58) or b"").decode("latin-1")
        order_id = msg.get(37)
        if status == OrderState.REJECTED:
            handle.state = OrderState.REJECTED
            handle.reject_code = "reconcile_unknown_order" if "nknown" in text else "venue_rejected"
            handle.reject_text = f"venue status on reconciliation: {text or 'rejected'}"
            self._notify(handle, "rejected", code=handle.reject_code, text=handle.reject_text)
        else:
            if order_id and order_id != b"NONE":
                handle.order_id = order_id.decode("latin-1")
            instrument = self.instruments.get(handle.symbol)
            if msg.get(38) is not None:
                handle.qty = int(Decimal(msg.get(38).decode()))
            if msg.get(44) is not None:
                handle.price = instrument.to_ticks(msg.get(44))
            cum = int(Decimal((msg.get(14) or b"0").decode()))
            if cum > handle.cum_qty:
                self._book_missed_fills(handle, msg, cum, now)
            handle.state = status
            if handle.acked_ns is None:
                handle.acked_ns = now
            self._notify(handle, "reconciled", text=f"venue status {status.value}, cum qty {cum}")
        if handle.done:
            self.open_orders.pop(handle.cl_ord_ids[0], None)
        self._reconciled(handle)

    def _book_missed_fills(self, handle: OrderHandle, msg: FixMessage, cum: int, now: int) -> None:
        """Fills that happened while we were away: one fill of the difference at the implied price."""
        tick = self.instruments.get(handle.symbol).tick_size
        avg = Decimal((msg.get(6) or b"0").decode())
        total = int((avg * cum / tick).to_integral_value(ROUND_HALF_EVEN))  # venue notional in ticks
        qty = cum - handle.cum_qty
        notional = total - handle.notional_ticks
        price = int((Decimal(notional) / qty).to_integral_value(ROUND_HALF_EVEN))
        handle.cum_qty = cum
        handle.notional_ticks = total
        exec_id = f"reconcile:{(msg.get(17) or b'').decode('latin-1')}"
        fill = Fill(handle.cl_ord_ids[0], handle.strategy, handle.symbol, handle.side, qty, price, exec_id, now)
        self.portfolio.apply_fill(handle.strategy, handle.symbol, handle.side, qty, price)
        self.risk.on_fill(handle.strategy, handle.symbol, handle.side, qty, price, self)
        self._notify(handle, "fill", fill=fill, code="reconciled", text=f"{qty} filled while disconnected")

    def _reconciled(self, handle: OrderHandle) -> None:
        self.reconciling.pop(handle.cl_ord_ids[0], None)

    # -- FIX APPLICATION (reports from the venue) -------------------------------------------------

    def on_logon_request(self, session: Session, logon: FixMessage) -> None:
        """The venue's Logon reply needs no checks here."""

    def on_logon(self, session: Session) -> None:
        """Connected to the venue: reconcile any open orders before strategies may trade again."""
        if self.open_orders and self.reconcile_on_logon:
            self.reconcile()

    def on_logout(self, session: Session) -> None:
        """Disconnected: orders stay as they were; the venue decides (cancel-on-disconnect)."""

    def from_app(self, session: Session, message: FixMessage) -> None:
        """Handle an ExecutionReport (8) or OrderCancelReject (9); anything else is not for us."""
        msg_type = message.msg_type()
        if msg_type == b"8":
            self._on_execution_report(message)
        elif msg_type == b"9":
            self._on_cancel_reject(message)
        elif msg_type == b"j" and message.get(372) == b"H" and self.reconciling:
            # The venue does not serve OrderStatusRequest: the orders stay as we believe them.
            for handle in list(self.reconciling.values()):
                self._notify(handle, "reconcile_failed", code="reconcile_unsupported",
                             text=(message.get(58) or b"").decode("latin-1"))
            self.reconciling = {}
        elif msg_type in (b"W", b"X", b"Y", b"f", b"h", b"y", b"d", b"r", b"j"):
            return
        else:
            raise BusinessReject(3)

    def _on_execution_report(self, msg: FixMessage) -> None:
        exec_type = msg.get(150)
        if exec_type == b"I" or msg.get(20) == b"3":  # an order status (FIX 4.2: ExecTransType status)
            handle = self._status_handle(msg)
            if handle is not None:
                self._on_status(handle, msg)
            return
        cl_ord_id = (msg.get(11) or b"").decode("latin-1")
        handle = self.orders.get(cl_ord_id)
        if handle is None:
            return  # a report for an order we do not know (another engine's drop copy, or a restart)
        now = self._now()
        status = _ORD_STATUS.get(msg.get(39) or b"", handle.state)
        order_id = msg.get(37)
        if order_id and order_id != b"NONE":
            handle.order_id = order_id.decode("latin-1")
        if exec_type in (b"F", b"1", b"2"):
            qty = int(Decimal((msg.get(32) or b"0").decode()))
            price = self.instruments.get(handle.symbol).to_ticks(msg.get(31) or b"0")
            handle.cum_qty += qty
            handle.notional_ticks += qty * price
            handle.state = status
            if handle.acked_ns is None:
                handle.acked_ns = now
            fill = Fill(handle.cl_ord_ids[0], handle.strategy, handle.symbol, handle.side, qty, price,
                        (msg.get(17) or b"").decode("latin-1"), now)
            self.portfolio.apply_fill(handle.strategy, handle.symbol, handle.side, qty, price)
            self.risk.on_fill(handle.strategy, handle.symbol, handle.side, qty, price, self)
            self._notify(handle, "fill", fill=fill)
        elif exec_type == b"0":
            handle.state = status if status != OrderState.PENDING_NEW else OrderState.NEW
            handle.acked_ns = now
            self._notify(handle, "ack")
        elif exec_type == b"5":
            handle.qty = int(Decimal((msg.get(38) or b"0").decode()))
            if msg.get(44) is not None:
                handle.price = self.instruments.get(handle.symbol).to_ticks(msg.get(44))
            handle.state = status
            self._notify(handle, "replaced")
        elif exec_type == b"4":
            handle.state = OrderState.CANCELED
            text = (msg.get(58) or b"").decode("latin-1")
            self._notify(handle, "canceled", code=STP_CODE if _STP_TEXT.search(text) else "", text=text)
        elif exec_type == b"D":
            # Restated by the venue on its own, e.g. an STP decrement took quantity off the order.
            handle.qty = int(Decimal((msg.get(38) or b"0").decode()))
            handle.state = status
            text = (msg.get(58) or b"").decode("latin-1")
            self._notify(handle, "restated", code=STP_CODE if _STP_TEXT.search(text) else "", text=text)
        elif exec_type == b"8":
            handle.state = OrderState.REJECTED
            handle.reject_text = (msg.get(58) or b"").decode("latin-1")
            handle.reject_code = f"venue_{(msg.get(103) or b'99').decode()}"
            self._notify(handle, "rejected", code=handle.reject_code, text=handle.reject_text)
        elif exec_type == b"C":
            handle.state = OrderState.EXPIRED
            self._notify(handle, "expired")
        elif exec_type in (b"6", b"E", b"A"):
            handle.state = status
            self._notify(handle, "pending")
        if handle.done:
            self.open_orders.pop(handle.cl_ord_ids[0], None)

    def _on_cancel_reject(self, msg: FixMessage) -> None:
        handle = self.orders.get((msg.get(11) or b"").decode("latin-1"))
        if handle is None:
            return
        status = _ORD_STATUS.get(msg.get(39) or b"")
        if status is not None and status != OrderState.REJECTED:
            handle.state = status
        elif handle.state in (OrderState.PENDING_CANCEL, OrderState.PENDING_REPLACE):
            handle.state = OrderState.PARTIALLY_FILLED if handle.cum_qty else OrderState.NEW
        text = (msg.get(58) or b"").decode("latin-1")
        self._notify(handle, "cancel_rejected", code=f"venue_cxl_{(msg.get(102) or b'99').decode()}", text=text)
        if handle.done:
            self.open_orders.pop(handle.cl_ord_ids[0], None)

    # -- RISK CONTEXT (what engines.risk reads) ---------------------------------------------------

    def now_ns(self) -> int:
        """The engine's clock."""
        return self._now()

    def instrument(self, symbol: str):
        """Instrument definition for a symbol."""
        return self.instruments.get(symbol)

    def position(self, symbol: str, strategy: str | None = None) -> int:
        """Signed filled quantity."""
        return self.portfolio.net(symbol, strategy)

    def working_qty(self, symbol: str, side: int, strategy: str | None = None) -> int:
        """Open (unfilled) quantity on one side."""
        return sum(h.leaves_qty for h in self.open_orders.values()
                   if h.symbol == symbol and h.side == side and (strategy is None or h.strategy == strategy))

    def open_order_count(self, strategy: str | None = None) -> int:
        """Number of open orders."""
        return sum(1 for h in self.open_orders.values() if strategy is None or h.strategy == strategy)

    def reference_price(self, symbol: str) -> tuple[int, int] | None:
        """Independent reference price (ticks, as_of_ns), or None."""
        return self.references.get(symbol)

    def realized_pnl(self, strategy: str | None = None) -> Decimal:
        """Realised P&L in currency."""
        return self.portfolio.realized(self.instruments, strategy)

    def unrealized_pnl(self, strategy: str | None = None) -> Decimal:
        """Unrealised P&L in currency against the reference prices."""
        refs = {symbol: ref[0] for symbol, ref in self.references.items()}
        return self.portfolio.unrealized(self.instruments, refs, strategy)

    def unacked(self, older_than_ns: int = 0) -> list[OrderHandle]:
        """Open orders not yet acknowledged by the venue, older than ``older_than_ns``."""
        now = self._now()
        return [h for h in self.open_orders.values()
                if h.acked_ns is None and h.sent_ns is not None and now - h.sent_ns >= older_than_ns]

    # -- INTERNALS -------------------------------------------------------------------------------

    def _pre_checks(self, intent: OrderIntent) -> Denial | None:
        """Checks no risk configuration can switch off: the order must be expressible at all."""
        def deny(code: str, text: str) -> Denial:
            return Denial("engine", code, text, intent.strategy, intent.symbol)

        try:
            instrument = self.instruments.get(intent.symbol)
        except InstrumentError as exc:
            return deny("unknown_symbol", str(exc))
        if intent.side not in (1, 2):
            return deny("bad_side", f"side must be 1 (buy) or 2 (sell), got {intent.side!r}")
        if type(intent.qty) is not int or intent.qty <= 0:
            return deny("bad_quantity", f"quantity must be a positive integer, got {intent.qty!r}")
        if intent.qty % instrument.lot_size:
            return deny("bad_lot", f"quantity {intent.qty} is not a multiple of the lot size {instrument.lot_size}")
        if intent.ord_type == "limit" and (type(intent.price) is not int or intent.price <= 0):
            return deny("bad_price", f"a limit order needs a positive integer tick price, got {intent.price!r}")
        if intent.ord_type not in ("limit", "market"):
            return deny("bad_order_type", f"order type must be limit or market, got {intent.ord_type!r}")
        if self.session is None or not self.session.logged_on:
            return deny("not_connected", f"engine {self.name} is not logged on to the venue")
        if self.reconciling:
            return deny("reconciling", self._reconciling_text())
        return None

    def _new_cl_ord_id(self) -> str:
        cl_ord_id = f"{self.name}-{self._next_id}"
        self._next_id += 1
        return cl_ord_id

    def _notify(self, handle: OrderHandle, kind: str, *, fill: Fill | None = None, code: str = "",
                text: str = "") -> None:
        update = OrderUpdate(kind, handle, self._now(), fill, code, text)
        handle.publish(update)
        for callback in self._listeners:
            callback(update)
