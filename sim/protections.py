"""Venue controls: the exchange's own defences, checked before an order reaches the book.

:class:`Protections` implements the :class:`~sim.exchange.Guard` protocol.  Each control that
fires answers with a :class:`~sim.venue_events.RejectReason` (machine code, FIX reason number,
a sentence with the numbers in it), which the gateway sends to the affected session as a rejected
ExecutionReport or an OrderCancelReject; phase changes go out to every session as SecurityStatus;
a throttle logout is a Logout with Text.  Every firing is also kept in ``Protections.fired`` for
the journal and for scenario expectations.

The controls, and the real numbers they model (see INCIDENTS.md "Venue controls"):

* **Phases** (:mod:`sim.phases`): closed, or halted/paused with ``*_orders = "reject"``, refuse
  new orders and replaces; cancels are always accepted.
* **Price bands** around the reference price (the listing price, then each auction price):
  ``price_bands = "reject"`` is CME-style banding (a buy above the band or a sell below it is
  rejected); ``"luld"`` adds US limit up-limit down: a marketable order that would trade beyond
  the band is rejected, a book pinned at the band (best bid at the upper band, best ask at the
  lower) is a **limit state**, and a limit state that lasts ``limit_state_s`` (15 s) without
  recovering **pauses** trading for ``pause_s`` (5 min), after which the instrument re-opens by
  auction.  Band widths are LULD's: Tier 1 5 %, Tier 2 10 %, $0.75-$3.00 20 %, below $0.75 the
  lesser of $0.15 or 75 %, doubled in the open/close windows; or one ``band_bps`` for everything.
* **Stop logic** (CME, E-mini 5 s): an order whose sweep would move the price more than
  ``stop_logic_ticks`` from the touch pauses the instrument for ``stop_logic_pause_s``; the order
  waits in the call and takes part in the re-opening auction.
* **Maximum order quantity and value** per instrument (MiFID II RTS 6 Art. 15).
* **Message throttle** per session over a sliding ``window_ms`` (CME: ~1,000 / ~1,500 per 3 s):
  the message after ``messages_per_window`` is rejected, the one after
  ``logout_messages_per_window`` is rejected and the session logged out.  Every order-entry
  message (new, replace, cancel) counts, rejected ones included, as on CME.
* **Kill switch** per firm or per session: cancel all open orders, refuse new ones until released.
* **Repeated-execution throttle** (RTS 6 Art. 15): a firm with more than ``max_executions`` fills
  on one instrument within ``execution_window_ms`` is blocked on it until staff release it.
* **Self-trade prevention** per firm: the mode is passed to the book (``sim.book_events.STP``).

Arithmetic is integer only: prices in ticks, bands in basis points, values in tick-units
(quantity x price ticks), times in ns.  Time comes from the injected ``now_ns``, timers through the
phase machine's ``schedule``; nothing reads the wall clock or draws random numbers.  Every limit
below is the **largest allowed** amount: the next one up fires.

Configuration (``[protections]`` in the venue file; every key optional, everything off by default)::

    [protections]
    price_bands = "off"            # "off", "reject" (CME banding) or "luld" (bands + limit states)
    price_band_tier = 0            # 0 = each instrument's band_tier; 1 or 2 forces a LULD tier
    band_bps = 0                   # 0 = LULD tier table; N = one band of N basis points for all
    open_window_s = 900            # LULD: bands doubled this long after the scheduled open ...
    close_window_s = 1500          # ... and this long before the close (needs a [phases] schedule)
    limit_state_s = 15             # a limit state this long pauses trading
    pause_s = 300                  # length of a LULD pause before the re-opening auction
    stop_logic_ticks = 0           # 0 = off; a sweep moving the price more than this pauses
    stop_logic_pause_s = 5
    max_order_qty = 0              # 0 = no limit
    max_order_value = ""           # "" = no limit; a decimal string in the instrument's currency
    messages_per_window = 0        # 0 = off; more than this per window are rejected
    logout_messages_per_window = 0 # 0 = off; more than this per window log the session out
    window_ms = 3000
    max_executions = 0             # 0 = off; repeated-execution throttle per firm and instrument
    execution_window_ms = 1000
    kill_switch_firms = []         # firms whose kill switch is engaged from the start (drills)
    self_trade_prevention = "none" # none, cancel_newest, cancel_oldest, cancel_both, decrement
    stp_firms = { A = "cancel_oldest" }   # per-firm STP modes

    [protections.instrument.ESZ6]  # per-instrument overrides of max_order_qty / max_order_value
    max_order_qty = 500
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sim.book_events import STP, Side
from sim.exchange import Guard, Order
from sim.instruments import Instrument
from sim.phases import OrderPolicy, Phase, Phases
from sim.venue_events import BookChange, ExecReport, ExecType, RejectReason, StatusChange, VenueEvent

if TYPE_CHECKING:
    from sim.exchange import Exchange

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


FIRED_KEPT = 10_000


class ProtectionsError(ValueError):
    """A bad ``[protections]`` table: the message names the key and the reason."""


_INT_KEYS = {"price_band_tier": (0, 2), "band_bps": (0, 10_000), "open_window_s": (0, 86_400),
             "close_window_s": (0, 86_400), "limit_state_s": (1, 86_400), "pause_s": (1, 86_400),
             "stop_logic_ticks": (0, 10**12), "stop_logic_pause_s": (1, 86_400), "max_order_qty": (0, 10**15),
             "messages_per_window": (0, 10**9), "logout_messages_per_window": (0, 10**9),
             "window_ms": (1, 86_400_000), "max_executions": (0, 10**9), "execution_window_ms": (1, 86_400_000)}
_STP_NAMES = {m.name.lower(): m for m in STP}


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-instrument size limits (0 / None = none)."""

    max_order_qty: int = 0
    max_order_value: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ProtectionsConfig:
    """The ``[protections]`` table, checked; see the module docstring for each key."""

    price_bands: str = "off"
    price_band_tier: int = 0
    band_bps: int = 0
    open_window_s: int = 900
    close_window_s: int = 1500
    limit_state_s: int = 15
    pause_s: int = 300
    stop_logic_ticks: int = 0
    stop_logic_pause_s: int = 5
    limits: Limits = Limits()
    messages_per_window: int = 0
    logout_messages_per_window: int = 0
    window_ms: int = 3000
    max_executions: int = 0
    execution_window_ms: int = 1000
    kill_switch_firms: tuple[str, ...] = ()
    self_trade_prevention: STP = STP.NONE
    stp_firms: dict[str, STP] = field(default_factory=dict)
    instrument_limits: dict[str, Limits] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> ProtectionsConfig:
        """Check a parsed ``[protections]`` table; ProtectionsError names the key and the reason."""
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key in _INT_KEYS:
                low, high = _INT_KEYS[key]
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ProtectionsError(f"{key} must be an integer, got {value!r}")
                if not low <= value <= high:
                    raise ProtectionsError(f"{key} must be between {low} and {high}, got {value}")
                values[key] = value
            elif key == "price_bands":
                if value not in ("off", "reject", "luld"):
                    raise ProtectionsError(f"price_bands must be \"off\", \"reject\" or \"luld\", got {value!r}")
                values[key] = value
            elif key == "max_order_value":
                values[key] = _money(key, value)
            elif key == "kill_switch_firms":
                if not isinstance(value, list) or not all(isinstance(f, str) and f for f in value):
                    raise ProtectionsError(f"kill_switch_firms must be a list of firm ids, got {value!r}")
                values[key] = tuple(value)
            elif key == "self_trade_prevention":
                values[key] = _stp(key, value)
            elif key == "stp_firms":
                if not isinstance(value, dict):
                    raise ProtectionsError(f"stp_firms must be a table of firm = mode, got {value!r}")
                values[key] = {firm: _stp(f"stp_firms.{firm}", mode) for firm, mode in value.items()}
            elif key == "instrument":
                if not isinstance(value, dict):
                    raise ProtectionsError("instrument must be a table of [protections.instrument.SYMBOL] tables")
                values["instrument_limits"] = {sym: _limits(f"instrument.{sym}", t) for sym, t in value.items()}
            else:
                known = sorted([*_INT_KEYS, "price_bands", "max_order_value", "kill_switch_firms",
                                "self_trade_prevention", "stp_firms", "instrument"])
                raise ProtectionsError(f"unknown key {key!r} (known: {', '.join(known)})")
        if values.get("logout_messages_per_window", 0) and values.get("messages_per_window", 0) \
                and values["logout_messages_per_window"] < values["messages_per_window"]:
            raise ProtectionsError("logout_messages_per_window must not be below messages_per_window")
        limits = Limits(values.pop("max_order_qty", 0), values.pop("max_order_value", None))
        return cls(limits=limits, **values)


