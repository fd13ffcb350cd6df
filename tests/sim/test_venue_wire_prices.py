"""The gateway's cached price conversions and quantity parsing give the exact conversions' answers."""

from __future__ import annotations

import random
from decimal import Decimal, InvalidOperation

import pytest

from sim.instruments import Instrument, InstrumentError
from sim.venue_gateway import MAX_WIRE_INT, _BadValue, _qty
from sim.wire_prices import WirePrices, avg_px_text

TICKS = ["0.01", "0.25", "1", "0.0001", "5", "0.010", "100", "0.00000001", "12.5", "0.0000000001"]


def _outcome(fn, *args):
    try:
        return fn(*args)
    except (InstrumentError, InvalidOperation) as exc:
        return type(exc), str(exc)


@pytest.mark.parametrize("tick", TICKS)
def test_cached_conversions_equal_the_instruments_own(tick):
    instrument = Instrument.create("X", tick, "100" if Decimal(tick) <= 100 else tick)
    prices = WirePrices().of(instrument)
    rng = random.Random(tick)
    for _ in range(3000):
        cum_qty = rng.choice([1, 2, 3, 7, 100, rng.randint(1, 10**6), rng.randint(1, 10**12)])
        if rng.random() < 0.5:  # a whole number of ticks on average: the cached case
            notional = rng.choice([rng.randint(1, 20000), rng.randint(1, 10**12), rng.randint(1, MAX_WIRE_INT)]) * cum_qty
        else:
            notional = rng.choice([rng.randint(0, 10**9), rng.randint(0, 10**19), rng.randint(0, 2**120)])
        for _ in range(2):  # the second time from the cache
            assert _outcome(prices.avg_px, notional, cum_qty) == _outcome(avg_px_text, instrument, notional, cum_qty)
        ticks = rng.randint(-5, 10**7)
        assert prices.to_price(ticks) == prices.to_price(ticks) == instrument.to_price(ticks)
        raw = rng.choice([b"%d" % rng.randint(0, 10**6), b"%d.%02d" % (rng.randint(0, 999), rng.randint(0, 99)),
                          b"abc", b"1e3", b"-1.5", b"0.001", b"100.000", b"9" * 40])
        assert _outcome(prices.to_ticks, raw) == _outcome(prices.to_ticks, raw) == _outcome(instrument.to_ticks, raw)


def test_a_changed_instrument_gets_fresh_conversions():
    prices = WirePrices()
    old = Instrument.create("X", "0.01", "100")
    assert prices.of(old).to_ticks(b"100.25") == 10025 and prices.of(old).to_price(10025) == "100.25"
    new = old.with_changes(tick_size=Decimal("0.25"), reference_ticks=400)
    assert prices.of(new).to_ticks(b"100.25") == 401 and prices.of(new).to_price(401) == "100.25"
    assert prices.of(new).avg_px(401, 1) == "100.25"


def test_the_caches_are_bounded(monkeypatch):
    import sim.wire_prices as wire_prices

    monkeypatch.setattr(wire_prices, "_MAX_ENTRIES", 16)
    prices = WirePrices().of(Instrument.create("X", "0.01", "100"))
    for i in range(1, 100):
        prices.to_ticks(b"%d" % i)
        prices.to_price(i)
        prices.avg_px(i, 1)
    assert max(len(prices.ticks), len(prices.text), len(prices.avg)) <= 16


def _qty_reference(raw: bytes) -> int | None:
    """The Decimal rule _qty applied before its digits shortcut; None when it rejects."""
    try:
        value = Decimal(raw.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):
        return None
    if value != value.to_integral_value() or value <= 0 or value > MAX_WIRE_INT:
        return None
    return int(value)


@pytest.mark.parametrize("raw", [b"1", b"10", b"0010", b"10.0", b"10.5", b"0", b"000", b"-1", b"1e3", b"",
                                 b"999999999999999999", b"9223372036854775807", b"9223372036854775808",
                                 b"\xd9\xa1", b" 5", b"5 "])
def test_quantity_shortcut_agrees_with_the_decimal_rule(raw):
    try:
        got = _qty(raw, 38)
    except _BadValue:
        got = None
    assert got == _qty_reference(raw)
