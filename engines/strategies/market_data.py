"""A strategy's view of the market, built from the venue's FIX market data as a subscriber sees it.

Why from FIX and not from the venue's book: feed faults (frozen, gapped, delayed, corrupt, crossed)
are applied by :mod:`sim.marketdata` to what *subscribers* receive, never to the matching engine.
A strategy that read the venue's book directly could not be fooled by a frozen feed, and the stale
quoter of :mod:`engines.strategies.faulty` would be untestable.  So a strategy sees only what its
engine's FIX session was sent: a MarketDataSnapshotFullRefresh (W) per symbol, then
MarketDataIncrementalRefresh (X) entries per price level (MDUpdateAction 0 new / 1 change /
2 delete, MDEntryType 0 bid / 1 offer, the level's new total) and trades (MDEntryType 2).

Pieces, one concept each:

* :class:`BookView` - one symbol's price levels as last told, ``last_update_ns`` (the time the
  last W/X for it *arrived*: a frozen feed lets it age), traded volume on the tape, and the
  derived best bid/offer, mid, spread, crossed flag.  ``best(side, exclude=...)`` drops the
  strategy's own resting quantity, so a market maker does not chase its own quotes.
* :class:`MarketDataClient` - parses W/X/Y into books; builds the MarketDataRequest (V).
* :class:`MarketDataTap` - a FIX :class:`~sim.fix.session.Application` wrapped around an
  :class:`~engines.order_engine.OrderEngine`: W/X/Y go to the client, everything else to the
  engine unchanged; on (re)logon it re-subscribes.  This is the order engine's own session, so no
  extra venue session or config is needed.
* :func:`feed_for` - install a tap on an engine once (or reuse it) and subscribe symbols; the
  returned :class:`EngineFeed` is what strategies take as ``feed``.

Design note (why a tap and not a hook in the engine): ``OrderEngine.from_app`` ignores W/X and
raises BusinessReject on Y.  Wrapping the session's application needs no change to the engine; the
clean alternative is a ``market_data_listeners`` hook in ``OrderEngine.from_app`` (see the module
report): with it :class:`MarketDataTap` becomes a plain listener and nothing else here changes.

Times are integer ns from the injected ``now_ns`` (the loop's clock); prices integer ticks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sim.fix.codec import FixMessage
from sim.fix.session import Session
from sim.instruments import InstrumentError, InstrumentTable
from sim.wire_prices import WirePrices

__all__ = ["BookView", "MarketDataClient", "MarketDataTap", "EngineFeed", "feed_for", "Feed"]

BID, ASK = 1, 2
_MD_TYPES = (b"W", b"X", b"Y")


@dataclass(slots=True)
class BookView:
    """One symbol's book as the feed last told it (price levels, not orders), and its tape.

    ``last_update_ns`` is None until the snapshot arrives; ``age_ns(now)`` is how long ago the
    last W or X for this symbol arrived (None if never).  ``volume`` counts every trade entry seen
    since the subscription (a frozen feed hides trades too).  ``errors`` counts entries that could
    not be applied (unparseable price or quantity).
    """

    symbol: str
    bids: dict[int, int] = field(default_factory=dict)   # price ticks -> total qty
    asks: dict[int, int] = field(default_factory=dict)
    last_update_ns: int | None = None
    snapshot_ns: int | None = None
    updates: int = 0
    volume: int = 0
    trades: int = 0
    last_trade: int | None = None
    errors: int = 0

    # -- QUERIES -----------------------------------------------------------------------------------

    def side(self, side: int) -> dict[int, int]:
        """The level map of one side (1 bid, 2 offer)."""
        return self.bids if side == BID else self.asks

    def best(self, side: int, exclude: Mapping[tuple[int, int], int] | None = None) -> tuple[int, int] | None:
        """Best (price, qty) of a side, optionally after removing ``exclude[(side, price)]`` quantity.

        Runtime complexity: O(levels).
        """
        levels = self.bids if side == BID else self.asks
        if not levels:
            return None
        # Usually the top level is the answer, and max/min find it in C: 1.3 us a call on a
        # 15-level side where the scan below took 3.7 us.  The scan remains for a top level that
        # the exclusion (or a non-positive total) empties.
        top = max(levels) if side == BID else min(levels)
        qty = levels[top] - (exclude.get((side, top), 0) if exclude else 0)
        if qty > 0:
            return (top, qty)
        best: tuple[int, int] | None = None
        for price, qty in levels.items():
            if exclude:
                qty -= exclude.get((side, price), 0)
            if qty <= 0:
                continue
            if best is None or (price > best[0] if side == BID else price < best[0]):
                best = (price, qty)
        return best

    def best_bid(self) -> tuple[int, int] | None:
        """Best bid (price, qty) or None."""
        return self.best(BID)

    def best_ask(self) -> tuple[int, int] | None:
        """Best offer (price, qty) or None."""
        return self.best(ASK)

    def mid2(self, exclude: Mapping[tuple[int, int], int] | None = None) -> int | None:
        """Twice the mid price (bid + ask, exact integer ticks), None if a side is empty."""
        bid, ask = self.best(BID, exclude), self.best(ASK, exclude)
        return None if bid is None or ask is None else bid[0] + ask[0]

    def mid(self, exclude: Mapping[tuple[int, int], int] | None = None) -> int | None:
        """Mid price in ticks rounded down, None if a side is empty."""
        m2 = self.mid2(exclude)
        return None if m2 is None else m2 // 2

    @property
    def crossed(self) -> bool:
        """True if the best bid is at or above the best offer (a data-quality fault)."""
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid[0] >= ask[0]

    def age_ns(self, now_ns: int) -> int | None:
        """Nanoseconds since the last update arrived (None before the snapshot)."""
        return None if self.last_update_ns is None else now_ns - self.last_update_ns

    def depth(self, side: int, levels: int = 5) -> list[tuple[int, int]]:
        """The best ``levels`` (price, qty) of a side, best first."""
        book = self.side(side)
        prices = sorted(book, reverse=(side == BID))[:levels]
        return [(p, book[p]) for p in prices]


class Feed:
    """What strategies need from a market-data source: a book per symbol and the subscription."""

    def book(self, symbol: str) -> BookView | None:  # pragma: no cover - interface
        """The symbol's view, or None if not subscribed / nothing received."""
        raise NotImplementedError


