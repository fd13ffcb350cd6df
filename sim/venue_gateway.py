"""The venue's FIX gateway: the session Application that turns order-entry FIX into Exchange calls.

NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G), OrderStatusRequest (H),
OrderMassCancelRequest (q), MarketDataRequest (V), SecurityListRequest (x), SecurityDefinitionRequest
(c) and TradingSessionStatusRequest (g) are served; any other application message gets
BusinessMessageReject "Unsupported Message Type".  A malformed *business* value (a price off the
tick grid, a fractional quantity, an unknown symbol) is answered the way real venues answer it:
with a rejected ExecutionReport (OrdRejReason + Text) or an OrderCancelReject, never a session
Reject, so the order-entry flow is never broken by a typo.

Everything a message causes is sent synchronously, before the session handles its next message:
the reports to every firm involved (and their drop copies), then the market data.  A drop copy
gets every ExecutionReport of its firm rendered in the drop-copy session's own FIX version (a
FIX 4.2 drop copy of a FIX 4.4 firm gets ExecTransType and no ExecType F).

Trading status goes to every order-entry session (not to drop copies):

* SecurityStatus (f) on every phase change of a symbol, SecurityTradingStatus(326) from the
  tables below (FIX 4.4: 17 ready to trade, 2 halt, 21 pre-open, 18 not available; FIX 4.2 has
  no 21, so its calls are 18; a phase we do not know is 20, never "ready to trade"; Text(58) says
  why, except on FIX 4.2, whose SecurityStatus has no Text);
* TradingSessionStatus (h) when the venue's *overall* phase changes: the most active phase of any
  symbol (continuous > closing > pre-open/auction > halted/paused > closed), so one halted symbol
  of two leaves the venue open, and halting the only one halts it.  TradSesStatus(340): 2 open,
  5 pre-close (the closing call), 4 pre-open, 1 halted, 3 closed; TradingSessionID(336) ``1``
  (the day session); UnsolicitedIndicator(325) Y.  The phases of one command are looked at once,
  after all of its StatusChanges, so an auction (auction -> continuous at the same instant) does
  not flicker through pre-open.  A TradingSessionStatusRequest (g) is answered with the current
  status (325=N, TradSesReqID echoed).

Prices cross the wire as text and live as integer ticks; the conversions go through
:class:`~sim.wire_prices.WirePrices` (the Instrument's exact Decimal conversions, cached per
instrument).  With the owner-key cache and plain-digit quantities, building an ExecutionReport body
went from 40k to 16k instructions and reading a NewOrderSingle (Exchange call aside) from 54k to
32k (cachegrind on the dev box, where wall-clock figures are too noisy to compare).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

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
from sim.wire_prices import WirePrices

if TYPE_CHECKING:
    from sim.order_log import OrderLog

_ORD_TYPES = {b"1": OrdType.MARKET, b"2": OrdType.LIMIT}
_TIFS = {b"0": TimeInForce.DAY, b"1": TimeInForce.GTC, b"3": TimeInForce.IOC, b"4": TimeInForce.FOK}

# SecurityTradingStatus(326) per trading phase (sim.phases), checked against the enumerations of
# tag 326 in sim/fix/spec/FIX44.json and FIX42.json.  FIX 4.4 has no value for a closing call:
# 21 (pre-open: orders are collected, nothing matches) is what it is to an order-entry client,
# and TradingSessionStatus 340=5 (pre-close) plus the Text say which call it is.
_SECURITY_TRADING_STATUS = {"continuous": b"17", "halted": b"2", "paused": b"2", "pre_open": b"21",
                            "auction": b"21", "closing": b"21", "closed": b"18"}
# FIX 4.2 has no 21 (pre-open came with 4.3): a call is 18 (not available for trading) and its Text.
_SECURITY_TRADING_STATUS_42 = {**_SECURITY_TRADING_STATUS, "pre_open": b"18", "auction": b"18", "closing": b"18"}
_UNKNOWN_SECURITY_TRADING_STATUS = b"20"  # unknown or invalid (both versions)
_ORD_REJ_REASONS_42 = frozenset(range(9))  # OrdRejReason(103) values FIX 4.2 knows (0-8)

TRADING_SESSION_ID = b"1"  # TradingSessionID(336) of the venue's one session: "1", the day session
# TradSesStatus(340) of the overall phase (FIX 4.2 and 4.4 enumerations: 1 halted, 2 open, 3 closed,
# 4 pre-open, 5 pre-close).
_TRAD_SES_STATUS = {"open": b"2", "halted": b"1", "closed": b"3", "pre_open": b"4", "pre_close": b"5"}
# The venue's overall phase is the most active one of its symbols: rank, and what it is called.
_SESSION_RANK = {"closed": 0, "halted": 1, "paused": 1, "pre_open": 2, "auction": 2, "closing": 3, "continuous": 4}
_SESSION_PHASE = {"closed": "closed", "halted": "halted", "paused": "halted", "pre_open": "pre_open",
                  "auction": "pre_open", "closing": "pre_close", "continuous": "open"}


class _BadValue(Exception):
    """A business field the venue cannot use; becomes a rejected report, not a session Reject."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(reason.text)
        self.reason = reason


