"""The venue's market-data feed: MarketDataRequest (V) -> snapshot (W) then incremental refreshes (X).

Subscribers get a price-level feed: a full-refresh snapshot of the book, then for every change
of a level an entry with MDUpdateAction 0 (new), 1 (change) or 2 (delete), MDEntryType 0/1,
the price and the new total of the level; trades as MDEntryType 2 when asked for.  Updates caused
by an order-entry message are sent at once, before the venue answers that session's next message
(no conflation timer), which is what real order-entry probes expect.

Feed faults (freeze, delay, gap, corrupt, crossed) are applied *here*, per symbol: the venue's
matching never sees them, only subscribers do, as with a broken feed handler.  The publisher
keeps, per symbol, the book as subscribers were last told it (``published``); a frozen or gapped
feed lets that view go stale, and lifting the fault publishes the difference, as a recovering
feed would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sim.fix.codec import FixMessage
from sim.fix.session import Session
from sim.instruments import InstrumentTable
from sim.venue_events import BookChange
from sim.wire_prices import WirePrices

Send = Callable[[Session, bytes, list], None]


@dataclass(slots=True)
class Subscription:
    """One MarketDataRequest that asked for updates."""

    session: Session
    md_req_id: bytes
    symbol: str
    entry_types: frozenset[bytes]


@dataclass(slots=True)
class FeedFault:
    """How one symbol's feed is broken right now (all off by default)."""

    frozen: bool = False
    drop_every: int = 0          # gap: drop every Nth update (0 = none)
    corrupt_ticks: int = 0       # corrupt: add this many ticks to every published price
    crossed_ticks: int = 0       # crossed: publish bids this many ticks higher than they are
    delay_ns: int = 0            # delay: publish this long after the change
    _counter: int = field(default=0, repr=False)

    @property
    def active(self) -> bool:
        """True if any fault is switched on."""
        return bool(self.frozen or self.drop_every or self.corrupt_ticks or self.crossed_ticks or self.delay_ns)


