"""The publisher's own bookkeeping: prices rendered on the instrument's current grid, the shown top."""

from __future__ import annotations

from sim.instruments import Instrument, InstrumentTable
from sim.marketdata import MarketDataPublisher, Subscription
from sim.venue_events import BookChange


class _Session:
    """Records what the publisher sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, list]] = []

    def send(self, msg_type: bytes, body: list) -> None:
        self.sent.append((msg_type, body))


def _publisher():
    table = InstrumentTable([Instrument.create("PRB", "0.01", "100.00")])
    publisher = MarketDataPublisher(table, lambda symbol: {})
    session = _Session()
    publisher.subscriptions["PRB"] = [Subscription(session, b"md1", "PRB", frozenset({b"0", b"1", b"2"}))]
    return publisher, table, session


def _prices(session: _Session) -> list:
    return [value for _type, body in session.sent for tag, value in body if tag == 270]


def test_prices_are_rendered_on_the_grid_in_force_after_a_tick_size_change():
    publisher, table, session = _publisher()
    publisher.on_change(BookChange("PRB", ((1, 401, 5),), ((401, 1),)))
    table.replace(Instrument.create("PRB", "0.25", "100.00"))   # rendered prices are cached per definition
    publisher.on_change(BookChange("PRB", ((1, 401, 6),), ((401, 1),)))
    assert _prices(session) == ["4.01", "4.01", "100.25", "100.25"]


def test_the_shown_top_follows_levels_coming_and_going_and_feed_faults():
    publisher, _table, _session = _publisher()
    assert publisher.shown_top("PRB") == (None, None)
    publisher.on_change(BookChange("PRB", ((1, 99, 5), (1, 98, 5), (2, 101, 5), (2, 102, 5)), ()))
    assert publisher.shown_top("PRB") == (99, 101)
    publisher.on_change(BookChange("PRB", ((1, 99, 0), (2, 102, 0)), ()))  # best bid goes, a worse ask goes
    assert publisher.shown_top("PRB") == (98, 101)
    publisher.on_change(BookChange("PRB", ((1, 100, 1),), ()))
    publisher.set_fault("PRB", corrupt_ticks=2, crossed_ticks=3)
    assert publisher.shown_top("PRB") == (105, 103)
    publisher.on_change(BookChange("PRB", ((1, 100, 0), (1, 98, 0), (2, 101, 0)), ()))
    assert publisher.shown_top("PRB") == (None, None)
