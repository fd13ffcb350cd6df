"""The venue's FIX gateway: the session Application that turns order-entry FIX into Exchange calls.

NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G), OrderStatusRequest (H),
OrderMassCancelRequest (q), MarketDataRequest (V), SecurityListRequest (x) and
SecurityDefinitionRequest (c) are served; any other application message gets
BusinessMessageReject "Unsupported Message Type".  A malformed *business* value (a price off the
tick grid, a fractional quantity, an unknown symbol) is answered the way real venues answer it:
with a rejected ExecutionReport (OrdRejReason + Text) or an OrderCancelReject, never a session
Reject, so the order-entry flow is never broken by a typo.

Everything a message causes is sent synchronously, before the session handles its next message:
the reports to every firm involved (and their drop copies), then the market data.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sim.exchange import Exchange
from sim.fix.codec import FixMessage
from sim.fix.session import BusinessReject, RejectLogon, Session
from sim.instruments import InstrumentError
from sim.marketdata import MarketDataPublisher
from sim.venue_events import (
    BookChange,
    CancelReject,
    ExecReport,
    ExecType,
    OrdStatus,
    OrdType,
    RejectReason,
    StatusChange,
    TimeInForce,
    VenueEvent,
)

_ORD_TYPES = {b"1": OrdType.MARKET, b"2": OrdType.LIMIT}
_TIFS = {b"0": TimeInForce.DAY, b"1": TimeInForce.GTC, b"3": TimeInForce.IOC, b"4": TimeInForce.FOK}


class _BadValue(Exception):
    """A business field the venue cannot use; becomes a rejected report, not a session Reject."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(reason.text)
        self.reason = reason


def _qty(raw: bytes | None, tag: int) -> int:
    """A whole-number quantity from FIX text (``10`` and ``10.0`` are fine, ``10.5`` is not)."""
    if raw is None:
        raise _BadValue(RejectReason("missing_quantity", 13, f"Quantity ({tag}) is missing"))
    try:
        value = Decimal(raw.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):
        raise _BadValue(RejectReason("bad_quantity", 13, f"Quantity ({tag}) is not a number: {raw!r}")) from None
    if value != value.to_integral_value() or value <= 0:
        raise _BadValue(RejectReason("bad_quantity", 13, f"Quantity ({tag}) must be a positive whole number, "
                                                         f"got {raw.decode('ascii')}"))
    return int(value)


