"""The vocabulary of pre-trade risk: trading states, intents, denials, limits and change events.

Everything here is data: frozen (mostly slotted) dataclasses and ``StrEnum`` codes, no behaviour
beyond validation.  :mod:`engines.risk` holds the engine that reads these, and
:mod:`engines.risk_checks` the checks themselves; both are re-exported from :mod:`engines.risk`.

Units, once for all: prices are integer **ticks** of the instrument; quantities are integer units
(shares, contracts); money is :class:`decimal.Decimal` in the instrument's currency (ticks x
``tick_size``, exact); times are integer **nanoseconds** on the context's clock; percentages and
basis points are exact ``Decimal``/``int``.  A float never decides a limit: the limits refuse
floats outright, as ``sim.instruments`` refuses float prices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol

from sim.instruments import Instrument

__all__ = [
    "TradingState", "RiskCode", "StateReason", "OrderIntent", "Denial", "OverriddenWarning", "RiskContext",
    "RiskLimits", "LimitChange", "StateChange", "Rate", "parse_rate", "SIDE_NAMES", "SOFT_CHECKS",
]

SIDE_NAMES = {1: "buy", 2: "sell"}


class TradingState(StrEnum):
    """What new orders may do: ACTIVE all, REDUCING only position-reducing ones, HALTED none but flatten."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"

    @property
    def strictness(self) -> int:
        """0 for ACTIVE, 1 for REDUCING, 2 for HALTED: the effective state is the strictest."""
        return _STRICTNESS[self]


_STRICTNESS = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


class RiskCode(StrEnum):
    """Stable machine codes of denials (``Denial.code``); each denial also carries a sentence."""

    INVALID_INTENT = "invalid_intent"                      # side/qty/price/type not expressible
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    INVALID_LOT = "invalid_lot_size"
    TRADING_HALTED = "trading_halted"                      # HALTED (engine or strategy); cause in Denial.cause
    TRADING_REDUCING = "trading_reducing"                  # REDUCING and the order does not reduce
    FLATTEN_NOT_REDUCING = "flatten_not_reducing"          # flatten=True that would not reduce the position
    MARKET_ORDER_BANNED = "market_order_banned"
    MARKET_ORDER_UNPROTECTED = "market_order_unprotected"  # policy "protect" but no protection configured
    MARKET_ORDER_NO_REFERENCE = "market_order_no_reference"
    REFERENCE_MISSING = "reference_missing"
    REFERENCE_STALE = "reference_stale"
    MAX_ORDER_QTY = "max_order_qty"
    MAX_ORDER_PCT_SHARES_OUTSTANDING = "max_order_pct_shares_outstanding"
    MAX_ORDER_PCT_ADV = "max_order_pct_adv"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    COLLAR_NO_REFERENCE = "price_collar_no_reference"
    COLLAR_UNBOUNDED = "price_collar_unbounded"            # a market order with no protection price
    PRICE_COLLAR_TICKS = "price_collar_ticks"
    PRICE_COLLAR_BPS = "price_collar_bps"
    MAX_POSITION = "max_position"
    MAX_GROSS_NOTIONAL = "max_gross_notional"
    MAX_OPEN_ORDERS = "max_open_orders"
    ORDER_RATE = "max_order_submit_rate"
    DUPLICATE_ORDER = "duplicate_order"
    CHECK_ERROR = "risk_check_error"                       # a check raised: fail closed


class StateReason(StrEnum):
    """Reason codes of automatic state changes (operators may use any code, e.g. ``manual``)."""

    MANUAL = "manual"
    REPEATED_EXECUTION_THROTTLE = "repeated_execution_throttle"
    DAILY_LOSS = "max_daily_loss"
    STRATEGY_DAILY_LOSS = "max_daily_loss_per_strategy"
    THROTTLE_RESET = "throttle_reset"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy asks the engine to send, before risk: prices in ticks, ``None`` for market."""

    strategy: str
    symbol: str
    side: int                     # 1 buy, 2 sell
    qty: int
    price: int | None             # ticks; None = market
    ord_type: str                 # "limit" | "market"
    time_in_force: str = "day"    # "day" | "ioc" | "fok"
    flatten: bool = False         # an explicit flatten: allowed while HALTED if it reduces the position
    cl_ord_id: str = ""
    override: str = ""            # who explicitly overrides soft-check warnings (strategy or operator); "" = nobody


@dataclass(frozen=True, slots=True)
class Denial:
    """Why an intent was refused: the check, a stable code, a sentence with the numbers."""

    check: str
    code: str
    text: str
    strategy: str
    symbol: str
    cl_ord_id: str = ""
    cause: str = ""               # for trading-state denials: the reason code of the halt/REDUCING


@dataclass(frozen=True, slots=True)
class OverriddenWarning:
    """A soft check's refusal that an explicit override let through: what warned, and who overrode it."""

    check: str
    code: str
    text: str
    strategy: str
    symbol: str
    who: str
    cl_ord_id: str = ""