class MarketDataClient(Feed):
    """Applies MarketData W/X/Y messages to :class:`BookView` objects; builds MarketDataRequests."""

    def __init__(self, instruments: InstrumentTable, *, now_ns: Callable[[], int]) -> None:
        self.instruments = instruments
        self._now = now_ns
        self.books: dict[str, BookView] = {}
        self.symbols: list[str] = []
        self.rejects: list[str] = []
        self._listeners: list[Callable[[str], None]] = []
        self._next_req = 1
        self._wire = WirePrices()  # Instrument.to_ticks goes through Decimal: 3.9 us a price

    def book(self, symbol: str) -> BookView | None:
        """The symbol's view (None before anything was subscribed)."""
        return self.books.get(symbol)

    def on_update(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(symbol)`` after every applied W/X touching ``symbol``."""
        self._listeners.append(callback)

    # -- REQUESTS ----------------------------------------------------------------------------------

    def request_body(self, symbols: Iterable[str], *, trades: bool = True) -> list[tuple[int, object]]:
        """A MarketDataRequest (V) body: snapshot + updates, full book, bids/offers (and trades)."""
        symbols = list(symbols)
        types = [b"0", b"1"] + ([b"2"] if trades else [])
        body: list[tuple[int, object]] = [(262, f"md{self._next_req}"), (263, b"1"), (264, 0), (265, b"1"),
                                          (267, len(types))]
        self._next_req += 1
        body += [(269, t) for t in types]
        body.append((146, len(symbols)))
        body += [(55, s) for s in symbols]
        return body

    def subscribe(self, session: Session, symbols: Iterable[str], *, trades: bool = True) -> None:
        """Send a MarketDataRequest for ``symbols`` on ``session`` (books appear when W arrives)."""
        new = [s for s in symbols if s not in self.symbols]
        self.symbols += new
        for symbol in new:
            self.books.setdefault(symbol, BookView(symbol))
        if new and session.logged_on:
            session.send(b"V", self.request_body(new, trades=trades))

    # -- MESSAGES ----------------------------------------------------------------------------------

    def on_message(self, msg: FixMessage) -> None:
        """Apply one W, X or Y message."""
        kind = msg.msg_type()
        if kind == b"W":
            self._snapshot(msg)
        elif kind == b"X":
            self._incremental(msg)
        elif kind == b"Y":
            self.rejects.append((msg.get(58) or b"").decode("latin-1"))

    def _snapshot(self, msg: FixMessage) -> None:
        symbol = (msg.get(55) or b"").decode("latin-1")
        view = self.books.setdefault(symbol, BookView(symbol))
        view.bids.clear()
        view.asks.clear()
        entry: dict[int, bytes] = {}
        in_group = False
        for tag, value in msg.fields:
            if tag == 268:
                in_group = True
                continue
            if not in_group or tag == 10:
                continue
            if tag == 269 and entry:
                self._apply_level(view, b"0", entry.get(269), entry.get(270), entry.get(271))
                entry = {}
            entry[tag] = value
        if entry:
            self._apply_level(view, b"0", entry.get(269), entry.get(270), entry.get(271))
        now = self._now()
        view.snapshot_ns = view.last_update_ns = now
        view.updates += 1
        self._notify(symbol)

    def _incremental(self, msg: FixMessage) -> None:
        # An entry runs from one MDUpdateAction (279) to the next; of each tag it uses, the last
        # occurrence counts.  Reading them into locals instead of a dict per entry (and applying
        # each entry as the next starts: nothing here changes ``msg``), with the cached price
        # conversion, took a two-level refresh from 9.3 us to 5.4 us.
        fields = msg.fields
        count = len(fields)
        books = self.books
        touched: dict[str, None] = {}
        now = self._now()
        i = 0
        while i < count and fields[i][0] != 279:
            i += 1
        while i < count:
            action = fields[i][1]
            entry_type = symbol_b = price = qty = None
            i += 1
            while i < count:
                tag, value = fields[i]
                if tag == 279:
                    break
                if tag == 269:
                    entry_type = value
                elif tag == 55:
                    symbol_b = value
                elif tag == 270:
                    price = value
                elif tag == 271:
                    qty = value
                i += 1
            symbol = (symbol_b or b"").decode("latin-1")
            view = books.get(symbol)
            if view is None:
                continue
            if entry_type == b"2":
                try:
                    traded = _qty(qty or b"0")
                    view.last_trade = self._ticks(symbol, price or b"0")
                except (InvalidOperation, InstrumentError, ValueError):
                    view.errors += 1
                    continue
                view.volume += traded
                view.trades += 1
            else:
                self._apply_level(view, action or b"0", entry_type, price, qty)
            view.last_update_ns = now
            touched[symbol] = None
        for symbol in touched:
            books[symbol].updates += 1
            self._notify(symbol)

    def _apply_level(self, view: BookView, action: bytes, entry_type: bytes | None, price_raw: bytes | None,
                     qty_raw: bytes | None) -> None:
        side = BID if entry_type == b"0" else ASK if entry_type == b"1" else 0
        if not side:
            return
        try:
            price = self._ticks(view.symbol, price_raw or b"0")
            qty = _qty(qty_raw or b"0")
        except (InvalidOperation, InstrumentError, ValueError):
            view.errors += 1
            return
        levels = view.bids if side == BID else view.asks
        if action == b"2" or qty <= 0:
            levels.pop(price, None)
        else:
            levels[price] = qty

    def _ticks(self, symbol: str, raw: bytes) -> int:
        """A wire price in ticks (cached per instrument definition: a feed repeats its prices)."""
        return self._wire.of(self.instruments.get(symbol)).to_ticks(raw)

    def _notify(self, symbol: str) -> None:
        for callback in self._listeners:
            callback(symbol)


def _qty(raw: bytes) -> int:
    """A wire quantity as an int; plain digits (every feed quantity) skip Decimal: 0.3 us, not 0.7."""
    if type(raw) is bytes and raw.isdigit():
        return int(raw)
    return int(Decimal(raw.decode()))


class MarketDataTap:
    """A FIX Application around an order engine: market data to a client, the rest to the engine.

    ``MarketDataTap(engine, client)`` replaces ``engine.session.app``; it re-subscribes the
    client's symbols on every logon (a reconnect starts again from a snapshot).
    """

    def __init__(self, engine, client: MarketDataClient) -> None:
        self.engine = engine
        self.client = client
        self.session: Session = engine.session
        self.feed: EngineFeed | None = None
        self.session.app = self

    def on_logon_request(self, session: Session, logon: FixMessage) -> None:
        """Forwarded to the engine."""
        self.engine.on_logon_request(session, logon)

    def on_logon(self, session: Session) -> None:
        """Forward, then (re)subscribe every symbol the client follows."""
        self.engine.on_logon(session)
        if self.client.symbols:
            session.send(b"V", self.client.request_body(self.client.symbols))

    def on_logout(self, session: Session) -> None:
        """Forwarded; the books keep their last state and simply age."""
        self.engine.on_logout(session)

    def from_app(self, session: Session, message: FixMessage) -> None:
        """W/X/Y to the client, everything else to the engine."""
        if message.msg_type() in _MD_TYPES:
            self.client.on_message(message)
            return
        self.engine.from_app(session, message)


class EngineFeed(Feed):
    """The market data an order engine's session receives, for the strategies on that engine."""

    def __init__(self, engine, client: MarketDataClient, tap: MarketDataTap) -> None:
        self.engine = engine
        self.client = client
        self.tap = tap

    def book(self, symbol: str) -> BookView | None:
        """The symbol's view, or None if not subscribed."""
        return self.client.book(symbol)

    def subscribe(self, symbols: Iterable[str], *, trades: bool = True) -> None:
        """Follow more symbols (sends a MarketDataRequest for the new ones)."""
        self.client.subscribe(self.engine.session, symbols, trades=trades)

    def on_update(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(symbol)`` after every update."""
        self.client.on_update(callback)


def feed_for(engine, symbols: Iterable[str] = (), *, trades: bool = True) -> EngineFeed:
    """The :class:`EngineFeed` of an order engine (installed on first use), subscribed to ``symbols``.

    The engine must have a session (``World.add_engine`` gives it one); subscribe after logon or
    before it (the tap subscribes on logon).
    """
    session = engine.session
    if session is None:
        raise ValueError(f"engine {engine.name} has no session to receive market data on")
    app = session.app
    feed = app.feed if isinstance(app, MarketDataTap) and app.engine is engine else None
    if feed is None:
        client = MarketDataClient(engine.instruments, now_ns=engine.now_ns)
        tap = MarketDataTap(engine, client)
        feed = EngineFeed(engine, client, tap)
        tap.feed = feed
    feed.subscribe(symbols, trades=trades)
    return feed
