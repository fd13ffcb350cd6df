"""Instruments: what a venue lists and the yardsticks risk checks measure orders against.

Prices live as integer ticks everywhere inside marketdrill; the only place a decimal price exists
is the wire (FIX) and files people write (TOML).  Conversion goes through :class:`decimal.Decimal`
built from the *string*, never a float, so "100.07" with a 0.01 tick is exactly 10007 ticks and an
off-grid price is refused instead of rounded.

An instrument file is TOML with one ``[[instrument]]`` table per symbol::

    [[instrument]]
    symbol = "ESZ6"
    tick_size = "0.25"          # a string: a TOML float would already have lost exactness
    lot_size = 1
    currency = "USD"
    reference_price = "5000.00"
    band_tier = 1               # LULD-style tier: 1 (5 % band) or 2 (10 %)
    shares_outstanding = 0      # fat-finger yardsticks; 0 = unknown
    average_daily_volume = 1500000
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sim.tomlfile import read_toml


class InstrumentError(ValueError):
    """A bad instrument definition or price: the message names where and what was wrong."""


def _parse_decimal(text: str, what: str) -> Decimal:
    """Parse a decimal string exactly; floats are refused because they are already inexact."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise InstrumentError(f"{what} must be a decimal string such as \"0.01\", got {text!r}")
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InstrumentError(f"{what} is not a decimal number: {text!r}") from None
    if not value.is_finite():
        raise InstrumentError(f"{what} must be finite, got {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class Instrument:
    """A listed instrument: symbol, price grid, lot, reference price and fat-finger yardsticks."""

    symbol: str
    tick_size: Decimal
    reference_ticks: int
    lot_size: int = 1
    currency: str = "USD"
    band_tier: int = 1
    shares_outstanding: int = 0
    average_daily_volume: int = 0
    _decimals: int = field(default=0, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.symbol or not self.symbol.isprintable() or " " in self.symbol:
            raise InstrumentError(f"symbol must be a non-empty printable word, got {self.symbol!r}")
        if self.tick_size <= 0:
            raise InstrumentError(f"{self.symbol}: tick_size must be positive, got {self.tick_size}")
        if self.lot_size <= 0:
            raise InstrumentError(f"{self.symbol}: lot_size must be a positive integer, got {self.lot_size}")
        if self.band_tier not in (1, 2):
            raise InstrumentError(f"{self.symbol}: band_tier must be 1 or 2, got {self.band_tier}")
        if self.reference_ticks <= 0:
            raise InstrumentError(f"{self.symbol}: reference price must be positive, got {self.reference_ticks} ticks")
        for name in ("shares_outstanding", "average_daily_volume"):
            if getattr(self, name) < 0:
                raise InstrumentError(f"{self.symbol}: {name} must not be negative")
        exponent = self.tick_size.normalize().as_tuple().exponent
        object.__setattr__(self, "_decimals", max(0, -int(exponent)))

    @classmethod
    def create(cls, symbol: str, tick_size: str, reference_price: str, **kwargs: Any) -> Instrument:
        """Build an instrument from decimal strings (the readable way, used by files and tests).

        >>> Instrument.create("PRB", "0.01", "100.00").reference_ticks
        10000
        """
        tick = _parse_decimal(tick_size, f"{symbol}: tick_size")
        if tick <= 0:
            raise InstrumentError(f"{symbol}: tick_size must be positive, got {tick_size!r}")
        ref = _ticks_of(_parse_decimal(reference_price, f"{symbol}: reference_price"), tick, f"{symbol}: reference_price")
        return cls(symbol=symbol, tick_size=tick, reference_ticks=ref, **kwargs)

    @property
    def decimals(self) -> int:
        """Number of decimal places a price on this instrument's grid needs."""
        return self._decimals

    def to_ticks(self, price: str | bytes | Decimal) -> int:
        """Convert a decimal price to integer ticks exactly; off-grid prices raise InstrumentError.

        >>> Instrument.create("PRB", "0.01", "100.00").to_ticks("100.07")
        10007
        """
        if isinstance(price, bytes):
            price = price.decode("ascii", "replace")
        if isinstance(price, str) and len(price) > _MAX_PRICE_CHARS:
            # refused before Decimal sees it: a 5,000-digit price is never a price, and working on one
            # (parsing, digit tuples) fragmented the venue's heap under the fuzz campaign
            raise InstrumentError(f"{self.symbol}: price has {len(price):,} characters; at most {_MAX_PRICE_CHARS}")
        value = price if isinstance(price, Decimal) else _parse_decimal(price, f"{self.symbol}: price")
        return _ticks_of(value, self.tick_size, f"{self.symbol}: price")

    def to_price(self, ticks: int) -> str:
        """Render integer ticks as a decimal string on the tick grid.

        >>> Instrument.create("ESZ6", "0.25", "5000").to_price(20001)
        '5000.25'
        """
        value = self.tick_size * ticks
        return f"{value:.{self._decimals}f}"

    def to_decimal(self, ticks: int) -> Decimal:
        """Integer ticks as an exact Decimal price."""
        return self.tick_size * ticks

    def with_changes(self, **changes: Any) -> Instrument:
        """A copy with some fields changed (an exchange-driven change such as a new tick size)."""
        values = {name: getattr(self, name) for name in (
            "symbol", "tick_size", "reference_ticks", "lot_size", "currency", "band_tier",
            "shares_outstanding", "average_daily_volume")}
        values.update(changes)
        return Instrument(**values)


_MAX_DIGITS = 20  # significant digits (and exponent) of a usable price: Decimal divides these exactly
_MAX_PRICE_CHARS = 32  # longest price text to_ticks parses


def _ticks_of(value: Decimal, tick: Decimal, what: str) -> int:
    """Exact division of a price by the tick size; anything off the grid is an error."""
    if not value.is_finite():
        raise InstrumentError(f"{what} {_shown(value)} is not a usable price")
    _sign, digits, exponent = value.as_tuple()
    if len(digits) > _MAX_DIGITS or exponent > _MAX_DIGITS or exponent < -_MAX_DIGITS:
        # Decimal divides to 28 significant digits and rounds silently (99.999999999999999999999999999
        # / 0.01 came out as exactly 10000 ticks); no market quotes a price this long, so refuse it.
        raise InstrumentError(f"{what} {_shown(value)} is not a usable price (at most {_MAX_DIGITS} "
                              "significant digits)")
    quotient = value / tick
    if quotient != quotient.to_integral_value():
        raise InstrumentError(f"{what} {_shown(value)} is not on the {tick} tick grid")
    return int(quotient)


def _shown(value: Decimal) -> str:
    """A price for an error message: a 5,000-digit one would make a 5 KB Text(58) in every reject."""
    if value.is_finite() and value.adjusted() >= 32:
        return f"with {value.adjusted() + 1:,} digits"
    text = str(value)
    return text if len(text) <= 32 else f"{text[:16]}...{text[-8:]} ({len(text)} characters)"


_FIELDS = {
    "symbol": str,
    "tick_size": str,
    "reference_price": str,
    "lot_size": int,
    "currency": str,
    "band_tier": int,
    "shares_outstanding": int,
    "average_daily_volume": int,
}
_REQUIRED = ("symbol", "tick_size", "reference_price")


class InstrumentTable:
    """The instruments a venue lists, by symbol, in the order they were defined."""

    def __init__(self, instruments: list[Instrument] | tuple[Instrument, ...] = ()) -> None:
        self._by_symbol: dict[str, Instrument] = {}
        for instrument in instruments:
            self.add(instrument)

    def add(self, instrument: Instrument) -> None:
        """List a new instrument; a symbol listed twice is an error."""
        if instrument.symbol in self._by_symbol:
            raise InstrumentError(f"instrument {instrument.symbol!r} is defined twice")
        self._by_symbol[instrument.symbol] = instrument

    def replace(self, instrument: Instrument) -> Instrument:
        """Swap in a changed definition for an existing symbol; returns the old one."""
        old = self.get(instrument.symbol)
        self._by_symbol[instrument.symbol] = instrument
        return old

    def remove(self, symbol: str) -> Instrument:
        """Delist a symbol; returns its last definition."""
        old = self.get(symbol)
        del self._by_symbol[symbol]
        return old

    def get(self, symbol: str) -> Instrument:
        """The instrument for a symbol; an unknown symbol raises InstrumentError naming it."""
        try:
            return self._by_symbol[symbol]
        except KeyError:
            known = ", ".join(self._by_symbol) or "none"
            raise InstrumentError(f"unknown symbol {symbol!r} (listed: {known})") from None

    def find(self, symbol: str) -> Instrument | None:
        """The instrument for a symbol, or None if it is not listed (the order path's look-up)."""
        return self._by_symbol.get(symbol)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __iter__(self):
        return iter(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)

    @property
    def symbols(self) -> list[str]:
        """Symbols in definition order."""
        return list(self._by_symbol)

    @classmethod
    def from_toml(cls, path: str | Path) -> InstrumentTable:
        """Load ``[[instrument]]`` tables from a TOML file; errors name the file, entry and field."""
        document = read_toml(path, InstrumentError, "instrument file")
        return cls.from_dicts(document.get("instrument", []), source=str(path))

    @classmethod
    def from_dicts(cls, entries: Any, source: str = "<instruments>") -> InstrumentTable:
        """Build a table from a list of plain dicts (the parsed ``[[instrument]]`` array)."""
        if not isinstance(entries, list) or not entries:
            raise InstrumentError(f"{source}: expected at least one [[instrument]] table")
        table = cls()
        for index, entry in enumerate(entries, start=1):
            where = f"{source}: [[instrument]] #{index}"
            if not isinstance(entry, dict):
                raise InstrumentError(f"{where}: expected a table, got {type(entry).__name__}")
            if "symbol" in entry:
                where += f" ({entry['symbol']})"
            table.add(_instrument_from_dict(entry, where))
        return table


def _instrument_from_dict(entry: dict[str, Any], where: str) -> Instrument:
    """Check one ``[[instrument]]`` table's keys and types, then build the Instrument."""
    for key in entry:
        if key not in _FIELDS:
            hint = difflib.get_close_matches(key, list(_FIELDS), n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise InstrumentError(f"{where}: unknown field {key!r}{suggestion}")
    for key in _REQUIRED:
        if key not in entry:
            raise InstrumentError(f"{where}: required field {key!r} is missing")
    for key, kind in _FIELDS.items():
        if key not in entry:
            continue
        value = entry[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise InstrumentError(f"{where}: field {key!r} must be an integer, got {value!r}")
        if kind is str and not isinstance(value, str):
            hint = " (write decimals as strings, e.g. \"0.01\", so they stay exact)" if isinstance(value, float) else ""
            raise InstrumentError(f"{where}: field {key!r} must be a string, got {value!r}{hint}")
    extra = {k: entry[k] for k in _FIELDS if k in entry and k not in _REQUIRED}
    try:
        return Instrument.create(entry["symbol"], entry["tick_size"], entry["reference_price"], **extra)
    except InstrumentError as exc:
        raise InstrumentError(f"{where}: {exc}") from None