class RiskContext(Protocol):
    """What the risk engine reads from the order engine; checks never write through it.

    Optional extra: ``symbols() -> Iterable[str]`` (symbols with a position or working order); when
    present the gross-notional check also values positions the risk engine never saw an order for.
    """

    def now_ns(self) -> int:
        """The engine's clock, integer ns (virtual in scenarios)."""

    def instrument(self, symbol: str) -> Instrument:
        """The instrument; an unknown symbol raises KeyError or InstrumentError."""

    def position(self, symbol: str, strategy: str | None = None) -> int:
        """Signed filled quantity, firm-wide (None) or of one strategy."""

    def working_qty(self, symbol: str, side: int, strategy: str | None = None) -> int:
        """Open (unfilled) quantity of working orders on one side."""

    def open_order_count(self, strategy: str | None = None) -> int:
        """Number of open orders, firm-wide (None) or of one strategy."""

    def reference_price(self, symbol: str) -> tuple[int, int] | None:
        """(ticks, as_of_ns) from a source independent of the strategy's own market data, or None."""

    def realized_pnl(self, strategy: str | None = None) -> Decimal:
        """The day's realised P&L in currency units."""

    def unrealized_pnl(self, strategy: str | None = None) -> Decimal:
        """The day's unrealised P&L in currency units, marked to the reference."""


@dataclass(frozen=True, slots=True)
class Rate:
    """A count per sliding window: at most ``count`` events in any ``window_ns`` nanoseconds."""

    count: int
    window_ns: int

    def __str__(self) -> str:
        return format_rate(self)


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+):([0-5]\d):([0-5]\d)(?:\.(\d{1,9}))?\s*$")


@lru_cache(maxsize=256)
def parse_rate(text: str) -> Rate:
    """Parse NautilusTrader's ``"N/HH:MM:SS[.fffffffff]"`` into a :class:`Rate` (integers only).

    >>> parse_rate("100/00:00:01")
    Rate(count=100, window_ns=1000000000)
    >>> parse_rate("5/00:00:00.250").window_ns
    250000000
    """
    if not isinstance(text, str):
        raise TypeError(f"a rate must be a string such as \"100/00:00:01\", got {text!r}")
    match = _RATE.match(text)
    if match is None:
        raise ValueError(f"rate {text!r} is not N/HH:MM:SS[.fffffffff], e.g. \"100/00:00:01\"")
    count, hh, mm, ss, frac = match.groups()
    window = ((int(hh) * 60 + int(mm)) * 60 + int(ss)) * 1_000_000_000 + int((frac or "").ljust(9, "0") or 0)
    if int(count) <= 0 or window <= 0:
        raise ValueError(f"rate {text!r} needs a positive count and a positive window")
    return Rate(int(count), window)


def format_rate(rate: Rate) -> str:
    """Render a :class:`Rate` back in the ``N/HH:MM:SS[.fffffffff]`` form."""
    secs, frac = divmod(rate.window_ns, 1_000_000_000)
    hh, rem = divmod(secs, 3600)
    mm, ss = divmod(rem, 60)
    tail = f".{frac:09d}".rstrip("0") if frac else ""
    return f"{rate.count}/{hh:02d}:{mm:02d}:{ss:02d}{tail}"


_INT_LIMITS = {  # name -> smallest allowed value
    "max_order_qty": 1, "price_collar_ticks": 0, "price_collar_bps": 0, "market_protection_ticks": 0,
    "market_protection_bps": 0, "max_reference_age_ns": 0, "max_position": 0, "max_open_orders": 0,
    "duplicate_window_ns": 1,
}
_DECIMAL_LIMITS = ("max_order_pct_shares_outstanding", "max_order_pct_adv", "max_order_notional",
                   "max_gross_notional", "max_daily_loss", "max_daily_loss_per_strategy")
_RATE_LIMITS = ("max_order_submit_rate", "max_fill_rate")
MARKET_ORDER_POLICIES = ("ban", "protect")
# Checks a firm may make soft (a warning an explicit override lets through).  Not the intent, the
# instrument, the market-order policy or the trading state: a malformed order cannot be sent anyway,
# and a halt that a flag could override is no halt (Knight needed one that held).
SOFT_CHECKS = ("reference_age", "order_qty", "order_notional", "price_collar", "position", "gross_notional",
               "open_orders", "order_rate", "duplicate")


