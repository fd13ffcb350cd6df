"""Property: a subscriber's book rebuilt only from the W/X messages it received is the venue's book.

Hypothesis draws random order-entry flow from three firms (Day limit, IOC, FOK and market orders,
cancels, replaces, also of orders that are done or unknown) and market-data subscriptions made at
the start and midway.  Everything goes through the real path, in-process: FIX bytes into the
venue's sessions (:mod:`tests.sim.venue_wire`), the gateway, the Exchange, the
MarketDataPublisher, FIX bytes out.  The subscriber's book is built from the decoded messages
alone (W: 269/270/271 entries; X: 279/269/270/271 entries, applied strictly: a "new" level must
be new, a "change" or "delete" must name a level the subscriber has) and compared, after *every*
command, with ``exchange.levels(symbol)``: the feed is neither conflated nor late.

With a feed fault (freeze, or a gap dropping every other update) the subscribers' books stop
following (stale), and lifting the fault resynchronises them to the venue's book.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.clock import VirtualClock
from sim.fix.codec import FixMessage
from sim.venue import Venue
from sim.venue_config import load_venue_config
from tests.sim.venue_wire import OrderFlow, Wire, check_valid, f, market_data_request

PROBE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "venue-probe.toml"
SYMBOL = "PRB"
FIRMS = ("A", "B", "C")
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the flow ----------------------------------------------------------------------------------

firm = st.sampled_from(FIRMS)
offset = st.integers(-4, 4)          # ticks from 100.00
quantity = st.integers(1, 20)
time_in_force = st.sampled_from(["day", "day", "day", "ioc", "fok", "market"])
new_order = st.tuples(st.just("new"), firm, st.sampled_from([1, 2]), time_in_force, quantity, offset)
cancel = st.tuples(st.just("cancel"), firm, st.integers(0, 40))
replace = st.tuples(st.just("replace"), firm, st.integers(0, 40), quantity, offset)
subscribe = st.tuples(st.just("subscribe"), firm, st.booleans())
flow = st.lists(st.one_of(new_order, new_order, new_order, cancel, replace, replace, subscribe), min_size=10, max_size=60)


class Market:
    """A fresh probe venue with firms A, B, C logged on, and the subscribers' rebuilt books."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.venue = Venue(load_venue_config(PROBE_CONFIG), now_ns=self.clock.now_ns,
                           schedule=lambda delay, fn: self.clock.call_later(delay, fn))
        self.instrument = self.venue.exchange.instruments.get(SYMBOL)
        self.wires = {name: Wire(self.venue, name) for name in FIRMS}
        for wire in self.wires.values():
            wire.connect_and_logon()
        self.flow = OrderFlow(self.wires, SYMBOL)
        self.subscribers: list[Subscriber] = []

    def book(self) -> dict[tuple[int, int], int]:
        return self.venue.exchange.levels(SYMBOL)

    def subscribe(self, name: str, trades: bool = False) -> Subscriber:
        sub = Subscriber(self, self.wires[name], f"md{len(self.subscribers)}", trades)
        self.wires[name].send("V", market_data_request(sub.md_req_id, [SYMBOL], trades=trades))
        self.subscribers.append(sub)
        return sub

    def run(self, command: tuple) -> None:
        if command[0] == "subscribe":
            self.subscribe(command[1], trades=command[2])
        else:
            self.flow.run(command)
        self.pump()

    def pump(self) -> None:
        """Read every wire: the order flow learns replaced ClOrdIDs, subscribers update their books."""
        for name, wire in self.wires.items():
            for message in wire.unread():
                self.flow.observe(name, message)
                for sub in self.subscribers:
                    if sub.wire is wire:
                        sub.read(message)

    def check_valid(self) -> None:
        for wire in self.wires.values():
            check_valid(wire.inbox, "FIX.4.4")


class Subscriber:
    """One MarketDataRequest's view of the book, from its W and X messages only."""

    def __init__(self, market: Market, wire: Wire, md_req_id: str, trades: bool) -> None:
        self.market = market
        self.wire = wire
        self.md_req_id = md_req_id
        self.trades = trades
        self.book: dict[tuple[int, int], int] | None = None   # None until the snapshot arrives
        self.traded = 0

    def read(self, message: FixMessage) -> None:
        kind = message.msg_type()
        if kind not in (b"W", b"X") or f(message, 262) != self.md_req_id:
            return
        delimiter = 269 if kind == b"W" else 279
        entries = split_group(message, 268, delimiter)
        assert len(entries) == int(f(message, 268)), message.fields
        if kind == b"W":
            assert self.book is None, "a second snapshot"
            assert f(message, 55) == SYMBOL
            self.book = {}
            for entry in entries:
                key = (self._side(entry[269]), self._ticks(entry[270]))
                assert key not in self.book and int(entry[271]) > 0, message.fields
                self.book[key] = int(entry[271])
            return
        assert self.book is not None, "an incremental refresh before the snapshot"
        for entry in entries:
            if entry[269] == b"2":
                assert self.trades, "a trade entry nobody asked for"
                self.traded += int(entry[271])
                continue
            key = (self._side(entry[269]), self._ticks(entry[270]))
            action = entry[279]
            if action == b"0":
                assert key not in self.book, f"'new' for a level the subscriber has: {message.fields}"
                self.book[key] = int(entry[271])
            elif action == b"1":
                assert key in self.book, f"'change' of a level the subscriber does not have: {message.fields}"
                self.book[key] = int(entry[271])
            else:
                assert action == b"2" and key in self.book, f"bad delete: {message.fields}"
                del self.book[key]
            assert action == b"2" or self.book[key] > 0

    def _side(self, entry_type: bytes) -> int:
        assert entry_type in (b"0", b"1")
        return 1 if entry_type == b"0" else 2

    def _ticks(self, px: bytes) -> int:
        return self.market.instrument.to_ticks(px)


