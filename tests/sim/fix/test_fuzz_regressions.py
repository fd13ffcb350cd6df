"""Regressions for what the long fuzz campaign (``make fuzz``, ``bench/fuzz_campaign.py``) found.

Each test replays the campaign's input as plain FIX through the same entry point (a venue session,
or an acceptor session), so it does not depend on the campaign's generators.

* Crashes (fixed): a quantity or a price in ticks beyond a signed 64-bit integer was booked and then
  broke the venue's own ExecutionReport (encode refused a 4,301-digit integer; AvgPx raised
  ``decimal.InvalidOperation``), so the owner got BusinessMessageReject "Application error" for an
  order that lived in the book.
* Findings that were not crashes (nested groups dropped by the echo's canonical order, an empty
  Symbol(55) in a reject, a price rounded onto the tick grid by Decimal's 28 digits): fixed, and
  kept here as regressions.  See ``bench/results/fuzz.md``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.fix.dictionary import Dictionary
from sim.fix.validation import validate
from sim.venue import Venue
from sim.venue_config import load_venue_config
from sim.venue_gateway import MAX_WIRE_INT
from tests.sim.fix.fixtools import Counterparty
from tests.sim.venue_wire import T, Wire

PROBE = Path(__file__).resolve().parents[3] / "examples" / "venue-probe.toml"
T0 = 1_767_346_200_000_000_000
FIX44 = Dictionary.for_begin_string("FIX.4.4")


@pytest.fixture
def wires() -> tuple[Venue, Wire, Wire]:
    """The probe venue with firms A and B logged on."""
    venue = Venue(load_venue_config(PROBE), now_ns=lambda: T0)
    a, b = Wire(venue, "A"), Wire(venue, "B")
    a.connect_and_logon()
    b.connect_and_logon()
    return venue, a, b


def order(cl_ord_id: str, side: int, qty: str, price: str | None = None) -> list[tuple[int, object]]:
    """A NewOrderSingle body: limit when ``price`` is given, else market."""
    body: list[tuple[int, object]] = [(11, cl_ord_id), (21, 1), (38, qty), (40, 2 if price else 1)]
    if price is not None:
        body.append((44, price))
    return body + [(54, side), (55, "PRB"), (60, T)]


def only_reply(wire: Wire):
    """The one message the last request produced (and it validates against FIX 4.4)."""
    replies = wire.unread()
    assert len(replies) == 1, [m.fields for m in replies]
    assert validate(replies[0], FIX44) is None, replies[0]
    return replies[0]


# -- crashes found and fixed ------------------------------------------------------------------------


@pytest.mark.parametrize("qty", ["9" * 5000, "1" + "0" * 4400, str(MAX_WIRE_INT + 1)])
def test_a_quantity_beyond_64_bits_is_a_rejected_report_not_a_booked_order(wires, qty):
    venue, a, _ = wires
    a.send("D", order("Q1", 1, qty, "100.00"))
    report = only_reply(a)
    assert report.msg_type() == b"8" and report.get(150) == b"8" and report.get(103) == b"13"
    assert b"too large" in report.get(58)
    assert not venue.exchange.open_orders.get("A")


@pytest.mark.parametrize("price, why", [
    ("9" * 40, b"40 characters; at most 32"),  # was rounded to 1E+40, booked, and its fill crashed AvgPx
    ("1" + "0" * 25 + ".00", b"not a usable price"),  # 28 significant digits: beyond what Decimal divides exactly
    ("9" * 20, b"too large"),  # a usable price, on the grid, but 10**22 ticks do not fit 64 bits
])
def test_a_price_beyond_64_bit_ticks_is_rejected_and_nothing_can_trade_against_it(wires, price, why):
    venue, a, b = wires
    a.send("D", order("P1", 2, "10", price))
    report = only_reply(a)
    assert report.get(150) == b"8" and report.get(103) == b"99" and why in report.get(58)
    b.send("D", order("M1", 1, "10"))
    assert [m.get(150) for m in b.unread()] == [b"0", b"4"]  # nothing to lift: accepted, then cancelled
    assert a.unread() == []


def test_a_replace_to_a_quantity_beyond_64_bits_gets_an_order_cancel_reject(wires):
    venue, a, _ = wires
    a.send("D", order("R1", 1, "10", "100.00"))
    assert only_reply(a).get(150) == b"0"
    a.send("G", [(11, "R2"), (41, "R1"), (21, 1), (38, "9" * 30), (40, 2), (44, "100.00"), (54, 1), (55, "PRB"),
                 (60, T)])
    reject = only_reply(a)
    assert reject.msg_type() == b"9" and reject.get(434) == b"2" and b"too large" in reject.get(58)
    assert venue.exchange.open_orders["A"][1].order_qty == 10


def test_the_largest_order_at_the_largest_price_trades_and_reports(wires):
    # The bound itself must be safe all the way through a fill: quantity and notional render, AvgPx quantizes.
    _, a, b = wires
    top = f"{MAX_WIRE_INT // 100}.{MAX_WIRE_INT % 100:02d}"
    a.send("D", order("BIG", 2, str(MAX_WIRE_INT), top))
    assert only_reply(a).get(150) == b"0"
    b.send("D", order("LIFT", 1, str(MAX_WIRE_INT)))
    fills = [m for m in b.unread() if m.get(150) == b"F"]
    assert fills and fills[0].get(31) == top.encode() and fills[0].get(14) == str(MAX_WIRE_INT).encode()
    assert all(validate(m, FIX44) is None for m in fills + a.unread())


# -- findings that were not crashes (fixed) ------------------------------------------------------------


def test_the_echo_keeps_nested_repeating_group_entries():
    tw = Counterparty()
    tw.logon()
    [echo] = tw.send("D", [(11, "N1"), (40, "1"), (54, "1"), (60, T), (453, 1), (448, "A"), (447, "G"), (802, 2),
                           (523, "X"), (803, 1), (523, "Y"), (803, 2)])
    assert validate(echo, FIX44) is None and echo.get_all(523) == [b"X", b"Y"]


def test_an_unsupported_order_type_is_rejected_with_a_fix44_reason(wires):
    _, a, _ = wires
    a.send("D", [(11, "U1"), (21, 1), (38, 10), (40, 3), (44, "100.00"), (54, 1), (55, "PRB"), (60, T)])
    only_reply(a)


def test_an_order_without_a_symbol_is_rejected_with_a_well_formed_report(wires):
    _, a, _ = wires
    a.send("D", [(11, "S1"), (21, 1), (38, 10), (40, 2), (44, "100.00"), (54, 1), (60, T)])
    only_reply(a)


def test_a_price_with_more_than_28_digits_is_not_rounded_onto_the_grid(wires):
    venue, a, _ = wires
    a.send("D", order("X1", 1, "10", "99.999999999999999999999999999"))
    assert only_reply(a).get(150) == b"8"
    assert not venue.exchange.open_orders.get("A")