def _money(key: str, value: Any) -> Decimal | None:
    if value == "":
        return None
    if not isinstance(value, str):
        raise ProtectionsError(f"{key} must be a decimal string such as \"1000000\", got {value!r}")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ProtectionsError(f"{key} is not a decimal number: {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise ProtectionsError(f"{key} must be positive, got {value!r}")
    return amount


def _stp(key: str, value: Any) -> STP:
    if value not in _STP_NAMES:
        raise ProtectionsError(f"{key} must be one of {', '.join(_STP_NAMES)}, got {value!r}")
    return _STP_NAMES[value]


def _limits(where: str, table: Any) -> Limits:
    if not isinstance(table, dict):
        raise ProtectionsError(f"{where} must be a table")
    for key in table:
        if key not in ("max_order_qty", "max_order_value"):
            raise ProtectionsError(f"{where}: unknown key {key!r} (known: max_order_qty, max_order_value)")
    qty = table.get("max_order_qty", 0)
    if isinstance(qty, bool) or not isinstance(qty, int) or qty < 0:
        raise ProtectionsError(f"{where}.max_order_qty must be a non-negative integer, got {qty!r}")
    return Limits(qty, _money(f"{where}.max_order_value", table.get("max_order_value", "")))


def band_width(reference: int, tick_size: Decimal, tier: int, band_bps: int = 0, doubled: bool = False) -> int:
    """Half-width of the price band in ticks (at least one), LULD tiers or a flat ``band_bps``.

    Integer arithmetic: the tick size enters as an exact ratio, widths are floored to the grid.

    >>> band_width(10000, Decimal("0.01"), 1)                 # $100.00, Tier 1: 5 %
    500
    >>> band_width(200, Decimal("0.01"), 1)                   # $2.00: 20 %
    40
    >>> band_width(50, Decimal("0.01"), 1), band_width(10, Decimal("0.01"), 1)  # $0.50: 15c; $0.10: 75 %
    (15, 7)
    >>> band_width(10000, Decimal("0.01"), 2, doubled=True)   # Tier 2 at the open: 20 %
    2000
    """
    k = 2 if doubled else 1
    if band_bps:
        width = reference * band_bps // 10_000
    else:
        num, den = tick_size.as_integer_ratio()
        if reference * num > 3 * den:                      # above $3.00
            width = reference * (500 if tier == 1 else 1000) * k // 10_000
        elif reference * num * 4 >= 3 * den:               # $0.75 to $3.00
            width = reference * 2000 * k // 10_000
        else:                                              # below $0.75: lesser of $0.15 or 75 %
            width = min(reference * 7500 * k // 10_000, 15 * k * den // (100 * num))
    return max(1, width)


@dataclass(frozen=True, slots=True)
class Fired:
    """One protection firing, for the journal: when, which control, who, and the sentence."""

    time_ns: int
    code: str
    text: str
    symbol: str = ""
    firm: str = ""
    owner: str = ""


class Protections(Guard):
    """The venue's controls (phases, bands, stop logic, limits, throttles, kill switch, STP)."""

    def __init__(self, config: ProtectionsConfig, phases: Phases, *, now_ns: Callable[[], int],
                 logout: Callable[[str, str], None] | None = None) -> None:
        self.config = config
        self.phases = phases
        self._now = now_ns
        self.logout = logout or (lambda owner, text: None)
        # the latest controls that fired, for tests and the status line; bounded, because a flooding
        # client fires the throttle once per message and nothing else trims the record
        self.fired: deque[Fired] = deque(maxlen=FIRED_KEPT)
        self.killed_firms: set[str] = set(config.kill_switch_firms)
        self.killed_owners: set[str] = set()
        self.throttled: set[tuple[str, str]] = set()     # (firm, symbol) blocked by the execution throttle
        self.limit_states: dict[str, tuple[str, int]] = {}  # symbol -> (direction, epoch)
        self._messages: dict[str, deque[int]] = {}
        self._executions: dict[tuple[str, str], deque[int]] = {}
        self._epoch = 0
        self._pending: list[VenueEvent] = []

    # -- GUARD -----------------------------------------------------------------------------------

    def check_new(self, exchange: Exchange, order: Order, instrument: Instrument) -> RejectReason | None:
        """Throttle, kill switch, phase, size, band and stop-logic checks for a new order."""
        return (self._count_message(order.firm, order.owner, order.symbol)
                or self._check_order(exchange, order, instrument, order.order_qty, order.price, new=True))

    def check_replace(self, exchange: Exchange, order: Order, instrument: Instrument,
                      new_qty: int, new_price: int | None) -> RejectReason | None:
        """The same checks for a replace, on its new quantity and price."""
        return (self._count_message(order.firm, order.owner, order.symbol)
                or self._check_order(exchange, order, instrument, new_qty, new_price, new=False))

    def check_cancel(self, exchange: Exchange, firm: str, owner: str) -> RejectReason | None:
        """Cancels are refused only by the message throttle (never by a halt or a kill switch)."""
        return self._count_message(firm, owner, "")

    def stp_mode(self, firm: str) -> STP:
        """The firm's configured STP mode, else the venue default."""
        return self.config.stp_firms.get(firm, self.config.self_trade_prevention)

    def after(self, exchange: Exchange, events: list[VenueEvent]) -> list[VenueEvent]:
        """Stop-logic pauses decided before the book, repeated-execution throttle and LULD limit states."""
        out, self._pending = self._pending, []
        if self.config.max_executions:
            self._count_executions(events)
        if self.config.price_bands == "luld":
            for event in events:
                if type(event) is BookChange:
                    out += self._check_limit_state(exchange, event.symbol)
        return out

    # -- ADMIN -----------------------------------------------------------------------------------

    def kill(self, exchange: Exchange, *, firm: str | None = None, owner: str | None = None,
             reason: str = "") -> list[VenueEvent]:
        """Engage a kill switch for a firm or one session: cancel its open orders, refuse new ones."""
        who = f"firm {firm}" if firm is not None else f"session {owner}"
        why = RejectReason("kill_switch", 99, f"Kill switch engaged for {who}{': ' + reason if reason else ''}; "
                                              "open orders cancelled, new orders refused until released")
        self._fire(why, firm=firm or "", owner=owner or "")
        if firm is not None:
            self.killed_firms.add(firm)
            return exchange.mass_cancel(firm=firm, reason=why)
        self.killed_owners.add(owner)
        return exchange.cancel_owner(owner, reason=why)

    def release(self, *, firm: str | None = None, owner: str | None = None) -> None:
        """Release a kill switch (and, for a firm, its repeated-execution blocks)."""
        if firm is not None:
            self.killed_firms.discard(firm)
            self.throttled = {key for key in self.throttled if key[0] != firm}
        if owner is not None:
            self.killed_owners.discard(owner)

    # -- CHECKS ----------------------------------------------------------------------------------

    def _count_message(self, firm: str, owner: str, symbol: str) -> RejectReason | None:
        cfg = self.config
        if not (cfg.messages_per_window or cfg.logout_messages_per_window):
            return None
        now = self._now()
        window = self._messages.setdefault(owner, deque())
        while window and window[0] <= now - cfg.window_ms * NS_PER_MS:
            window.popleft()
        window.append(now)
        count = len(window)
        if cfg.logout_messages_per_window and count > cfg.logout_messages_per_window:
            text = (f"Message throttle: {count} messages in {cfg.window_ms} ms exceeds the logout limit of "
                    f"{cfg.logout_messages_per_window}; session logged out")
            reason = self._fire(RejectReason("throttle_logout", 99, text), symbol=symbol, firm=firm, owner=owner)
            self.phases.later(0, lambda: self.logout(owner, text))  # after this message's reject is sent
            return reason
        if cfg.messages_per_window and count > cfg.messages_per_window:
            return self._fire(RejectReason("throttle", 99, f"Message throttle: {count} messages in {cfg.window_ms} "
                                                           f"ms exceeds the limit of {cfg.messages_per_window}"),
                              symbol=symbol, firm=firm, owner=owner)
        return None

    def _check_order(self, exchange: Exchange, order: Order, instrument: Instrument, qty: int,
                     price: int | None, new: bool) -> RejectReason | None:
        symbol, firm = order.symbol, order.firm
        if firm in self.killed_firms or order.owner in self.killed_owners:
            who = f"firm {firm}" if firm in self.killed_firms else "this session"
            return self._fire(RejectReason("kill_switch", 99, f"Kill switch engaged for {who}: new orders and "
                                                              "replaces are refused"), symbol=symbol, firm=firm)
        if (firm, symbol) in self.throttled:
            return self._fire(RejectReason("execution_throttle", 99, f"Repeated-execution throttle: firm {firm} is "
                                                                     f"blocked on {symbol} until staff release it"),
                              symbol=symbol, firm=firm)
        policy = self.phases.policy(symbol)
        if policy == OrderPolicy.REJECT:
            phase = self.phases.phase(symbol)
            return self._fire(RejectReason(f"instrument_{phase.value}", 2, f"{symbol} is {phase.value}: "
                                                                           "new orders are not accepted"),
                              symbol=symbol, firm=firm)
        problem = self._check_size(order, instrument, qty, price)
        if problem is None and self.config.price_bands != "off":
            problem = self._check_band(order, instrument, price)
        if problem is not None:
            return problem
        if policy == OrderPolicy.MATCH and new:
            return self._check_sweep(exchange, order, instrument, qty, price)
        return None

    def _check_size(self, order: Order, instrument: Instrument, qty: int, price: int | None) -> RejectReason | None:
        limits = self.config.instrument_limits.get(order.symbol, self.config.limits)
        if limits.max_order_qty and qty > limits.max_order_qty:
            return self._fire(RejectReason("max_order_qty", 3, f"Order quantity {qty} exceeds the maximum of "
                                                               f"{limits.max_order_qty} for {order.symbol}"),
                              symbol=order.symbol, firm=order.firm)
        if limits.max_order_value is not None:
            # Value in tick-units (qty x ticks) against the limit floored to tick-units: exact, integer.
            ticks = price if price is not None else self.phases.reference[order.symbol]
            cap = int(limits.max_order_value // instrument.tick_size)
            if qty * ticks > cap:
                value = instrument.to_decimal(qty * ticks)
                return self._fire(RejectReason("max_order_value", 3, f"Order value {value} {instrument.currency} "
                                                                     f"exceeds the maximum of {limits.max_order_value}"
                                                                     f" for {order.symbol}"),
                                  symbol=order.symbol, firm=order.firm)
        return None

    def band(self, symbol: str, instrument: Instrument) -> tuple[int, int]:
        """The current (lower, upper) price band of ``symbol`` in ticks."""
        cfg = self.config
        reference = self.phases.reference[symbol]
        doubled = cfg.price_bands == "luld" and self.phases.in_open_close_window(
            cfg.open_window_s * NS_PER_S, cfg.close_window_s * NS_PER_S)
        width = band_width(reference, instrument.tick_size, cfg.price_band_tier or instrument.band_tier,
                           cfg.band_bps, doubled)
        return reference - width, reference + width

    def _check_band(self, order: Order, instrument: Instrument, price: int | None) -> RejectReason | None:
        if price is None:
            return None
        lower, upper = self.band(order.symbol, instrument)
        if (order.side == Side.BUY and price > upper) or (order.side == Side.SELL and price < lower):
            edge = upper if order.side == Side.BUY else lower
            return self._fire(RejectReason("price_band", 99, f"Price {instrument.to_price(price)} is outside the "
                                                             f"price band {instrument.to_price(lower)} - "
                                                             f"{instrument.to_price(upper)} (limit "
                                                             f"{instrument.to_price(edge)}) for {order.symbol}"),
                              symbol=order.symbol, firm=order.firm)
        return None

    def _check_sweep(self, exchange: Exchange, order: Order, instrument: Instrument, qty: int,
                     price: int | None) -> RejectReason | None:
        """Where would this order's sweep end?  LULD rejects beyond the band; stop logic pauses."""
        cfg = self.config
        if not cfg.stop_logic_ticks and cfg.price_bands != "luld":
            return None
        worst_touch = _sweep(exchange, order.symbol, order.side, qty, price)
        if worst_touch is None:
            return None
        worst, touch = worst_touch
        if cfg.price_bands == "luld":
            lower, upper = self.band(order.symbol, instrument)
            if worst > upper or worst < lower:
                return self._fire(RejectReason("luld_band", 99, f"Order would trade at {instrument.to_price(worst)}, "
                                                                f"outside the price band {instrument.to_price(lower)}"
                                                                f" - {instrument.to_price(upper)}"),
                                  symbol=order.symbol, firm=order.firm)
        move = abs(worst - touch)
        if cfg.stop_logic_ticks and move > cfg.stop_logic_ticks:
            text = (f"Stop logic: an order would move {order.symbol} {move} ticks in one sweep (limit "
                    f"{cfg.stop_logic_ticks}); trading paused for {cfg.stop_logic_pause_s} s, then a re-opening "
                    "auction")
            self._fire(RejectReason("stop_logic", 0, text), symbol=order.symbol, firm=order.firm)
            # The pause opens a call, so the exchange puts this order there: it waits for the auction.
            self._pending += self.phases.pause(order.symbol, cfg.stop_logic_pause_s * NS_PER_S, "stop_logic", text)
        return None

    def _count_executions(self, events: list[VenueEvent]) -> None:
        cfg = self.config
        now = self._now()
        for event in events:
            if type(event) is not ExecReport or event.exec_type != ExecType.TRADE:
                continue
            key = (event.firm, event.symbol)
            window = self._executions.setdefault(key, deque())
            while window and window[0] <= now - cfg.execution_window_ms * NS_PER_MS:
                window.popleft()
            window.append(now)
            if len(window) > cfg.max_executions and key not in self.throttled:
                self.throttled.add(key)
                self._fire(RejectReason("execution_throttle", 99, f"Repeated-execution throttle: {len(window)} "
                                                                  f"executions of firm {event.firm} on {event.symbol}"
                                                                  f" within {cfg.execution_window_ms} ms (limit "
                                                                  f"{cfg.max_executions}); new orders blocked"),
                           symbol=event.symbol, firm=event.firm)

    # -- LULD LIMIT STATES -----------------------------------------------------------------------

    def _check_limit_state(self, exchange: Exchange, symbol: str) -> list[VenueEvent]:
        if self.phases.phase(symbol) != Phase.CONTINUOUS or symbol not in exchange.instruments:
            return []
        instrument = exchange.instruments.get(symbol)
        lower, upper = self.band(symbol, instrument)
        book = exchange.books[symbol]
        bid, ask = book.best_bid(), book.best_ask()
        direction = ("up" if bid is not None and bid.price >= upper else
                     "down" if ask is not None and ask.price <= lower else "")
        current = self.limit_states.get(symbol)
        if (current[0] if current is not None else "") == direction:
            return []
        if not direction:
            del self.limit_states[symbol]
            reason = self._fire(RejectReason("limit_state_exit", 0, f"{symbol} left the limit state"), symbol=symbol)
            return [StatusChange(symbol, Phase.CONTINUOUS.value, reason.code, reason.text)]
        self._epoch += 1
        epoch = self._epoch
        self.limit_states[symbol] = (direction, epoch)
        edge = upper if direction == "up" else lower
        text = (f"{symbol} limit {direction}: the book is at the band {instrument.to_price(edge)}; trading pauses "
                f"if it does not recover within {self.config.limit_state_s} s")
        self._fire(RejectReason(f"limit_{direction}", 0, text), symbol=symbol)

        def expire() -> None:
            if self.limit_states.get(symbol, ("", -1))[1] != epoch or self.phases.phase(symbol) != Phase.CONTINUOUS:
                return  # recovered, or halted/closed meanwhile
            del self.limit_states[symbol]
            pause_text = (f"{symbol} limit state lasted {self.config.limit_state_s} s: trading paused for "
                          f"{self.config.pause_s} s, then a re-opening auction")
            self._fire(RejectReason("luld_pause", 0, pause_text), symbol=symbol)
            self.phases.emit(self.phases.pause(symbol, self.config.pause_s * NS_PER_S, "luld_pause", pause_text))

        self.phases.later(self.config.limit_state_s * NS_PER_S, expire)
        return [StatusChange(symbol, Phase.CONTINUOUS.value, f"limit_{direction}", text)]

    def _fire(self, reason: RejectReason, *, symbol: str = "", firm: str = "", owner: str = "") -> RejectReason:
        self.fired.append(Fired(self._now(), reason.code, reason.text, symbol, firm, owner))
        return reason


def _sweep(exchange: Exchange, symbol: str, side: int, qty: int, limit: int | None) -> tuple[int, int] | None:
    """(worst price, first price) an incoming order would trade at, or None if it does not trade."""
    book = exchange.books[symbol]
    depth = 16
    while True:
        levels = book.depth(depth)
        opposite = levels.asks if side == Side.BUY else levels.bids
        left, worst = qty, None
        for level in opposite:
            if limit is not None and (level.price > limit if side == Side.BUY else level.price < limit):
                break
            worst = level.price
            left -= level.qty
            if left <= 0:
                break
        if worst is None:
            return None
        if left <= 0 or len(opposite) < depth or worst != opposite[-1].price:
            return worst, opposite[0].price
        depth *= 4  # the sweep reached the last level we looked at: look deeper
