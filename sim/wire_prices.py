"""FIX price text <-> integer ticks, cached per instrument definition.

Every order's Price(44) is parsed into ticks, and every ExecutionReport renders Price(44),
LastPx(31) and AvgPx(6) from ticks.  :class:`~sim.instruments.Instrument` does this exactly with
:class:`decimal.Decimal` (parse, divide by the tick, check the grid; multiply, format), which cost
the gateway ~5 us per order and ~3 us per report on the dev box.  A venue sees the same few
hundred prices over and over, so the results are kept per instrument.  The gateway (orders and
reports), the market-data publisher (rendering its feed) and the strategies' book view (reading
it) each keep one :class:`WirePrices`:

* ``to_ticks``: the ticks of each price text seen (successes only: a bad price takes the exact
  path again and raises the same error);
* ``to_price``: the text of each tick count;
* ``avg_px``: AvgPx when the average is a whole number of ticks (every fill at one price, the
  usual case), keyed by that tick count; any other average is computed with the exact Decimal
  formula every time.

Results are the Instrument's own (each miss calls it); a changed instrument (a new tick size) is
a new object and starts a new cache, and each cache is bounded (cleared when full) so a flood of
distinct prices cannot grow memory.
"""

from __future__ import annotations

from decimal import Decimal

from sim.instruments import Instrument

_MAX_ENTRIES = 4096
# AvgPx of a whole tick count is cached only where the Decimal formula is exact at every step
# (notional x tick within 28 significant digits), so the cached text is the formula's own result.
_EXACT_NOTIONAL = 10**18
_EXACT_TICK_DIGITS = 9


class InstrumentPrices:
    """The cached conversions of one instrument definition."""

    __slots__ = ("instrument", "ticks", "text", "avg", "avg_ok")

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.ticks: dict[bytes, int] = {}
        self.text: dict[int, str] = {}
        self.avg: dict[int, str] = {}
        self.avg_ok = len(instrument.tick_size.as_tuple().digits) <= _EXACT_TICK_DIGITS

    def to_ticks(self, raw: bytes) -> int:
        """``instrument.to_ticks(raw)`` (same result, same InstrumentError)."""
        ticks = self.ticks.get(raw)
        if ticks is None:
            ticks = self.instrument.to_ticks(raw)
            if len(self.ticks) >= _MAX_ENTRIES:
                self.ticks.clear()
            self.ticks[raw] = ticks
        return ticks

    def to_price(self, ticks: int) -> str:
        """``instrument.to_price(ticks)``."""
        text = self.text.get(ticks)
        if text is None:
            text = self.instrument.to_price(ticks)
            if len(self.text) >= _MAX_ENTRIES:
                self.text.clear()
            self.text[ticks] = text
        return text

    def avg_px(self, notional: int, cum_qty: int) -> str:
        """AvgPx text, as :func:`avg_px_text`."""
        if self.avg_ok and 0 <= notional < _EXACT_NOTIONAL and cum_qty > 0 and notional % cum_qty == 0:
            # notional / cum_qty is exactly t ticks: the formula computes t x tick exactly either way.
            t = notional // cum_qty
            text = self.avg.get(t)
            if text is None:
                text = avg_px_text(self.instrument, t, 1)
                if len(self.avg) >= _MAX_ENTRIES:
                    self.avg.clear()
                self.avg[t] = text
            return text
        return avg_px_text(self.instrument, notional, cum_qty)


def avg_px_text(instrument: Instrument, notional: int, cum_qty: int) -> str:
    """AvgPx(6) of ``notional`` ticks over ``cum_qty`` (exact Decimal formula, decimals + 4 places)."""
    avg = (Decimal(notional) * instrument.tick_size / cum_qty).quantize(
        Decimal(1).scaleb(-(instrument.decimals + 4)))
    return format(avg.normalize(), "f")


class WirePrices:
    """Cached price conversions, one :class:`InstrumentPrices` per symbol (new when the instrument changes)."""

    def __init__(self) -> None:
        self._caches: dict[str, InstrumentPrices] = {}

    def of(self, instrument: Instrument) -> InstrumentPrices:
        """The conversions of this instrument definition."""
        cache = self._caches.get(instrument.symbol)
        if cache is None or cache.instrument is not instrument:
            cache = self._caches[instrument.symbol] = InstrumentPrices(instrument)
        return cache
