"""Trading phases per instrument: when orders match, wait for an auction, or are refused.

Phases (``Phase`` values are what :class:`~sim.venue_events.StatusChange` carries and the FIX
gateway turns into SecurityStatus(f) TradingStatus(326))::

    closed --> pre_open --> auction --> continuous --> closing --> auction --> closed
                               ^          |    ^
                               |          v    |  (halt / pause / resume always re-open by auction)
                               +--- paused / halted

* ``pre_open``: orders are collected (they rest in a call book, nothing matches).
* ``auction``: the instant of an opening, re-opening or closing uncross (max-volume price, see
  :mod:`sim.auction`); it is left at once for ``continuous`` (or ``closed`` after the close).
* ``continuous``: price-time matching.
* ``paused`` (LULD limit state, stop logic) and ``halted`` (admin, regulatory): no matching; new
  orders are held for the re-opening auction or rejected, per ``paused_orders`` / ``halted_orders``.
* ``closing``: the closing call; orders are collected for the closing auction.
* ``closed``: new orders are rejected; cancels are always accepted.

Transitions are data (``TRANSITIONS``), as in h11: an illegal one raises :class:`PhaseError` and
changes nothing, and the diagram above is drawn from the table.  Entering a phase that does not
match opens a call on the exchange (its resting orders move to the call book), so halts, pauses
and pre-open share one mechanism, and every way back to ``continuous`` goes through an auction.

Configuration (``[phases]`` in the venue file; all keys optional)::

    [phases]
    always_open = true          # default: every instrument continuous from the start, no timers
    pre_open = "08:00:00"       # UTC time of day the pre-open call starts (needed if not always_open)
    open = "09:30:00"           # opening auction, then continuous (needed if not always_open)
    closing = "15:50:00"        # closing call starts (optional; without it the close has no auction)
    close = "16:00:00"          # closing auction (if a closing call), then closed (needed)
    paused_orders = "hold"      # "hold" (wait for the re-opening auction) or "reject"
    halted_orders = "reject"    # "hold" or "reject"

Times are UTC times of day, ``pre_open < open < closing < close``; the schedule repeats every
day.  Time is read only through the injected ``now_ns`` and timers go through the injected
``schedule(delay_ns, callback)``; a timer that fires after the phase it was meant for has
changed (a halt during a pause) sees a newer epoch and does nothing, so no timer needs cancelling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sim.venue_events import StatusChange, VenueEvent

if TYPE_CHECKING:
    from sim.exchange import Exchange

NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S


class Phase(StrEnum):
    """Trading phase of one instrument (the value is the StatusChange ``phase``)."""

    PRE_OPEN = "pre_open"
    AUCTION = "auction"
    CONTINUOUS = "continuous"
    PAUSED = "paused"
    HALTED = "halted"
    CLOSING = "closing"
    CLOSED = "closed"


class OrderPolicy(StrEnum):
    """What a phase does with a new order."""

    MATCH = "match"      # to the continuous book
    COLLECT = "collect"  # to the call book, for the next auction
    REJECT = "reject"    # refused with a reason


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.CLOSED: frozenset({Phase.PRE_OPEN, Phase.HALTED}),
    Phase.PRE_OPEN: frozenset({Phase.AUCTION, Phase.HALTED, Phase.CLOSED}),
    Phase.AUCTION: frozenset({Phase.CONTINUOUS, Phase.CLOSED}),
    Phase.CONTINUOUS: frozenset({Phase.PAUSED, Phase.HALTED, Phase.CLOSING, Phase.CLOSED}),
    Phase.PAUSED: frozenset({Phase.AUCTION, Phase.HALTED, Phase.CLOSED}),
    Phase.HALTED: frozenset({Phase.AUCTION, Phase.CLOSED}),
    Phase.CLOSING: frozenset({Phase.AUCTION, Phase.HALTED}),
}
"""Legal phase changes: ``TRANSITIONS[from]`` is the set of phases it may go to."""

_MATCHING = frozenset({Phase.CONTINUOUS})
_REJECTING = frozenset({Phase.CLOSED})


class PhaseError(ValueError):
    """An illegal phase change or a bad ``[phases]`` table (the message says which key and why)."""


@dataclass(frozen=True, slots=True)
class PhaseConfig:
    """The ``[phases]`` table, checked (times are ns since UTC midnight)."""

    always_open: bool = True
    pre_open_ns: int | None = None
    open_ns: int | None = None
    closing_ns: int | None = None
    close_ns: int | None = None
    paused_orders: OrderPolicy = OrderPolicy.COLLECT
    halted_orders: OrderPolicy = OrderPolicy.REJECT

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> PhaseConfig:
        """Check a parsed ``[phases]`` table; PhaseError names the key and the reason."""
        known = ("always_open", "pre_open", "open", "closing", "close", "paused_orders", "halted_orders")
        for key in table:
            if key not in known:
                raise PhaseError(f"unknown key {key!r} (known: {', '.join(known)})")
        always_open = table.get("always_open", not any(k in table for k in ("pre_open", "open", "close")))
        if not isinstance(always_open, bool):
            raise PhaseError(f"always_open must be true or false, got {always_open!r}")
        times = {key: _time_of_day(key, table[key]) for key in ("pre_open", "open", "closing", "close") if key in table}
        policies = {}
        for key in ("paused_orders", "halted_orders"):
            value = table.get(key, "hold" if key == "paused_orders" else "reject")
            if value not in ("hold", "reject"):
                raise PhaseError(f"{key} must be \"hold\" or \"reject\", got {value!r}")
            policies[key] = OrderPolicy.COLLECT if value == "hold" else OrderPolicy.REJECT
        if always_open:
            if times:
                raise PhaseError(f"{', '.join(times)} given with always_open = true; set always_open = false "
                                 "to follow a schedule")
            return cls(True, **policies)
        for key in ("pre_open", "open", "close"):
            if key not in times:
                raise PhaseError(f"{key} is required when always_open = false")
        order = [k for k in ("pre_open", "open", "closing", "close") if k in times]
        for earlier, later in zip(order, order[1:], strict=False):
            if times[earlier] >= times[later]:
                raise PhaseError(f"{later} ({table[later]}) must be after {earlier} ({table[earlier]})")
        return cls(False, times["pre_open"], times["open"], times.get("closing"), times["close"], **policies)


def _time_of_day(key: str, value: Any) -> int:
    """'HH:MM:SS' (or 'HH:MM') as integer ns since midnight."""
    if not isinstance(value, str):
        raise PhaseError(f"{key} must be a \"HH:MM:SS\" string, got {value!r}")
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise PhaseError(f"{key} must look like \"09:30:00\", got {value!r}")
    h, m, s = (int(p) for p in parts + ["00"] * (3 - len(parts)))
    if h > 23 or m > 59 or s > 59:
        raise PhaseError(f"{key} is not a time of day: {value!r}")
    return (h * 3600 + m * 60 + s) * NS_PER_S


class Phases:
    """Per-instrument phase machine of one venue; it opens calls and runs uncrosses on the exchange."""

    def __init__(self, exchange: Exchange, config: PhaseConfig | None = None, *, now_ns: Callable[[], int],
                 schedule: Callable[[int, Callable[[], None]], object] | None = None,
                 emit: Callable[[list[VenueEvent]], None] | None = None) -> None:
        self.exchange = exchange
        self.config = config or PhaseConfig()
        self._now = now_ns
        self._schedule = schedule
        self.emit: Callable[[list[VenueEvent]], None] = emit or (lambda events: None)
        self.phases: dict[str, Phase] = {}
        self.reference: dict[str, int] = {}     # reference price (ticks): listing, then each auction price
        self.on_reference: list[Callable[[str, int], None]] = []  # told of each new reference price
        self._epoch: dict[str, int] = {}
        for instrument in exchange.instruments:
            self.add(instrument.symbol, instrument.reference_ticks)

    # -- QUERIES ---------------------------------------------------------------------------------

    def phase(self, symbol: str) -> Phase:
        """The symbol's current phase."""
        return self.phases[symbol]

    def policy(self, symbol: str) -> OrderPolicy:
        """What the current phase does with a new order on ``symbol``."""
        phase = self.phases[symbol]
        if phase in _MATCHING:
            return OrderPolicy.MATCH
        if phase in _REJECTING:
            return OrderPolicy.REJECT
        if phase == Phase.PAUSED:
            return self.config.paused_orders
        if phase == Phase.HALTED:
            return self.config.halted_orders
        return OrderPolicy.COLLECT

    def in_open_close_window(self, open_window_ns: int, close_window_ns: int) -> bool:
        """True in the first ``open_window_ns`` after the open or the last ``close_window_ns`` before the close."""
        cfg = self.config
        if cfg.always_open:
            return False
        t = self._now() % DAY_NS
        return cfg.open_ns <= t < cfg.open_ns + open_window_ns or cfg.close_ns - close_window_ns <= t < cfg.close_ns

    # -- COMMANDS --------------------------------------------------------------------------------

    def add(self, symbol: str, reference: int) -> list[VenueEvent]:
        """Start following a (newly listed) symbol in the phase the schedule says it is in now."""
        self.reference[symbol] = reference
        self._epoch[symbol] = 0
        self.phases[symbol] = phase = self._scheduled_phase()
        if phase not in _MATCHING and phase not in _REJECTING:
            return self.exchange.open_call(symbol)
        return []

    def remove(self, symbol: str) -> None:
        """Stop following a delisted symbol (its timers will find no epoch and do nothing)."""
        self.phases.pop(symbol, None)
        self.reference.pop(symbol, None)
        self._epoch.pop(symbol, None)

    def transition(self, symbol: str, to: Phase, reason: str, text: str) -> list[VenueEvent]:
        """Move ``symbol`` to phase ``to`` if the table allows it; opens a call when matching stops."""
        current = self.phases[symbol]
        if to not in TRANSITIONS[current]:
            raise PhaseError(f"{symbol}: cannot go from {current} to {to} ({reason})")
        self.phases[symbol] = to
        self._epoch[symbol] += 1
        events: list[VenueEvent] = []
        if to not in _MATCHING and to != Phase.CLOSED:
            events += self.exchange.open_call(symbol)
        return [StatusChange(symbol, to.value, reason, text), *events]

    def auction(self, symbol: str, then: Phase, reason: str, text: str) -> list[VenueEvent]:
        """Uncross the call now (phase ``auction``), then go to ``then`` (continuous or closed)."""
        events = self.transition(symbol, Phase.AUCTION, reason, text)
        trades, price = self.exchange.uncross(symbol, self.reference[symbol])
        events += trades
        if price is not None:
            self.reference[symbol] = price
            for listener in self.on_reference:
                listener(symbol, price)
        done = "uncrossed" if price is None else f"uncrossed at {self._render(symbol, price)}"
        events += self.transition(symbol, then, f"{reason}_done",
                                  f"{symbol} {done}; {'continuous trading' if then == Phase.CONTINUOUS else then}")
        return events

    def halt(self, symbol: str, reason: str = "halt", text: str = "") -> list[VenueEvent]:
        """Halt ``symbol`` until :meth:`resume` (orders held or rejected per ``halted_orders``)."""
        return self.transition(symbol, Phase.HALTED, reason, text or f"{symbol} halted")

    def resume(self, symbol: str, reason: str = "resume", text: str = "") -> list[VenueEvent]:
        """Re-open a halted or paused symbol by auction, then continuous trading."""
        return self.auction(symbol, Phase.CONTINUOUS, reason, text or f"{symbol} re-opening auction")

    def pause(self, symbol: str, duration_ns: int, reason: str, text: str) -> list[VenueEvent]:
        """Pause ``symbol`` now and re-open it by auction ``duration_ns`` later (emitted when it happens)."""
        events = self.transition(symbol, Phase.PAUSED, reason, text)
        epoch = self._epoch[symbol]

        def reopen() -> None:
            if self._epoch.get(symbol) == epoch:  # nobody halted or closed it meanwhile
                self.emit(self.resume(symbol, f"{reason}_reopen", f"{symbol} re-opening auction after {reason}"))

        self.later(duration_ns, reopen)
        return events

    # -- SCHEDULE --------------------------------------------------------------------------------

    def start(self) -> None:
        """Arm the timer of the next scheduled phase change (nothing when always open)."""
        if self.config.always_open or self._schedule is None:
            return
        now = self._now()
        t = now % DAY_NS
        boundaries = [b for b in self._boundaries() if b > t]
        nxt = boundaries[0] if boundaries else self._boundaries()[0] + DAY_NS
        self.later(nxt - t, self._on_boundary)

    def _on_boundary(self) -> None:
        """A scheduled time has come: move every symbol along its day, then arm the next timer."""
        cfg = self.config
        t = self._now() % DAY_NS
        for symbol in list(self.phases):
            events: list[VenueEvent] = []
            phase = self.phases[symbol]
            if t == cfg.pre_open_ns and phase == Phase.CLOSED:
                events = self.transition(symbol, Phase.PRE_OPEN, "pre_open", f"{symbol} pre-open: orders collected")
            elif t == cfg.open_ns and phase == Phase.PRE_OPEN:
                events = self.auction(symbol, Phase.CONTINUOUS, "opening_auction", f"{symbol} opening auction")
            elif t == cfg.closing_ns and phase == Phase.CONTINUOUS:
                events = self.transition(symbol, Phase.CLOSING, "closing_call", f"{symbol} closing call")
            elif t == cfg.close_ns and phase == Phase.CLOSING:
                events = self.auction(symbol, Phase.CLOSED, "closing_auction", f"{symbol} closing auction")
            elif t == cfg.close_ns and phase in (Phase.CONTINUOUS, Phase.PAUSED, Phase.HALTED, Phase.PRE_OPEN):
                events = self.transition(symbol, Phase.CLOSED, "close", f"{symbol} closed")
            if events:
                self.emit(events)
        self.start()

    def _boundaries(self) -> list[int]:
        cfg = self.config
        return [b for b in (cfg.pre_open_ns, cfg.open_ns, cfg.closing_ns, cfg.close_ns) if b is not None]

    def _scheduled_phase(self) -> Phase:
        cfg = self.config
        if cfg.always_open:
            return Phase.CONTINUOUS
        t = self._now() % DAY_NS
        if cfg.pre_open_ns <= t < cfg.open_ns:
            return Phase.PRE_OPEN
        if cfg.open_ns <= t < (cfg.closing_ns if cfg.closing_ns is not None else cfg.close_ns):
            return Phase.CONTINUOUS
        if cfg.closing_ns is not None and cfg.closing_ns <= t < cfg.close_ns:
            return Phase.CLOSING
        return Phase.CLOSED

    def later(self, delay_ns: int, callback: Callable[[], None]) -> None:
        """Run ``callback`` ``delay_ns`` from now through the injected scheduler."""
        if self._schedule is None:
            raise PhaseError("this venue has no scheduler; timed phase changes need schedule(delay_ns, callback)")
        self._schedule(delay_ns, callback)

    def _render(self, symbol: str, ticks: int) -> str:
        instruments = self.exchange.instruments
        return instruments.get(symbol).to_price(ticks) if symbol in instruments else str(ticks)