class MarketDataPublisher:
    """Serves MarketDataRequests and publishes book changes to subscribers."""

    def __init__(self, instruments: InstrumentTable, level_snapshot: Callable[[str], dict[tuple[int, int], int]],
                 *, schedule: Callable[[int, Callable[[], None]], object] | None = None) -> None:
        self.instruments = instruments
        self._levels = level_snapshot
        self._schedule = schedule
        self.subscriptions: dict[str, list[Subscription]] = {}
        # What subscribers were last told, per symbol; starts as the book is now.
        self.published: dict[str, dict[tuple[int, int], int]] = {
            symbol: dict(level_snapshot(symbol)) for symbol in instruments.symbols}
        self.faults: dict[str, FeedFault] = {}
        # Best bid and ask of ``published`` per symbol, kept as levels change (None: recompute on
        # the next read).  The runner asks for the top after every change; scanning a 30-level
        # book for it took 6.2 us, the kept top 0.25 us.
        self._tops: dict[str, list[int | None] | None] = {}
        # Rendering through Decimal costs ~1 us a price and a feed repeats the same few hundred
        # prices all session: cached per instrument definition (a tick size change starts anew).
        self._wire = WirePrices()

    # -- REQUESTS --------------------------------------------------------------------------------

    def request(self, session: Session, msg: FixMessage) -> None:
        """Handle a MarketDataRequest: snapshot + subscribe, unsubscribe, or reject."""
        md_req_id = msg.get(262) or b""
        kind = msg.get(263) or b"0"
        symbols = [v.decode("latin-1") for v in msg.get_all(55)]
        entry_types = frozenset(msg.get_all(269)) or frozenset({b"0", b"1"})
        if kind == b"2":
            for subs in self.subscriptions.values():
                subs[:] = [s for s in subs if not (s.session is session and s.md_req_id == md_req_id)]
            return
        unknown = [s for s in symbols if s not in self.instruments]
        if not symbols or unknown:
            text = f"Unknown symbol {unknown[0]}" if unknown else "No symbol requested"
            session.send(b"Y", [(58, text), (262, md_req_id), (281, b"0")])
            return
        for symbol in symbols:
            self._send_snapshot(session, md_req_id, symbol, entry_types)
            if kind == b"1":
                self.subscriptions.setdefault(symbol, []).append(Subscription(session, md_req_id, symbol, entry_types))

    def drop_session(self, session: Session) -> None:
        """Forget a disconnected session's subscriptions."""
        for subs in self.subscriptions.values():
            subs[:] = [s for s in subs if s.session is not session]

    # -- PUBLISHING ------------------------------------------------------------------------------

    def on_change(self, change: BookChange) -> None:
        """Publish one command's level changes (and trades) to the symbol's subscribers."""
        symbol = change.symbol
        fault = self.faults.get(symbol)
        if fault is not None and fault.active:
            if fault.frozen:
                return
            if fault.drop_every:
                fault._counter += 1
                if fault._counter % fault.drop_every == 0:
                    return
            if fault.delay_ns and self._schedule is not None:
                self._schedule(fault.delay_ns, lambda: self._publish(change))
                return
        self._publish(change)

    def _publish(self, change: BookChange) -> None:
        symbol = change.symbol
        view = self.published.get(symbol)
        if view is None:
            view = self.published[symbol] = {}
            self._tops[symbol] = None
        top = self._tops.get(symbol)
        entries: list[tuple[bytes, int, int, int]] = []  # (action, side, price, qty)
        for side, price, qty in change.levels:
            key = (side, price)
            if qty:
                entries.append((b"1" if key in view else b"0", side, price, qty))
                view[key] = qty
                if top is not None and (side == 1 or side == 2):
                    best = top[side - 1]
                    if best is None or (price > best if side == 1 else price < best):
                        top[side - 1] = price
            elif key in view:
                del view[key]
                entries.append((b"2", side, price, 0))
                if top is not None and (side == 1 or side == 2) and top[side - 1] == price:
                    top = self._tops[symbol] = None  # the best level went: the next read finds the new one
        self._send_entries(symbol, entries, change.trades)

    def shown_top(self, symbol: str) -> tuple[int | None, int | None]:
        """Best bid and ask (ticks) as subscribers see them now, feed faults included."""
        top = self._tops.get(symbol)
        if top is None:
            view = self.published.get(symbol, {})
            bids = [p for (side, p), q in view.items() if side == 1 and q]
            asks = [p for (side, p), q in view.items() if side == 2 and q]
            top = [max(bids) if bids else None, min(asks) if asks else None]
            if symbol in self.published:
                self._tops[symbol] = top
        bid, ask = top
        fault = self.faults.get(symbol)
        if fault is not None:
            if bid is not None:
                bid += fault.corrupt_ticks + fault.crossed_ticks
            if ask is not None:
                ask += fault.corrupt_ticks
        return bid, ask

    def resync(self, symbol: str) -> None:
        """Publish the difference between the real book and what subscribers last saw."""
        actual = self._levels(symbol)
        view = self.published.get(symbol, {})
        levels = [(s, p, actual.get((s, p), 0)) for (s, p) in set(view) | set(actual)
                  if actual.get((s, p), 0) != view.get((s, p))]
        levels.sort()
        self._publish(BookChange(symbol, tuple(levels), ()))

    def set_fault(self, symbol: str, **changes: int | bool) -> FeedFault:
        """Switch feed faults on or off for a symbol; lifting a freeze or gap resyncs subscribers."""
        fault = self.faults.setdefault(symbol, FeedFault())
        was_stale = fault.frozen or fault.drop_every
        for name, value in changes.items():
            if not hasattr(fault, name) or name.startswith("_"):
                raise ValueError(f"unknown feed fault {name!r} (freeze via frozen, drop_every, corrupt_ticks, "
                                 f"crossed_ticks, delay_ns)")
            setattr(fault, name, value)
        if was_stale and not (fault.frozen or fault.drop_every):
            self.resync(symbol)
        return fault

    def _send_entries(self, symbol: str, entries: list[tuple[bytes, int, int, int]],
                      trades: tuple[tuple[int, int], ...]) -> None:
        subs = self.subscriptions.get(symbol)
        if not subs or (not entries and not trades):
            return
        to_price = self._wire.of(self.instruments.get(symbol)).to_price
        fault = self.faults.get(symbol)
        corrupt = fault.corrupt_ticks if fault is not None else 0
        crossed = fault.crossed_ticks if fault is not None else 0
        symbol_b = symbol.encode()
        for sub in subs:
            group: list[tuple[int, bytes | str | int]] = []
            count = 0
            entry_types = sub.entry_types
            for action, side, price, qty in entries:
                entry_type = b"0" if side == 1 else b"1"
                if entry_type not in entry_types:
                    continue
                shown = price + corrupt + (crossed if side == 1 else 0)
                group += ((279, action), (269, entry_type), (55, symbol_b), (270, to_price(shown)),
                          (271, qty if action != b"2" else 0))
                count += 1
            if b"2" in entry_types:
                for price, qty in trades:
                    group += ((279, b"0"), (269, b"2"), (55, symbol_b), (270, to_price(price + corrupt)), (271, qty))
                    count += 1
            if count:
                sub.session.send(b"X", [(262, sub.md_req_id), (268, count), *group])

    def _send_snapshot(self, session: Session, md_req_id: bytes, symbol: str, entry_types: frozenset[bytes]) -> None:
        instrument = self.instruments.get(symbol)
        view = self.published.get(symbol)
        if view is None:
            view = self.published[symbol] = dict(self._levels(symbol))
            self._tops[symbol] = None
        bids = sorted(((p, q) for (s, p), q in view.items() if s == 1), reverse=True)
        asks = sorted((p, q) for (s, p), q in view.items() if s == 2)
        group: list[tuple[int, bytes | str | int]] = []
        count = 0
        for entry_type, levels in ((b"0", bids), (b"1", asks)):
            if entry_type not in entry_types:
                continue
            for price, qty in levels:
                group += [(269, entry_type), (270, instrument.to_price(price)), (271, qty)]
                count += 1
        session.send(b"W", [(55, symbol), (262, md_req_id), (268, count), *group])