def split_group(message: FixMessage, count_tag: int, delimiter: int) -> list[dict[int, bytes]]:
    """The entries of a repeating group as dicts (a repeated tag inside one entry is an error)."""
    entries: list[dict[int, bytes]] = []
    inside = False
    for tag, value in message.fields:
        if tag == count_tag:
            inside = True
            continue
        if not inside or tag == 10:
            continue
        if tag == delimiter:
            entries.append({})
        assert entries, f"group field {tag} before the delimiter {delimiter}: {message.fields}"
        assert tag not in entries[-1], f"tag {tag} twice in one entry: {message.fields}"
        entries[-1][tag] = value
    return entries


# -- properties --------------------------------------------------------------------------------


@SETTINGS
@given(commands=flow)
def test_every_subscriber_book_rebuilt_from_w_and_x_equals_the_venue_book_after_every_command(commands):
    market = Market()
    first = market.subscribe("A", trades=True)
    market.pump()
    assert first.book == {}
    for command in commands:
        market.run(command)
        for sub in market.subscribers:
            assert sub.book == market.book(), (sub.md_req_id, command)
    # Trades: every execution shows once on the feed; each has two ExecutionReports (buyer, seller).
    fills = sum(int(f(m, 32)) for w in market.wires.values() for m in w.of_type("8") if f(m, 150) == "F")
    assert 2 * first.traded == fills
    market.check_valid()


@settings(SETTINGS, max_examples=60)
@given(commands=flow)
def test_the_top_the_publisher_shows_is_the_best_bid_and_ask_of_the_book_after_every_command(commands):
    # shown_top is kept as levels change (not rescanned): removing the best level must find the next
    market = Market()
    market.subscribe("A")
    for command in commands:
        market.run(command)
        book = market.book()
        bids = [p for (side, p), q in book.items() if side == 1 and q]
        asks = [p for (side, p), q in book.items() if side == 2 and q]
        top = (max(bids) if bids else None, min(asks) if asks else None)
        assert market.venue.publisher.shown_top(SYMBOL) == top, command


@settings(SETTINGS, max_examples=60)
@given(before=flow, during=flow, after=flow, fault=st.sampled_from(["freeze", "gap"]),
       late=st.sampled_from(FIRMS))
def test_a_faulty_feed_goes_stale_and_lifting_the_fault_resyncs_every_subscriber(before, during, after, fault,
                                                                                late):
    market = Market()
    market.subscribe("A")
    for command in before:
        market.run(command)
    publisher = market.venue.publisher
    at_fault = market.book()
    publisher.set_fault(SYMBOL, **({"frozen": True} if fault == "freeze" else {"drop_every": 2}))
    for command in during:
        market.run(command)
        if fault == "freeze":
            assert all(sub.book == at_fault for sub in market.subscribers), "a frozen feed moved"
    market.subscribe(late)  # subscribes while the feed is broken: gets the stale view, consistently
    market.pump()
    assert market.subscribers[-1].book == market.subscribers[0].book
    publisher.set_fault(SYMBOL, **({"frozen": False} if fault == "freeze" else {"drop_every": 0}))
    market.pump()
    for sub in market.subscribers:
        assert sub.book == market.book(), sub.md_req_id
    for command in after:
        market.run(command)
        for sub in market.subscribers:
            assert sub.book == market.book(), (sub.md_req_id, command)
    market.check_valid()


def test_a_frozen_feed_is_stale_while_the_book_moves_and_resyncs_when_lifted():
    """The same property on one fixed story, so a reader sees the staleness happen."""
    market = Market()
    sub = market.subscribe("C")
    market.run(("new", "A", 2, "day", 10, 5))
    assert sub.book == market.book() == {(2, 10005): 10}
    market.venue.publisher.set_fault(SYMBOL, frozen=True)
    market.run(("new", "B", 1, "ioc", 4, 5))       # trades 4 against A's offer
    market.run(("new", "A", 1, "day", 3, -1))      # a new bid
    assert market.book() == {(2, 10005): 6, (1, 9999): 3}
    assert sub.book == {(2, 10005): 10}            # stale
    market.venue.publisher.set_fault(SYMBOL, frozen=False)
    market.pump()
    assert sub.book == market.book()
