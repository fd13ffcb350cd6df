"""A minimal order engine: the reference for teams plugging their own engine into marketdrill.

:class:`MinimalEngine` implements :class:`engines.protocol.OrderEngineProtocol` in one small class
that subclasses nothing, and passes :func:`engines.testing.check_order_engine`.  Copy it, or read
it next to your own engine to see what each member has to do.  Deliberately left out (the
built-in :class:`engines.order_engine.OrderEngine` has them): the async ``stream()`` of a handle
is still there because the handle type is shared, but there is no restart recovery, no order
status requests, and pre-checks are the minimum that keeps a message well-formed.

The shape, in four parts:

* **Orders**: ``orders`` maps every ClOrdID the engine used to the order's handle (a cancel or a
  replace gets a new ClOrdID, and reports may come back under any of them); ``open_orders`` maps
  the first ClOrdID to the handle while the order can still trade.  ClOrdIDs are ``name-N`` from a
  counter, never random: two runs of the same scenario must send the same bytes.
* **Risk**: every new order and every replace that adds quantity or moves the price goes through
  the :class:`~engines.risk.RiskEngine` it was given, with the engine itself as the
  :class:`~engines.risk.RiskContext`.  That one object holds the limits and the trading state, so
  ``halt``, ``resume``, operators' limit changes and the What Changed timeline just work.  Cancels
  never go through risk: a halt must never trap an order at the venue.
* **FIX out**: NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G) through
  ``session.send``; prices leave as decimals on the engine's own tick grid.  Under
  ``market_order_policy = "protect"`` a market order leaves as an IOC limit at
  ``risk.protection_price`` (never naked).
* **FIX in**: ExecutionReports (8) move the handle by ExecType; fills book into a
  :class:`~engines.positions.Portfolio` (exact positions and P&L) and into ``risk.on_fill`` (the
  repeated-execution throttle and loss limits); OrderCancelRejects (9) put the order back.

Every change is published as an :class:`~engines.order_engine.OrderUpdate` to the handle and to
subscribers, with the kinds monitors and strategies react to (``sent``, ``ack``, ``fill``,
``denied``, ``rejected``, ``canceled``, ...).

>>> from engines.risk import RiskEngine
>>> from sim.instruments import Instrument, InstrumentTable
>>> engine = MinimalEngine("T", InstrumentTable([Instrument.create("PRB", "0.01", "100.00")]),
...                        now_ns=lambda: 0, risk=RiskEngine())
>>> engine.submit("s", "PRB", 1, 5, 10_000).reject_code   # no session yet: refused, not sent
'not_connected'
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from engines.order_engine import Fill, OrderHandle, OrderState, OrderUpdate
from engines.positions import Portfolio
from engines.risk import Denial, OrderIntent, RiskEngine, TradingState
from sim.fix.codec import FixMessage
from sim.fix.session import Session
from sim.fix.timestamps import format_utc_timestamp
from sim.instruments import Instrument, InstrumentTable

__all__ = ["MinimalEngine"]

_TIF = {"day": b"0", "gtc": b"1", "ioc": b"3", "fok": b"4"}
# OrdStatus(39) -> state; used for fills and pending states, where the venue's status is the truth
_STATUS = {b"0": OrderState.NEW, b"1": OrderState.PARTIALLY_FILLED, b"2": OrderState.FILLED,
           b"4": OrderState.CANCELED, b"6": OrderState.PENDING_CANCEL, b"8": OrderState.REJECTED,
           b"A": OrderState.PENDING_NEW, b"C": OrderState.EXPIRED, b"E": OrderState.PENDING_REPLACE}


def _text(raw: bytes | None) -> str:
    return (raw or b"").decode("latin-1")


class MinimalEngine:
    """A small, complete order engine: risk via RiskEngine, its own order book-keeping, FIX 4.4 out and in."""

    def __init__(self, name: str, instruments: InstrumentTable, *, now_ns: Callable[[], int],
                 risk: RiskEngine) -> None:
        self.name = name
        self.instruments = instruments
        self.risk = risk
        self.session: Session | None = None
        self.orders: dict[str, OrderHandle] = {}
        self.open_orders: dict[str, OrderHandle] = {}
        self.sent = 0
        self._now = now_ns
        self._portfolio = Portfolio()
        self._references: dict[str, tuple[int, int]] = {}
        self._listeners: list[Callable[[OrderUpdate], None]] = []
        self._counter = 0

    # -- WIRING ----------------------------------------------------------------------------------

    def attach(self, session: Session) -> None:
        """Use ``session`` for order entry and become its application."""
        self.session = session
        session.app = self

    def subscribe(self, callback: Callable[[OrderUpdate], None]) -> None:
        """Call ``callback`` with every order update."""
        self._listeners.append(callback)

    def set_reference(self, symbol: str, ticks: int, as_of_ns: int | None = None) -> None:
        """Record the independent reference price of ``symbol``."""
        self._references[symbol] = (ticks, self._now() if as_of_ns is None else as_of_ns)
        if self.risk.enabled and self.orders:
            self.risk.check_loss(self)  # the market moving can breach a loss limit, not only a fill

    # -- STRATEGY API ----------------------------------------------------------------------------

    def submit(self, strategy: str, symbol: str, side: int, qty: int, price: int | None = None, *,
               ord_type: str = "limit", time_in_force: str = "day", flatten: bool = False) -> OrderHandle:
        """Risk-check and send a new order; the handle comes back ``denied`` if refused."""
        cl_ord_id = self._next_id()
        handle = OrderHandle(cl_ord_id, strategy, symbol, side, qty, price, ord_type, time_in_force,
                             flatten=flatten, cl_ord_ids=[cl_ord_id])
        self.orders[cl_ord_id] = handle
        intent = OrderIntent(strategy, symbol, side, qty, price, ord_type, time_in_force, flatten, cl_ord_id)
        denial = self._must_send(intent) or self.risk.evaluate(intent, self)
        if denial is not None:
            handle.state = OrderState.DENIED
            handle.reject_code, handle.reject_text = denial.code, denial.text
            self._publish(handle, "denied", code=denial.code, text=f"[{denial.check}] {denial.text}")
            return handle
        if ord_type == "market" and self.risk.enabled:
            # market_order_policy "protect": never a naked market order, an IOC limit at the protection price
            protected = self.risk.protection_price(intent, self)
            if protected is not None:
                ord_type, price, time_in_force = "limit", protected, "ioc"
                handle.ord_type, handle.price, handle.time_in_force = ord_type, price, time_in_force
        body: list[tuple[int, object]] = [(11, cl_ord_id), (21, b"1"), (38, qty),
                                          (40, b"2" if ord_type == "limit" else b"1")]
        if ord_type == "limit":
            body.append((44, self.instrument(symbol).to_price(price)))  # type: ignore[arg-type]
        body += [(54, side), (55, symbol)]
        if ord_type == "limit":
            body.append((59, _TIF.get(time_in_force, b"0")))
        body.append((60, format_utc_timestamp(self._now())))
        # Book-keeping before sending: with zero latency the ack can arrive inside send().
        self.open_orders[cl_ord_id] = handle
        handle.sent_ns = self._now()
        self.risk.on_submitted(intent, self)
        self.sent += 1
        self._publish(handle, "sent")
        assert self.session is not None
        self.session.send(b"D", body)
        return handle

    def cancel(self, handle: OrderHandle) -> bool:
        """Send a cancel for an open order; never risk-checked, so it passes a halt."""
        if handle.done or not self._connected():
            return False
        orig, cl_ord_id = handle.cl_ord_ids[-1], self._next_id()
        self._track(handle, cl_ord_id)
        if handle.state is not OrderState.PENDING_NEW:
            handle.state = OrderState.PENDING_CANCEL
        body: list[tuple[int, object]] = [(11, cl_ord_id), (38, handle.qty), (41, orig), (54, handle.side),
                                          (55, handle.symbol), (60, format_utc_timestamp(self._now()))]
        if handle.order_id:
            body.insert(1, (37, handle.order_id))
        assert self.session is not None
        self.session.send(b"F", body)
        self._publish(handle, "cancel_sent")
        return True

    def replace(self, handle: OrderHandle, *, qty: int | None = None, price: int | None = None) -> bool:
        """Risk-check (when it adds quantity or moves the price) and send a cancel/replace."""
        if handle.done or handle.ord_type != "limit" or not self._connected():
            return False
        new_qty = handle.qty if qty is None else qty
        new_price = handle.price if price is None else price
        added = new_qty - handle.qty
        if added > 0 or new_price != handle.price:
            # Risk sees what the replace adds to exposure (or the whole order if only the price moves).
            intent = OrderIntent(handle.strategy, handle.symbol, handle.side, added if added > 0 else new_qty,
                                 new_price, "limit", handle.time_in_force, False, handle.cl_ord_id)
            denial = self.risk.evaluate(intent, self)
            if denial is not None:
                self._publish(handle, "replace_denied", code=denial.code, text=f"[{denial.check}] {denial.text}")
                return False
            self.risk.on_submitted(intent, self)  # a replace is a message too: it counts towards the rate
        orig, cl_ord_id = handle.cl_ord_ids[-1], self._next_id()
        self._track(handle, cl_ord_id)
        handle.state = OrderState.PENDING_REPLACE
        body: list[tuple[int, object]] = [(11, cl_ord_id), (21, b"1")]
        if handle.order_id:
            body.append((37, handle.order_id))
        body += [(38, new_qty), (40, b"2"), (41, orig), (44, self.instrument(handle.symbol).to_price(new_price)),
                 (54, handle.side), (55, handle.symbol), (59, _TIF.get(handle.time_in_force, b"0")),
                 (60, format_utc_timestamp(self._now()))]
        assert self.session is not None
        self.session.send(b"G", body)
        self._publish(handle, "replace_sent")
        return True

    def cancel_all(self, strategy: str | None = None, symbol: str | None = None) -> int:
        """Cancel every matching open order; returns how many cancels were sent."""
        return sum(self.cancel(h) for h in list(self.open_orders.values())
                   if (strategy is None or h.strategy == strategy) and (symbol is None or h.symbol == symbol))

    def flatten(self, strategy: str, symbol: str, *, protect_ticks: int | None = None) -> OrderHandle | None:
        """Close the strategy's position: IOC at reference -/+ ``protect_ticks``, or a market order."""
        qty = self.position(symbol, strategy)
        if qty == 0:
            return None
        side = 2 if qty > 0 else 1
        reference = self._references.get(symbol)
        if protect_ticks is not None and reference is not None:
            price = reference[0] - protect_ticks if side == 2 else reference[0] + protect_ticks
            return self.submit(strategy, symbol, side, abs(qty), max(price, 1), time_in_force="ioc", flatten=True)
        # flatten=True is what lets the risk engine pass it while HALTED (and only if it reduces).
        return self.submit(strategy, symbol, side, abs(qty), None, ord_type="market", flatten=True)

    def halt(self, *, strategy: str | None = None, who: str = "operator", reason: str = "manual halt") -> None:
        """HALT the engine or one strategy (the risk engine denies new orders from now on)."""
        self.risk.set_state(TradingState.HALTED, strategy=strategy, who=who, reason_code="manual", text=reason)

    def resume(self, *, strategy: str | None = None, who: str = "operator", reason: str = "resume") -> None:
        """Back to ACTIVE."""
        self.risk.set_state(TradingState.ACTIVE, strategy=strategy, who=who, reason_code="manual", text=reason)

    # -- RISK CONTEXT ----------------------------------------------------------------------------

    def now_ns(self) -> int:
        """The injected clock."""
        return self._now()

    def instrument(self, symbol: str) -> Instrument:
        """The engine's own definition of ``symbol``."""
        return self.instruments.get(symbol)

    def position(self, symbol: str, strategy: str | None = None) -> int:
        """Signed filled quantity."""
        return self._portfolio.net(symbol, strategy)

    def working_qty(self, symbol: str, side: int, strategy: str | None = None) -> int:
        """Open quantity on one side."""
        return sum(h.leaves_qty for h in self.open_orders.values()
                   if h.symbol == symbol and h.side == side and (strategy is None or h.strategy == strategy))

    def open_order_count(self, strategy: str | None = None) -> int:
        """Number of open orders."""
        return sum(1 for h in self.open_orders.values() if strategy is None or h.strategy == strategy)

    def reference_price(self, symbol: str) -> tuple[int, int] | None:
        """(ticks, as_of_ns) or None."""
        return self._references.get(symbol)

    def realized_pnl(self, strategy: str | None = None) -> Decimal:
        """Realised P&L in currency."""
        return self._portfolio.realized(self.instruments, strategy)

    def unrealized_pnl(self, strategy: str | None = None) -> Decimal:
        """Unrealised P&L against the reference prices."""
        marks = {symbol: ref[0] for symbol, ref in self._references.items()}
        return self._portfolio.unrealized(self.instruments, marks, strategy)

    def unacked(self, older_than_ns: int = 0) -> list[OrderHandle]:
        """Open orders without an ack, sent at least ``older_than_ns`` ago."""
        now = self._now()
        return [h for h in self.open_orders.values()
                if h.acked_ns is None and h.sent_ns is not None and now - h.sent_ns >= older_than_ns]

    # -- FIX APPLICATION -------------------------------------------------------------------------

    def on_logon_request(self, session: Session, logon: FixMessage) -> None:
        """Accept the venue's Logon."""

    def on_logon(self, session: Session) -> None:
        """Nothing to recover: this engine keeps no state across restarts."""

    def on_logout(self, session: Session) -> None:
        """Orders stay as they are; the venue applies cancel-on-disconnect if configured."""

    def from_app(self, session: Session, message: FixMessage) -> None:
        """Book ExecutionReports and OrderCancelRejects; ignore the rest (market data, news)."""
        msg_type = message.msg_type()
        if msg_type == b"8":
            self._on_report(message)
        elif msg_type == b"9":
            self._on_cancel_reject(message)

    def _on_report(self, msg: FixMessage) -> None:
        handle = self.orders.get(_text(msg.get(11)))
        if handle is None:
            return  # not ours (a drop copy of another session's order)
        order_id = _text(msg.get(37))
        if order_id and order_id != "NONE":
            handle.order_id = order_id
        exec_type = msg.get(150)
        status = _STATUS.get(msg.get(39) or b"", handle.state)
        now = self._now()
        if exec_type in (b"F", b"1", b"2"):  # trade (4.4) / partial fill, fill (4.2)
            qty = int(Decimal(_text(msg.get(32)) or "0"))
            price = self.instrument(handle.symbol).to_ticks(msg.get(31) or b"0")
            handle.cum_qty += qty
            handle.notional_ticks += qty * price
            handle.state = status
            if handle.acked_ns is None:
                handle.acked_ns = now
            self._portfolio.apply_fill(handle.strategy, handle.symbol, handle.side, qty, price)
            self.risk.on_fill(handle.strategy, handle.symbol, handle.side, qty, price, self)
            fill = Fill(handle.cl_ord_id, handle.strategy, handle.symbol, handle.side, qty, price,
                        _text(msg.get(17)), now)
            self._publish(handle, "fill", fill=fill)
        elif exec_type == b"0":
            handle.state = OrderState.NEW
            handle.acked_ns = now
            self._publish(handle, "ack")
        elif exec_type == b"5":
            handle.qty = int(Decimal(_text(msg.get(38)) or "0"))
            if msg.get(44) is not None:
                handle.price = self.instrument(handle.symbol).to_ticks(msg.get(44))  # type: ignore[arg-type]
            handle.state = OrderState.PARTIALLY_FILLED if handle.cum_qty else OrderState.NEW
            self._publish(handle, "replaced")
        elif exec_type == b"4":
            handle.state = OrderState.CANCELED
            self._publish(handle, "canceled", text=_text(msg.get(58)))
        elif exec_type == b"8":
            handle.state = OrderState.REJECTED
            handle.reject_code = f"venue_{_text(msg.get(103)) or '99'}"
            handle.reject_text = _text(msg.get(58))
            self._publish(handle, "rejected", code=handle.reject_code, text=handle.reject_text)
        elif exec_type == b"C":
            handle.state = OrderState.EXPIRED
            self._publish(handle, "expired")
        elif exec_type in (b"6", b"E", b"A"):
            handle.state = status
            self._publish(handle, "pending")
        if handle.done:
            self.open_orders.pop(handle.cl_ord_id, None)

    def _on_cancel_reject(self, msg: FixMessage) -> None:
        handle = self.orders.get(_text(msg.get(11)))
        if handle is None:
            return
        status = _STATUS.get(msg.get(39) or b"")
        if status is not None and status is not OrderState.REJECTED:
            handle.state = status  # the venue says where the order really is
        elif handle.state in (OrderState.PENDING_CANCEL, OrderState.PENDING_REPLACE):
            handle.state = OrderState.PARTIALLY_FILLED if handle.cum_qty else OrderState.NEW
        self._publish(handle, "cancel_rejected", code=f"venue_cxl_{_text(msg.get(102)) or '99'}",
                      text=_text(msg.get(58)))
        if handle.done:
            self.open_orders.pop(handle.cl_ord_id, None)

    # -- INTERNALS -------------------------------------------------------------------------------

    def _must_send(self, intent: OrderIntent) -> Denial | None:
        """What no risk setting can switch off: the order must be expressible and we must be connected."""
        def deny(code: str, text: str) -> Denial:
            return Denial("engine", code, text, intent.strategy, intent.symbol, intent.cl_ord_id)

        if intent.symbol not in self.instruments:
            return deny("unknown_symbol", f"{intent.symbol!r} is not in {self.name}'s instrument table")
        if intent.ord_type not in ("limit", "market"):
            return deny("bad_order_type", f"order type must be limit or market, got {intent.ord_type!r}")
        if intent.ord_type == "limit" and (type(intent.price) is not int or intent.price <= 0):
            return deny("bad_price", f"a limit order needs a positive integer tick price, got {intent.price!r}")
        if not self._connected():
            return deny("not_connected", f"engine {self.name} is not logged on to the venue")
        return None

    def _connected(self) -> bool:
        return self.session is not None and self.session.logged_on

    def _next_id(self) -> str:
        self._counter += 1
        return f"{self.name}-{self._counter}"

    def _track(self, handle: OrderHandle, cl_ord_id: str) -> None:
        """Remember a new ClOrdID of an existing order: reports may come back under any of them."""
        handle.cl_ord_ids.append(cl_ord_id)
        self.orders[cl_ord_id] = handle

    def _publish(self, handle: OrderHandle, kind: str, *, fill: Fill | None = None, code: str = "",
                 text: str = "") -> None:
        update = OrderUpdate(kind, handle, self._now(), fill, code, text)
        # The handle's own listeners, update list and stream() live on the shared OrderHandle type.
        handle.publish(update)
        for callback in self._listeners:
            callback(update)