class VenueGateway:
    """Session Application of the venue: order entry, market data and reference data over FIX."""

    def __init__(self, exchange: Exchange, publisher: MarketDataPublisher, *,
                 firm_of: dict[str, str], drop_copy_of: dict[str, list[str]] | None = None,
                 cancel_on_disconnect: set[str] | None = None, passwords: dict[str, str] | None = None) -> None:
        self.exchange = exchange
        self.publisher = publisher
        self.firm_of = firm_of                      # session id string -> firm
        self.drop_copy_of = drop_copy_of or {}      # firm -> drop-copy session id strings
        self.cancel_on_disconnect = cancel_on_disconnect or set()
        self.passwords = passwords or {}            # session id string -> required Password(554)
        self.sessions: dict[str, Session] = {}      # session id string -> live session
        self.messages_in = 0

    # -- SESSION CALLBACKS -----------------------------------------------------------------------

    def on_logon_request(self, session: Session, logon: FixMessage) -> None:
        """Check the firm's password when one is configured (FIX 4.4 Password 554, or RawData 96 on 4.2)."""
        expected = self.passwords.get(str(session.session_id))
        if expected:
            given = logon.get(554) or logon.get(96) or b""
            if given.decode("latin-1") != expected:
                raise RejectLogon("Invalid password" if given else "Password required")

    def on_logon(self, session: Session) -> None:
        """Remember the live session so reports can reach it."""
        self.sessions[str(session.session_id)] = session

    def on_logout(self, session: Session) -> None:
        """Cancel-on-disconnect where configured; forget market-data subscriptions."""
        key = str(session.session_id)
        self.sessions.pop(key, None)
        self.publisher.drop_session(session)
        if key in self.cancel_on_disconnect:
            self.dispatch(self.exchange.cancel_owner(key))

    def from_app(self, session: Session, message: FixMessage) -> None:
        """Serve one application message."""
        self.messages_in += 1
        handler = _HANDLERS.get(message.msg_type())
        if handler is None:
            raise BusinessReject(3)
        handler(self, session, message)

    # -- ORDER ENTRY -----------------------------------------------------------------------------

    def _new_order(self, session: Session, msg: FixMessage) -> None:
        owner = str(session.session_id)
        firm = self.firm_of.get(owner, owner)
        cl_ord_id = (msg.get(11) or b"").decode("latin-1")
        symbol = (msg.get(55) or b"").decode("latin-1")
        side = msg.get(54)
        try:
            if side not in (b"1", b"2"):
                raise _BadValue(RejectReason("unsupported_side", 99, f"Side {side!r} is not supported (1 buy, 2 sell)"))
            ord_type = _ORD_TYPES.get(msg.get(40) or b"")
            if ord_type is None:
                raise _BadValue(RejectReason("unsupported_order_type", 24,
                                             f"OrdType {msg.get(40)!r} is not supported (1 market, 2 limit)"))
            tif_raw = msg.get(59)
            tif = _TIFS.get(tif_raw) if tif_raw is not None else None
            if tif_raw is not None and tif is None:
                raise _BadValue(RejectReason("unsupported_time_in_force", 99,
                                             f"TimeInForce {tif_raw!r} is not supported (0, 1, 3, 4)"))
            qty = _qty(msg.get(38), 38)
            price = self._price(symbol, msg.get(44)) if ord_type == OrdType.LIMIT else None
            if ord_type == OrdType.MARKET and msg.get(44) is not None:
                raise _BadValue(RejectReason("unexpected_price", 99, "A market order must not carry a Price (44)"))
            post_only = b"6" in (msg.get(18) or b"").split(b" ")
        except _BadValue as bad:
            self.dispatch([self._rejected_report(session, msg, bad.reason)])
            return
        self.dispatch(self.exchange.new_order(
            firm=firm, owner=owner, cl_ord_id=cl_ord_id, symbol=symbol, side=int(side), qty=qty,
            ord_type=ord_type, price=price, time_in_force=tif, post_only=post_only))

    def _cancel(self, session: Session, msg: FixMessage) -> None:
        owner = str(session.session_id)
        self.dispatch(self.exchange.cancel(
            firm=self.firm_of.get(owner, owner), owner=owner, cl_ord_id=_text(msg.get(11)),
            orig_cl_ord_id=_text(msg.get(41)), order_id=_text(msg.get(37)) or None))

    def _replace(self, session: Session, msg: FixMessage) -> None:
        owner = str(session.session_id)
        firm = self.firm_of.get(owner, owner)
        cl_ord_id, orig = _text(msg.get(11)), _text(msg.get(41))
        symbol = _text(msg.get(55))
        try:
            qty = _qty(msg.get(38), 38)
            price = self._price(symbol, msg.get(44))
            ord_type = _ORD_TYPES.get(msg.get(40) or b"2")
            if ord_type is None:
                raise _BadValue(RejectReason("unsupported_order_type", 99, f"OrdType {msg.get(40)!r} not supported"))
        except _BadValue as bad:
            order = self.exchange._find(firm, owner, orig, _text(msg.get(37)) or None)
            self.dispatch([CancelReject(firm, owner, order.order_id if order else None, cl_ord_id, orig,
                                        order.status if order else OrdStatus.REJECTED, 2, bad.reason)])
            return
        side = msg.get(54)
        self.dispatch(self.exchange.replace(
            firm=firm, owner=owner, cl_ord_id=cl_ord_id, orig_cl_ord_id=orig, order_id=_text(msg.get(37)) or None,
            symbol=symbol, side=int(side) if side in (b"1", b"2") else 0, qty=qty, price=price, ord_type=ord_type))

    def _status(self, session: Session, msg: FixMessage) -> None:
        owner = str(session.session_id)
        self.dispatch(self.exchange.status(firm=self.firm_of.get(owner, owner), owner=owner,
                                           cl_ord_id=_text(msg.get(11)), order_id=_text(msg.get(37)) or None))

    def _mass_cancel(self, session: Session, msg: FixMessage) -> None:
        owner = str(session.session_id)
        firm = self.firm_of.get(owner, owner)
        scope = msg.get(530) or b"7"
        symbol = _text(msg.get(55)) if scope == b"1" else None
        events = self.exchange.mass_cancel(firm=firm, owner=owner, symbol=symbol)
        cancelled = sum(1 for e in events if isinstance(e, ExecReport) and e.exec_type == ExecType.CANCELED)
        self.dispatch(events)
        session.send(b"r", [(11, msg.get(11) or b""), (37, f"MC{self.messages_in}"), (530, scope),
                            (531, scope if scope in (b"1", b"7") else b"0"), (533, cancelled)])

    def _price(self, symbol: str, raw: bytes | None) -> int:
        if raw is None:
            raise _BadValue(RejectReason("missing_price", 99, "A limit order needs a Price (44)"))
        if symbol not in self.exchange.instruments:
            raise _BadValue(RejectReason("unknown_symbol", 1, f"Unknown symbol {symbol!r}"))
        try:
            ticks = self.exchange.instruments.get(symbol).to_ticks(raw)
        except InstrumentError as exc:
            raise _BadValue(RejectReason("bad_price", 99, str(exc))) from None
        if ticks <= 0:
            raise _BadValue(RejectReason("bad_price", 99, f"Price must be positive, got {raw.decode('latin-1')}"))
        return ticks

    def _rejected_report(self, session: Session, msg: FixMessage, reason: RejectReason) -> ExecReport:
        owner = str(session.session_id)
        side = msg.get(54)
        return ExecReport(
            self.firm_of.get(owner, owner), owner, "NONE", _text(msg.get(11)), None,
            self.exchange._exec_id(), ExecType.REJECTED, OrdStatus.REJECTED, _text(msg.get(55)),
            int(side) if side in (b"1", b"2") else 1, _ORD_TYPES.get(msg.get(40) or b"", OrdType.LIMIT), None,
            0, None, 0, 0, 0, reject=reason)

    # -- MARKET AND REFERENCE DATA ---------------------------------------------------------------

    def _market_data(self, session: Session, msg: FixMessage) -> None:
        self.publisher.request(session, msg)

    def _security_list(self, session: Session, msg: FixMessage) -> None:
        instruments = list(self.exchange.instruments)
        group: list[tuple[int, object]] = []
        for instrument in instruments:
            group += [(55, instrument.symbol), (15, instrument.currency)]
        session.send(b"y", [(320, msg.get(320) or b""), (322, f"SL{self.messages_in}"), (560, 0),
                            (146, len(instruments)), *group])

    def _security_definition(self, session: Session, msg: FixMessage) -> None:
        symbol = _text(msg.get(55))
        known = symbol in self.exchange.instruments
        body: list[tuple[int, object]] = [(320, msg.get(320) or b""), (322, f"SD{self.messages_in}"),
                                          (323, b"1" if known else b"6")]
        if known:
            instrument = self.exchange.instruments.get(symbol)
            body += [(15, instrument.currency), (55, symbol)]
        else:
            body += [(55, symbol), (58, f"Unknown symbol {symbol!r}")]
        session.send(b"d", body)

    # -- DISTRIBUTION ----------------------------------------------------------------------------

    def dispatch(self, events: list[VenueEvent]) -> None:
        """Send each event to whoever must see it: owners, drop copies, market-data subscribers."""
        for event in events:
            cls = type(event)
            if cls is ExecReport:
                body = self._exec_report_body(event)
                self._to_owner(event.owner, b"8", body)
                for drop in self.drop_copy_of.get(event.firm, ()):
                    self._to_owner(drop, b"8", body)
            elif cls is CancelReject:
                self._to_owner(event.owner, b"9", self._cancel_reject_body(event))
            elif cls is BookChange:
                self.publisher.on_change(event)
            elif cls is StatusChange:
                self._broadcast_status(event)

    def _to_owner(self, owner: str, msg_type: bytes, body: list) -> None:
        session = self.sessions.get(owner)
        if session is not None:
            session.send(msg_type, body)

    def _exec_report_body(self, r: ExecReport) -> list[tuple[int, object]]:
        instruments = self.exchange.instruments
        instrument = instruments.get(r.symbol) if r.symbol in instruments else None
        session = self.sessions.get(r.owner)
        fix42 = session is not None and session.session_id.begin_string == "FIX.4.2"
        body: list[tuple[int, object]] = []
        if instrument is not None and r.cum_qty:
            avg = (Decimal(r.notional) * instrument.tick_size / r.cum_qty).quantize(
                Decimal(1).scaleb(-(instrument.decimals + 4)))
            body.append((6, format(avg.normalize(), "f")))
        else:
            body.append((6, 0))
        body += [(11, r.cl_ord_id), (14, r.cum_qty), (17, r.exec_id)]
        if fix42:
            body.append((20, 3 if r.exec_type == ExecType.ORDER_STATUS else 0))
        if r.last_qty:
            body += [(31, instrument.to_price(r.last_px) if instrument else r.last_px), (32, r.last_qty)]
        body += [(37, r.order_id), (38, r.order_qty), (39, r.ord_status.value), (40, r.ord_type.value)]
        if r.orig_cl_ord_id:
            body.append((41, r.orig_cl_ord_id))
        if r.price is not None and instrument is not None:
            body.append((44, instrument.to_price(r.price)))
        body += [(54, r.side), (55, r.symbol)]
        if r.reject is not None:
            body.append((58, r.reject.text))
        if r.time_in_force is not None:
            body.append((59, r.time_in_force.value))
        if r.reject is not None and r.exec_type == ExecType.REJECTED:
            body.append((103, r.reject.fix_reason))
        body += [(150, _exec_type_42(r) if fix42 else r.exec_type.value), (151, r.leaves_qty)]
        return body

    def _cancel_reject_body(self, c: CancelReject) -> list[tuple[int, object]]:
        return [(11, c.cl_ord_id), (37, c.order_id or "NONE"), (39, c.ord_status.value), (41, c.orig_cl_ord_id),
                (58, c.reason.text), (102, c.reason.fix_reason if c.reason.fix_reason in (0, 1, 2, 3, 6) else 99),
                (434, c.response_to)]

    def _broadcast_status(self, event: StatusChange) -> None:
        code = {"continuous": b"17", "halted": b"2", "paused": b"2", "pre_open": b"21", "auction": b"21",
                "closed": b"18"}.get(event.phase, b"17")
        for session in self.sessions.values():
            if str(session.session_id) in self.firm_of:
                session.send(b"f", [(55, event.symbol), (58, event.text), (326, code)])


def _text(raw: bytes | None) -> str:
    return raw.decode("latin-1") if raw is not None else ""


def _exec_type_42(r: ExecReport) -> str:
    """FIX 4.2 has no ExecType F (trade) or I (status): map to 1/2 and the order's status."""
    if r.exec_type == ExecType.TRADE:
        return "2" if r.ord_status == OrdStatus.FILLED else "1"
    if r.exec_type == ExecType.ORDER_STATUS:
        return r.ord_status.value
    return r.exec_type.value


_HANDLERS = {
    b"D": VenueGateway._new_order,
    b"F": VenueGateway._cancel,
    b"G": VenueGateway._replace,
    b"H": VenueGateway._status,
    b"q": VenueGateway._mass_cancel,
    b"V": VenueGateway._market_data,
    b"x": VenueGateway._security_list,
    b"c": VenueGateway._security_definition,
}