#: Largest quantity, and price in ticks, the venue accepts: a signed 64-bit integer, as matching engines
#: and FIX engines store them.  Found by the fuzz campaign: a 5,000-digit OrderQty was booked and then
#: its ExecutionReport could not be encoded (CPython refuses int -> str beyond 4,300 digits), and a
#: 40-digit Price was rounded to 1E+40 by Decimal's 28-digit context, booked, and its fill's AvgPx
#: raised InvalidOperation; either way the order lived in the book while its owner got
#: BusinessMessageReject "Application error".
MAX_WIRE_INT = 2**63 - 1


def _qty(raw: bytes | None, tag: int) -> int:
    """A whole-number quantity from FIX text (``10`` and ``10.0`` are fine, ``10.5`` is not)."""
    # Plain digits (the usual spelling) skip Decimal: up to 18 digits is below MAX_WIRE_INT, and
    # int() of ASCII digits is the Decimal's integral value (one Decimal parse and compare less per
    # order).
    if raw is not None and raw.isdigit() and len(raw) <= 18:
        value = int(raw)
        if value > 0:
            return value
    if raw is None:
        raise _BadValue(RejectReason("missing_quantity", 13, f"Quantity ({tag}) is missing"))
    try:
        value = Decimal(raw.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):
        raise _BadValue(RejectReason("bad_quantity", 13, f"Quantity ({tag}) is not a number: {raw!r}")) from None
    if value != value.to_integral_value() or value <= 0:
        raise _BadValue(RejectReason("bad_quantity", 13, f"Quantity ({tag}) must be a positive whole number, "
                                                         f"got {raw.decode('ascii')}"))
    if value > MAX_WIRE_INT:
        raise _BadValue(RejectReason("bad_quantity", 13, f"Quantity ({tag}) is too large (at most {MAX_WIRE_INT})"))
    return int(value)