@dataclass(frozen=True)
class RiskLimits:
    """The firm's pre-trade limits; every field ``None`` = that control is off.

    >>> RiskLimits(max_order_qty=10_000, max_order_notional="1000000").max_order_notional
    Decimal('1000000')
    """

    # -- fat finger: one order (Mizuho 2005, Citi 2022) --
    max_order_qty: int | None = None                          # units per order
    max_order_pct_shares_outstanding: Decimal | None = None   # percent of Instrument.shares_outstanding (0 = unknown: skipped)
    max_order_pct_adv: Decimal | None = None                  # percent of Instrument.average_daily_volume (0 = skipped)
    max_order_notional: Decimal | None = None                 # currency: qty x max(price, reference) x tick_size
    # -- price: collar vs the independent reference (Mizuho, Goldman options 2013) --
    price_collar_ticks: int | None = None                     # |price - reference| in ticks
    price_collar_bps: int | None = None                       # |price - reference| / reference in basis points
    market_order_policy: str | None = None                    # None = allowed as is; "ban"; "protect"
    market_protection_ticks: int | None = None               # "protect": reference +/- this many ticks ...
    market_protection_bps: int | None = None                 # ... or bps of the reference, whichever is tighter
    max_reference_age_ns: int | None = None                   # stale guard: reference older than this = no orders
    # -- exposure (Knight 2012) --
    max_position: int | None = None                           # |net position| per symbol, firm-wide, incl. working
    max_gross_notional: Decimal | None = None                 # currency, sum over symbols, incl. working
    max_open_orders: int | None = None                        # firm-wide open orders
    # -- flow (Everbright 2013, Knight) --
    max_order_submit_rate: str | None = None                  # "N/HH:MM:SS": firm-wide sliding window
    duplicate_window_ns: int | None = None                    # same strategy/symbol/side/qty/price within this
    max_fill_rate: str | None = None                          # "N/HH:MM:SS" per strategy: more -> HALTED (RTS 6 Art. 15)
    # -- loss (15c3-5 credit/capital thresholds) --
    max_daily_loss: Decimal | None = None                     # currency, positive: firm P&L < -this -> engine HALTED
    max_daily_loss_per_strategy: Decimal | None = None        # currency, positive: strategy P&L < -this -> HALTED
    # -- warnings: checks (names in SOFT_CHECKS) whose refusal an order's explicit override may pass --
    soft_checks: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name, smallest in _INT_LIMITS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an integer or None, got {value!r}")
            if value < smallest:
                raise ValueError(f"{name} must be >= {smallest}, got {value}")
        for name in _DECIMAL_LIMITS:
            value = getattr(self, name)
            if value is None:
                continue
            number = _to_decimal(value, name)
            if number <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
            object.__setattr__(self, name, number)
        for name in _RATE_LIMITS:
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, Rate):
                    object.__setattr__(self, name, format_rate(value))
                else:
                    parse_rate(value)
        policy = self.market_order_policy
        if policy is not None and policy not in MARKET_ORDER_POLICIES:
            raise ValueError(f"market_order_policy must be None, 'ban' or 'protect', got {policy!r}")
        if self.soft_checks is not None:
            object.__setattr__(self, "soft_checks", _soft_checks(self.soft_checks))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every limit's name, in declaration order."""
        return tuple(f.name for f in fields(cls))

    def rate(self, name: str) -> Rate | None:
        """A rate limit parsed: ``limits.rate("max_order_submit_rate")``."""
        value = getattr(self, name)
        return None if value is None else parse_rate(value)

    def active(self) -> dict[str, Any]:
        """The limits that are on, by name."""
        return {name: getattr(self, name) for name in self.names() if getattr(self, name) is not None}


def _soft_checks(value: Any) -> tuple[str, ...]:
    """Check names as a sorted tuple (TOML gives a list); an unknown or never-soft name raises."""
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise TypeError(f"soft_checks must be a list of check names, got {value!r}")
    for name in value:
        if name not in SOFT_CHECKS:
            raise ValueError(f"soft_checks: {name!r} cannot be soft; choose from {', '.join(SOFT_CHECKS)}")
    return tuple(sorted(set(value)))


def _to_decimal(value: Any, name: str) -> Decimal:
    """An exact Decimal from int, str or Decimal; floats and junk raise."""
    if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, (int, str, Decimal)):
        raise TypeError(f"{name} must be an int, a decimal string or a Decimal (never a float), got {value!r}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{name} is not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class LimitChange:
    """A run-time change of one limit (or of ``enabled``): for the What Changed timeline."""

    time_ns: int
    who: str
    what: str
    old: Any
    new: Any
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StateChange:
    """A trading-state transition of the engine (``scope="engine"``) or of one strategy."""

    time_ns: int
    scope: str
    old: TradingState
    new: TradingState
    reason_code: str
    text: str
    who: str