class VenueGateway:
    """Session Application of the venue: order entry, market data and reference data over FIX."""

    def __init__(self, exchange: Exchange, publisher: MarketDataPublisher, *,
                 firm_of: dict[str, str], drop_copy_of: dict[str, list[str]] | None = None,
                 cancel_on_disconnect: set[str] | None = None, passwords: dict[str, str] | None = None,
                 phase_of: Callable[[], Mapping[str, str]] | None = None) -> None:
        self.exchange = exchange
        self.publisher = publisher
        self.firm_of = firm_of                      # session id string -> firm
        self.drop_copy_of = drop_copy_of or {}      # firm -> drop-copy session id strings
        self.cancel_on_disconnect = cancel_on_disconnect or set()
        self.passwords = passwords or {}            # session id string -> required Password(554)
        self.sessions: dict[str, Session] = {}      # session id string -> live session
        self.messages_in = 0
        self.phase_of = phase_of                    # symbol -> trading phase now (sim.phases values)
        self.session_phase = self.overall_phase()   # what TradingSessionStatus last said (or would say)
        self.ignored_after_logout: dict[str, int] = {}  # per session: messages dropped after our Logout
        self.order_log: OrderLog | None = None      # a persistent venue's write-ahead log (sim.order_log)
        self.prices = WirePrices()                  # price text <-> ticks, cached per instrument
        # str(session_id) per live session: the owner key of every order (building it cost ~0.2 us
        # per message, and it is asked for once per order and once per report).
        self._owners: dict[Session, str] = {}

    def _owner(self, session: Session) -> str:
        owner = self._owners.get(session)
        if owner is None:
            owner = self._owners[session] = str(session.session_id)
        return owner

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
        self.sessions[self._owner(session)] = session

    def on_logout(self, session: Session) -> None:
        """Cancel-on-disconnect where configured; forget market-data subscriptions."""
        key = self._owner(session)
        self.sessions.pop(key, None)
        self.publisher.drop_session(session)
        if key in self.cancel_on_disconnect:
            self.dispatch(self.exchange.cancel_owner(key))

    def from_app(self, session: Session, message: FixMessage) -> None:
        """Serve one application message."""
        self.messages_in += 1
        if session.sent_logout:
            # The venue logged this session out (throttle, kill switch): what the client still sends
            # before the connection closes is not served.  Each would cost a whole order's work and a
            # reject that keeps a flood going; the Logout already told the client why.
            key = self._owner(session)
            self.ignored_after_logout[key] = self.ignored_after_logout.get(key, 0) + 1
            if self.ignored_after_logout[key] == 1:
                session.log.on_event("Ignoring application messages received after our Logout")
            return
        handler = _HANDLERS.get(message.msg_type())
        if handler is None:
            raise BusinessReject(3)
        handler(self, session, message)

    # -- ORDER ENTRY -----------------------------------------------------------------------------

    def _new_order(self, session: Session, msg: FixMessage) -> None:
        owner = self._owner(session)
        firm = self.firm_of.get(owner, owner)
        get = msg.get
        cl_ord_id = (get(11) or b"").decode("latin-1")
        symbol = (get(55) or b"").decode("latin-1")
        side = get(54)
        if (get(43) == b"Y" or get(97) == b"Y") and self.exchange._find(firm, owner, cl_ord_id, None):
            # A resent order the venue already has (it stopped after taking the order, before it
            # counted the MsgSeqNum): its status, not a duplicate-ClOrdID reject that would tell
            # the client a live order is dead.
            self.dispatch(self.exchange.status(firm=firm, owner=owner, cl_ord_id=cl_ord_id))
            return
        try:
            if side not in (b"1", b"2"):
                raise _BadValue(RejectReason("unsupported_side", 99, f"Side {side!r} is not supported (1 buy, 2 sell)"))
            ord_type = _ORD_TYPES.get(get(40) or b"")
            if ord_type is None:
                raise _BadValue(RejectReason("unsupported_order_type", 11,  # 11: unsupported order characteristic
                                             f"OrdType {get(40)!r} is not supported (1 market, 2 limit)"))
            tif_raw = get(59)
            tif = _TIFS.get(tif_raw) if tif_raw is not None else None
            if tif_raw is not None and tif is None:
                raise _BadValue(RejectReason("unsupported_time_in_force", 99,
                                             f"TimeInForce {tif_raw!r} is not supported (0, 1, 3, 4)"))
            qty = _qty(get(38), 38)
            price = self._price(symbol, get(44)) if ord_type is OrdType.LIMIT else None
            if ord_type is OrdType.MARKET and get(44) is not None:
                raise _BadValue(RejectReason("unexpected_price", 99, "A market order must not carry a Price (44)"))
            exec_inst = get(18)
            post_only = exec_inst is not None and b"6" in exec_inst.split(b" ")
        except _BadValue as bad:
            self.dispatch([self._rejected_report(session, msg, bad.reason)])
            return
        self.dispatch(self.exchange.new_order(
            firm=firm, owner=owner, cl_ord_id=cl_ord_id, symbol=symbol, side=int(side), qty=qty,
            ord_type=ord_type, price=price, time_in_force=tif, post_only=post_only))

    def _cancel(self, session: Session, msg: FixMessage) -> None:
        owner = self._owner(session)
        self.dispatch(self.exchange.cancel(
            firm=self.firm_of.get(owner, owner), owner=owner, cl_ord_id=_text(msg.get(11)),
            orig_cl_ord_id=_text(msg.get(41)), order_id=_text(msg.get(37)) or None))

    def _replace(self, session: Session, msg: FixMessage) -> None:
        owner = self._owner(session)
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
        owner = self._owner(session)
        side = msg.get(54)
        self.dispatch(self.exchange.status(firm=self.firm_of.get(owner, owner), owner=owner,
                                           cl_ord_id=_text(msg.get(11)), order_id=_text(msg.get(37)) or None,
                                           symbol=_text(msg.get(55)), side=int(side) if side in (b"1", b"2") else 1))

    def _mass_cancel(self, session: Session, msg: FixMessage) -> None:
        owner = self._owner(session)
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
        instrument = self.exchange.instruments.find(symbol)
        if instrument is None:
            raise _BadValue(RejectReason("unknown_symbol", 1, f"Unknown symbol {symbol!r}"))
        try:
            ticks = self.prices.of(instrument).to_ticks(raw)
        except InstrumentError as exc:
            raise _BadValue(RejectReason("bad_price", 99, str(exc))) from None
        if ticks <= 0:
            raise _BadValue(RejectReason("bad_price", 99, f"Price must be positive, got {raw.decode('latin-1')}"))
        if ticks > MAX_WIRE_INT:
            raise _BadValue(RejectReason("bad_price", 99, f"Price is too large (at most {MAX_WIRE_INT} ticks)"))
        return ticks

    def _rejected_report(self, session: Session, msg: FixMessage, reason: RejectReason) -> ExecReport:
        owner = self._owner(session)
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
        """Send each event to whoever must see it: owners, drop copies, market-data subscribers.

        With an order log, the events' order states are written first (the write-ahead point of
        :mod:`sim.order_log`): nothing reaches a session, its store or the wire before that.
        """
        if self.order_log is not None:
            self.order_log.record(self.exchange, events)
        statuses: dict[str, StatusChange] | None = None
        for event in events:
            cls = type(event)
            if cls is ExecReport:
                self._send_report(event)
            elif cls is CancelReject:
                session = self.sessions.get(event.owner)
                if session is not None:
                    session.send(b"9", self._cancel_reject_body(
                        event, session.session_id.begin_string == "FIX.4.2"))
            elif cls is BookChange:
                self.publisher.on_change(event)
            elif cls is StatusChange:
                self._broadcast_status(event)
                if statuses is None:
                    statuses = {}
                statuses[event.symbol] = event
        if statuses is not None:
            self._update_session_status(statuses)

    def _send_report(self, r: ExecReport) -> None:
        """An ExecutionReport to its owner's session and the firm's drop copies, each in its own FIX version.

        The body is rendered per BeginString of the *recipient* (FIX 4.2 has ExecTransType(20) and
        no ExecType F), at most once per version, and only for sessions that are logged on.
        """
        rendered: dict[bool, list[tuple[int, object]]] = {}
        sessions = self.sessions
        for key in (r.owner, *self.drop_copy_of.get(r.firm, ())):
            session = sessions.get(key)
            if session is None:
                continue
            fix42 = session.session_id.begin_string == "FIX.4.2"
            body = rendered.get(fix42)
            if body is None:
                body = rendered[fix42] = self._exec_report_body(r, fix42)
            session.send(b"8", body)

    def _exec_report_body(self, r: ExecReport, fix42: bool = False) -> list[tuple[int, object]]:
        # Prices through the cached WirePrices, enum values as ``_value_`` (a plain attribute; the
        # ``value`` property costs ~0.18 us each, four per report): 40k -> 16k instructions per
        # body (cachegrind), same bytes.
        instrument = self.exchange.instruments.find(r.symbol)
        prices = self.prices.of(instrument) if instrument is not None else None
        cum_qty = r.cum_qty
        if prices is not None and cum_qty:
            body: list[tuple[int, object]] = [(6, prices.avg_px(r.notional, cum_qty))]
        else:
            body = [(6, 0)]
        body += [(11, r.cl_ord_id), (14, cum_qty), (17, r.exec_id)]
        if fix42:
            body.append((20, 3 if r.exec_type == ExecType.ORDER_STATUS else 0))
        if r.last_qty:
            body += [(31, prices.to_price(r.last_px) if prices is not None else r.last_px), (32, r.last_qty)]
        body += [(37, r.order_id), (38, r.order_qty), (39, r.ord_status._value_), (40, r.ord_type._value_)]
        if r.orig_cl_ord_id:
            body.append((41, r.orig_cl_ord_id))
        if r.price is not None and prices is not None:
            body.append((44, prices.to_price(r.price)))
        body += [(54, r.side), (55, r.symbol or "?")]  # 55 is required in a report: "?" as Exchange.status uses
        if r.reject is not None:
            body.append((58, r.reject.text))
        if r.time_in_force is not None:
            body.append((59, r.time_in_force._value_))
        if r.reject is not None and r.exec_type == ExecType.REJECTED:
            reason = r.reject.fix_reason
            if fix42 and reason not in _ORD_REJ_REASONS_42:
                reason = 0  # FIX 4.2 has no 13 (quantity) or 99 (other): 0 is its "exchange option"
            body.append((103, reason))
        body += [(150, _exec_type_42(r) if fix42 else r.exec_type._value_), (151, r.leaves_qty)]
        return body

    def _cancel_reject_body(self, c: CancelReject, fix42: bool = False) -> list[tuple[int, object]]:
        reason = c.reason.fix_reason
        if fix42:
            reason = reason if reason in (0, 1, 3) else 2  # FIX 4.2: 0-3 only; 2 is "exchange option"
        elif reason not in (0, 1, 2, 3, 6):
            reason = 99
        return [(11, c.cl_ord_id), (37, c.order_id or "NONE"), (39, c.ord_status.value), (41, c.orig_cl_ord_id),
                (58, c.reason.text), (102, reason), (434, c.response_to)]

    def _broadcast_status(self, event: StatusChange) -> None:
        """SecurityStatus (f) for one symbol's phase change, to every order-entry session."""
        codes = (_SECURITY_TRADING_STATUS, _SECURITY_TRADING_STATUS_42)
        unknown = _UNKNOWN_SECURITY_TRADING_STATUS
        for session in self.sessions.values():
            if self._owner(session) in self.firm_of:
                fix42 = session.session_id.begin_string == "FIX.4.2"
                code = codes[fix42].get(event.phase, unknown)
                if fix42:  # FIX 4.2's SecurityStatus has no Text(58)
                    session.send(b"f", [(55, event.symbol), (326, code)])
                else:
                    session.send(b"f", [(55, event.symbol), (58, event.text), (326, code)])

    # -- TRADING SESSION STATUS ------------------------------------------------------------------

    def overall_phase(self, pending: dict[str, StatusChange] | None = None) -> str:
        """The venue's session phase: the most active phase of any symbol (see the module docstring).

        ``pending`` are StatusChanges being dispatched now; they win over the phase table, which a
        delisting updates only after its StatusChange went out.
        """
        phases = dict(self.phase_of()) if self.phase_of is not None else {}
        for symbol, event in (pending or {}).items():
            phases[symbol] = event.phase
        best = "closed"
        for phase in phases.values():
            if _SESSION_RANK.get(phase, 0) > _SESSION_RANK[best]:
                best = phase
        return _SESSION_PHASE.get(best, "closed")

    def _update_session_status(self, statuses: dict[str, StatusChange]) -> None:
        """TradingSessionStatus (h) to every order-entry session when the overall phase changed."""
        phase = self.overall_phase(statuses)
        if phase == self.session_phase:
            return
        self.session_phase = phase
        text = "; ".join(event.text for event in statuses.values() if event.text)
        for session in self.sessions.values():
            if self._owner(session) in self.firm_of:
                session.send(b"h", self._session_status_body(phase, text, unsolicited=True))

    def _session_status_body(self, phase: str, text: str, *, unsolicited: bool,
                             req_id: bytes | None = None) -> list[tuple[int, object]]:
        body: list[tuple[int, object]] = []
        if req_id is not None:
            body.append((335, req_id))
        body += [(336, TRADING_SESSION_ID), (325, b"Y" if unsolicited else b"N"), (340, _TRAD_SES_STATUS[phase])]
        if text:
            body.append((58, text))
        return body

    def _trading_session_status_request(self, session: Session, msg: FixMessage) -> None:
        """TradingSessionStatusRequest (g): answer with the venue's current TradingSessionStatus."""
        session.send(b"h", self._session_status_body(self.overall_phase(), "", unsolicited=False,
                                                     req_id=msg.get(335) or b""))


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
    b"g": VenueGateway._trading_session_status_request,
}
