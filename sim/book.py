"""Price-time priority order book for one instrument: integer ticks, integer quantities.

Sans-I/O and clock-free: every operation returns a list of plain events
(``sim.book_events``) and nothing else happens.  Bad input never raises; it
returns a ``Rejected`` event with a machine reason code and a sentence.

Data structure (why it looks like this)
---------------------------------------
Measured on CPython 3.11 against a SortedDict-of-deques book (see
``bench/bench_book.py``), the fastest pure-Python layout was:

* **Price levels**: per side a ``dict`` key -> level plus a plain sorted
  ``list`` of keys.  Keys are ``price`` for bids and ``-price`` for asks, so on
  both sides the best level is ``keys[-1]`` (O(1) to read, ``list.pop()`` to
  drop) and "an incoming order crosses" is the same test on both sides:
  ``opposite_keys[-1] >= limit_key``.  A new level costs a C ``bisect.insort``;
  books rarely have more than a few thousand levels, so the memmove is noise.
  A SortedDict adds a Python-level call per lookup; a heap needs lazy deletion
  and cannot list depth without sorting.
* **Level**: a list ``[total_qty, orders, price, side, n_deleted]``; ``orders`` is a
  ``dict`` order id -> record.  Since Python 3.7 a dict keeps insertion order,
  so it *is* the FIFO: append = insert, cancel = ``del`` (O(1), exact, no
  tombstones), front = first item.  Matching walks ``orders.items()`` and
  deletes the filled ids after the walk.  Deleted entries linger at the front
  of a dict's entry table until it resizes and each walk skips them, so
  ``n_deleted`` counts them and the level dict is copied (compactly) once they
  outnumber the live orders: amortised O(1).  An intrusive linked list costs
  two more pointers per order and a Python-level unlink; a deque needs lazy
  deletion, tombstones and compaction.
* **Record** of a resting order: a list ``[leaves, owner, stp, seq,
  post_only]`` (one small allocation; lists beat ``__slots__`` instances on
  creation time).  ``seq`` is a book-wide arrival counter: it is what "time"
  means in price-time priority, and ``_check`` asserts it increases along
  every level.
* **Index**: ``dict`` order id -> level, for O(1) cancel, replace and lookup.

Semantics worth knowing
-----------------------
* Trades happen at the resting order's price; one ``Trade`` per matched pair.
* Every valid new order first gets ``Accepted``; then come its trades, and
  then either nothing (it rests or is filled) or one ``Cancelled`` (IOC /
  market remainder, FOK that cannot fill, STP).
* Self-trade prevention uses the *incoming* order's mode and applies when the
  incoming and the resting order have the same, non-None, owner.  With
  CANCEL_BOTH the resting order's ``Cancelled`` comes before the aggressor's;
  with DECREMENT both lose ``min(leaves)`` (no trade): an order left with 0 is
  ``Cancelled`` (reason STP), otherwise ``Reduced``; resting order first.
* FOK runs a dry run of exactly the matching it would do: it executes only if
  its whole quantity would trade.  An STP action on the FOK itself
  (CANCEL_NEWEST, CANCEL_BOTH, DECREMENT) before it is full makes it
  unfillable; CANCEL_OLDEST skips (and, on execution, cancels) the own
  resting orders.  An unfillable FOK leaves the book untouched: ``Accepted``
  then ``Cancelled(reason=FOK)``, no trades, no STP cancels.
* ``replace(order_id, qty, price)`` takes the new **leaves** quantity (the
  book does not know cumulative fills; the venue computes ``OrderQty -
  CumQty`` and decides what to do when that is <= 0).  Same price and qty <=
  leaves keeps time priority; a price change or a larger qty loses it, and a
  price that now crosses trades at once like an incoming order (with the
  order's own STP mode), then rests.  A post-only order replaced to a crossing
  price is rejected (``WOULD_CROSS``) and stays as it was.
* Duplicate order id means an id that is live in the book; ids of done orders
  are forgotten (memory stays proportional to the resting orders).
* Market data: ``touched_levels(events)`` lists the (side, price) levels an
  operation may have changed; ``level_qty`` gives each new total in O(1).
"""

from __future__ import annotations

import operator
import pprint
from bisect import bisect_left, insort
from collections.abc import Hashable, Iterable

from sim.book_events import (
    STP,
    Accepted,
    Cancelled,
    CancelReason,
    Depth,
    Event,
    OrderType,
    PriceLevel,
    Reason,
    Reduced,
    Rejected,
    Replaced,
    RestingOrder,
    Side,
    Trade,
    touched_levels,
)

__all__ = ["OrderBook", "touched_levels"]

_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__
BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET, IOC, FOK, POST_ONLY = OrderType
_KINDS = tuple(OrderType)
_STPS = tuple(STP)
_STP_CODES = frozenset(range(len(STP)))
_CANCEL_NEWEST, _CANCEL_OLDEST, _DECREMENT = STP.CANCEL_NEWEST, STP.CANCEL_OLDEST, STP.DECREMENT
_R_STP, _R_IOC, _R_FOK, _R_MARKET, _R_USER = (
    CancelReason.STP, CancelReason.IOC_REMAINDER, CancelReason.FOK,
    CancelReason.MARKET_REMAINDER, CancelReason.USER)
_NO_LIMIT = float("-inf")  # limit key of a market order: every level crosses


def _as_int(x: object) -> int | None:
    """Return x as a plain int (numpy ints and IntEnums welcome), None if it is not one."""
    if type(x) is int:
        return x
    if isinstance(x, bool):
        return None
    try:
        return operator.index(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _reject(order_id: object, reason: Reason, text: str) -> list[Event]:
    return [Rejected(order_id, reason, text)]


class OrderBook:
    """Price-time priority limit order book of one instrument.

    >>> book = OrderBook()
    >>> book.submit(1, Side.SELL, 5, price=101)
    [Accepted(order_id=1, side=Side.SELL, kind=OrderType.LIMIT, price=101, qty=5)]
    >>> book.submit(2, Side.BUY, 3, price=102)[1]
    Trade(taker_id=2, maker_id=1, taker_side=Side.BUY, price=101, qty=3, taker_leaves=0, maker_leaves=2)
    >>> book.best_ask()
    PriceLevel(price=101, qty=2, count=1)
    """

    __slots__ = ("_index", "_bids", "_asks", "_bid_keys", "_ask_keys", "_seq")

    def __init__(self) -> None:
        """Create an empty book.

        Runtime complexity: O(1)
        """
        self._index: dict[int, list] = {}      # order id -> level
        self._bids: dict[int, list] = {}       # price -> level
        self._asks: dict[int, list] = {}       # -price -> level
        self._bid_keys: list[int] = []         # ascending; best bid = [-1]
        self._ask_keys: list[int] = []         # ascending -price; best ask = -[-1]
        self._seq = 0

    # -- COMMANDS --

    def submit(self, order_id: int, side: Side | int, qty: int, price: int | None = None,
               kind: OrderType | int = LIMIT, owner: Hashable | None = None,
               stp: STP | int = STP.NONE) -> list[Event]:
        """Enter a new order; return ``Accepted`` and what followed, or ``Rejected``.

        ``price`` is required for every kind but MARKET, which must not have one.

        Runtime complexity: O(1) for a resting limit order at an existing level,
        O(log L + L) when it opens one of L levels, plus O(T + C) for T trades
        over C crossed levels (FOK: twice that).

        >>> book = OrderBook()
        >>> book.submit(1, Side.BUY, 10, price=99)
        [Accepted(order_id=1, side=Side.BUY, kind=OrderType.LIMIT, price=99, qty=10)]
        >>> book.submit(2, Side.SELL, 4, kind=OrderType.MARKET)[1:]
        [Trade(taker_id=2, maker_id=1, taker_side=Side.SELL, price=99, qty=4, taker_leaves=0, maker_leaves=6)]
        >>> book.submit(3, Side.SELL, 9, price=99, kind=OrderType.FOK)[1:]
        [Cancelled(order_id=3, side=Side.SELL, price=99, qty=9, reason=CancelReason.FOK)]
        >>> book.submit(4, Side.SELL, 1, price=98, kind=OrderType.POST_ONLY)[0].reason
        Reason.WOULD_CROSS
        """
        index = self._index
        # Fast path: a valid limit order that rests.  Everything else (and all
        # validation failures) goes through _submit, which re-checks from scratch.
        try:
            # x.__class__ is int: half the cost of type(x) is int on 3.11, and bools fail it too
            if (kind == 0 and qty.__class__ is int and qty > 0 and price.__class__ is int
                    and order_id.__class__ is int and order_id not in index and stp in _STP_CODES):
                fast = BUY if side == 1 else SELL if side == 2 else None
            else:
                fast = None
        except Exception:  # exotic argument types (unhashable, arrays): the general path rejects them
            fast = None
        # One block per side rather than side-neutral locals: 8 fewer bytecodes of ~100 per add.
        if fast is BUY:
            opp_keys = self._ask_keys
            if not opp_keys or opp_keys[-1] < -price:
                seq = self._seq = self._seq + 1
                rec = [qty, owner, stp, seq, False]
                lvl = self._bids.get(price)
                if lvl is None:
                    self._bids[price] = lvl = [qty, {order_id: rec}, price, BUY, 0]
                    insort(self._bid_keys, price)
                else:
                    lvl[0] += qty
                    lvl[1][order_id] = rec
                index[order_id] = lvl
                return [_new(Accepted, (order_id, BUY, LIMIT, price, qty))]
            side = BUY
        elif fast is SELL:
            opp_keys = self._bid_keys
            if not opp_keys or opp_keys[-1] < price:
                seq = self._seq = self._seq + 1
                rec = [qty, owner, stp, seq, False]
                lvl = self._asks.get(-price)
                if lvl is None:
                    self._asks[-price] = lvl = [qty, {order_id: rec}, price, SELL, 0]
                    insort(self._ask_keys, -price)
                else:
                    lvl[0] += qty
                    lvl[1][order_id] = rec
                index[order_id] = lvl
                return [_new(Accepted, (order_id, SELL, LIMIT, price, qty))]
            side = SELL
        return self._submit(order_id, side, qty, price, kind, owner, stp)

    def cancel(self, order_id: int) -> list[Event]:
        """Cancel a resting order; return ``Cancelled`` (reason USER) or ``Rejected``.

        Runtime complexity: O(1), O(L) if it empties one of L levels off the top

        >>> book = OrderBook()
        >>> _ = book.submit(1, Side.BUY, 10, price=99)
        >>> book.cancel(1)
        [Cancelled(order_id=1, side=Side.BUY, price=99, qty=10, reason=CancelReason.USER)]
        >>> book.cancel(1)[0].reason
        Reason.UNKNOWN_ORDER
        """
        oid = order_id if order_id.__class__ is int else _as_int(order_id)
        lvl = self._index.pop(oid, None)
        if lvl is None:
            return _reject(order_id, Reason.UNKNOWN_ORDER, f"order {order_id!r} is not resting in the book")
        orders = lvl[1]
        qty = orders.pop(oid)[0]
        if orders:
            lvl[0] -= qty
        else:
            self._drop_level(lvl)
        return [_new(Cancelled, (oid, lvl[3], lvl[2], qty, _R_USER))]

    def replace(self, order_id: int, qty: int, price: int | None = None) -> list[Event]:
        """Give a resting order new leaves ``qty`` and/or ``price`` (None keeps the price).

        Keeps time priority only for the same price and qty <= leaves; otherwise
        the order goes to the back of its (new) level, trading first if it crosses.

        Runtime complexity: O(1) when priority is kept, else as ``submit``

        >>> book = OrderBook()
        >>> _ = book.submit(1, Side.BUY, 10, price=99)
        >>> book.replace(1, 4)
        [Replaced(order_id=1, side=Side.BUY, old_price=99, old_qty=10, price=99, qty=4, priority_kept=True)]
        >>> book.replace(1, 4, price=100)[0].priority_kept
        False
        """
        oid = order_id if order_id.__class__ is int else _as_int(order_id)
        lvl = self._index.get(oid)
        if lvl is None:
            return _reject(order_id, Reason.UNKNOWN_ORDER, f"order {order_id!r} is not resting in the book")
        order_id = oid
        new_qty = qty if qty.__class__ is int else _as_int(qty)
        if new_qty is None or new_qty <= 0:
            return _reject(order_id, Reason.BAD_QUANTITY,
                           f"new leaves quantity must be a positive integer, got {qty!r}")
        orders = lvl[1]
        rec = orders[order_id]
        old_qty, old_price, side = rec[0], lvl[2], lvl[3]
        if price is None:
            new_price = old_price
        else:
            new_price = price if price.__class__ is int else _as_int(price)
            if new_price is None:
                return _reject(order_id, Reason.BAD_PRICE, f"price must be an integer tick, got {price!r}")
        if new_price == old_price and new_qty <= old_qty:
            rec[0] = new_qty
            lvl[0] -= old_qty - new_qty
            return [_new(Replaced, (order_id, side, old_price, old_qty, new_price, new_qty, True))]
        lim = -new_price if side == 1 else new_price
        opp_keys = self._ask_keys if side == 1 else self._bid_keys
        crosses = bool(opp_keys) and opp_keys[-1] >= lim
        if crosses and rec[4]:
            return _reject(order_id, Reason.WOULD_CROSS,
                           f"post-only order {order_id} would trade at price {new_price}")
        del orders[order_id]
        del self._index[order_id]
        if orders:
            lvl[0] -= old_qty
        else:
            self._drop_level(lvl)
        events: list[Event] = [_new(Replaced, (order_id, side, old_price, old_qty, new_price, new_qty, False))]
        if crosses:
            new_qty = self._match(order_id, side, new_price, new_qty, lim, rec[1], rec[2], events)
        if new_qty:
            self._rest(order_id, side, new_price, new_qty, rec[1], rec[2], rec[4])
        return events

    # -- QUERIES --

    def best_bid(self) -> PriceLevel | None:
        """Return the best bid level (price, total qty, order count), None if no bids.

        Runtime complexity: O(1)

        >>> book = OrderBook()
        >>> _ = book.submit(1, Side.BUY, 3, price=99); _ = book.submit(2, Side.BUY, 4, price=99)
        >>> book.best_bid()
        PriceLevel(price=99, qty=7, count=2)
        """
        keys = self._bid_keys
        if not keys:
            return None
        lvl = self._bids[keys[-1]]
        return PriceLevel(lvl[2], lvl[0], len(lvl[1]))

    def best_ask(self) -> PriceLevel | None:
        """Return the best ask level (price, total qty, order count), None if no asks.

        Runtime complexity: O(1)

        >>> OrderBook().best_ask() is None
        True
        """
        keys = self._ask_keys
        if not keys:
            return None
        lvl = self._asks[keys[-1]]
        return PriceLevel(lvl[2], lvl[0], len(lvl[1]))

    def depth(self, n: int = 5) -> Depth:
        """Return the best ``n`` levels of each side, best first.

        Runtime complexity: O(n)

        >>> book = OrderBook()
        >>> for i, (side, px) in enumerate([(Side.BUY, 98), (Side.BUY, 99), (Side.SELL, 101)]):
        ...     _ = book.submit(i, side, 5, price=px)
        >>> book.depth(1)
        Depth(bids=[PriceLevel(price=99, qty=5, count=1)], asks=[PriceLevel(price=101, qty=5, count=1)])
        """
        out = []
        for levels, keys in ((self._bids, self._bid_keys), (self._asks, self._ask_keys)):
            side = []
            for key in keys[:-n - 1:-1] if n > 0 else ():
                lvl = levels[key]
                side.append(PriceLevel(lvl[2], lvl[0], len(lvl[1])))
            out.append(side)
        return Depth(out[0], out[1])

    def level(self, side: Side | int, price: int) -> PriceLevel | None:
        """Return the level at (side, price), None if nothing rests there.

        Runtime complexity: O(1)

        >>> book = OrderBook(); _ = book.submit(1, Side.SELL, 2, price=101)
        >>> book.level(Side.SELL, 101), book.level(Side.SELL, 102)
        (PriceLevel(price=101, qty=2, count=1), None)
        """
        lvl = self._bids.get(price) if side == 1 else self._asks.get(-price)
        return None if lvl is None else PriceLevel(lvl[2], lvl[0], len(lvl[1]))

    def level_qty(self, side: Side | int, price: int) -> int:
        """Return the total leaves at (side, price), 0 if nothing rests there.

        Runtime complexity: O(1)

        >>> book = OrderBook(); _ = book.submit(1, Side.BUY, 2, price=99)
        >>> book.level_qty(Side.BUY, 99), book.level_qty(Side.BUY, 98)
        (2, 0)
        """
        lvl = self._bids.get(price) if side == 1 else self._asks.get(-price)
        return 0 if lvl is None else lvl[0]

    def level_totals(self, levels: Iterable[tuple[int, int]]) -> tuple[tuple[int, int, int], ...]:
        """Return ``(side, price, total leaves)`` for each (side, price), 0 where nothing rests.

        One call for a whole BookChange instead of ``level_qty`` per level.

        Runtime complexity: O(len(levels))

        >>> book = OrderBook(); _ = book.submit(1, Side.BUY, 2, price=99)
        >>> book.level_totals([(1, 99), (2, 101)])
        ((1, 99, 2), (2, 101, 0))
        """
        bids, asks = self._bids, self._asks
        out = []
        for side, price in levels:
            lvl = bids.get(price) if side == 1 else asks.get(-price)
            out.append((side, price, 0 if lvl is None else lvl[0]))
        return tuple(out)

    def order(self, order_id: int) -> RestingOrder | None:
        """Return the resting order with this id, None if it is not in the book.

        Runtime complexity: O(1)

        >>> book = OrderBook(); _ = book.submit(7, Side.BUY, 2, price=99, owner="A")
        >>> book.order(7)
        RestingOrder(order_id=7, side=Side.BUY, price=99, leaves=2, owner='A', stp=STP.NONE, post_only=False)
        """
        oid = order_id if order_id.__class__ is int else _as_int(order_id)
        lvl = self._index.get(oid)
        if lvl is None:
            return None
        rec = lvl[1][oid]
        return RestingOrder(oid, lvl[3], lvl[2], rec[0], rec[1], _STPS[rec[2]], rec[4])

    def __len__(self) -> int:
        """Return the number of resting orders.

        Runtime complexity: O(1)
        """
        return len(self._index)

    def __contains__(self, order_id: object) -> bool:
        """Return True if the order rests in the book.

        Runtime complexity: O(1)
        """
        return (order_id if type(order_id) is int else _as_int(order_id)) in self._index

    def __repr__(self) -> str:
        return f"<OrderBook orders={len(self._index)} bid={self.best_bid()} ask={self.best_ask()}>"

    # -- INTERNALS --

    def _submit(self, order_id, side, qty, price, kind, owner, stp) -> list[Event]:
        """Validate and run any new order (the general path)."""
        oid = order_id if order_id.__class__ is int else _as_int(order_id)
        if oid is None:
            return _reject(order_id, Reason.BAD_ORDER_ID, f"order id must be an integer, got {order_id!r}")
        order_id = oid
        if order_id in self._index:
            return _reject(order_id, Reason.DUPLICATE_ORDER_ID, f"order {order_id} is already in the book")
        # the members themselves pass as ints: _as_int is a Python call per argument (the Exchange
        # hands over Side/OrderType/STP members)
        cls = side.__class__
        s = side if cls is int or cls is Side else _as_int(side)
        if s != 1 and s != 2:
            return _reject(order_id, Reason.BAD_SIDE, f"side must be 1 (buy) or 2 (sell), got {side!r}")
        side = BUY if s == 1 else SELL
        cls = kind.__class__
        k = kind if cls is int or cls is OrderType else _as_int(kind)
        if k is None or not 0 <= k < len(_KINDS):
            return _reject(order_id, Reason.BAD_ORDER_TYPE, f"unknown order type {kind!r}")
        kind = _KINDS[k]
        q = qty if qty.__class__ is int else _as_int(qty)
        if q is None or q <= 0:
            return _reject(order_id, Reason.BAD_QUANTITY, f"quantity must be a positive integer, got {qty!r}")
        qty = q
        if kind is MARKET:
            if price is not None:
                return _reject(order_id, Reason.UNEXPECTED_PRICE,
                               f"a market order has no price, got {price!r}")
            lim: float = _NO_LIMIT
        else:
            if price is None:
                return _reject(order_id, Reason.MISSING_PRICE, f"a {kind.name} order needs a price")
            p = price if price.__class__ is int else _as_int(price)
            if p is None:
                return _reject(order_id, Reason.BAD_PRICE, f"price must be an integer tick, got {price!r}")
            price = p
            lim = -p if side is BUY else p
        cls = stp.__class__
        m = stp if cls is int or cls is STP else _as_int(stp)
        if m is None or m not in _STP_CODES:
            return _reject(order_id, Reason.BAD_STP, f"unknown self-trade prevention mode {stp!r}")
        stp = _STPS[m]
        opp_keys = self._ask_keys if side is BUY else self._bid_keys
        crosses = bool(opp_keys) and opp_keys[-1] >= lim
        if crosses and kind is POST_ONLY:
            return _reject(order_id, Reason.WOULD_CROSS, f"post-only order {order_id} would trade at price {price}")
        events: list[Event] = [_new(Accepted, (order_id, side, kind, price, qty))]
        if kind is FOK and not (crosses and self._fok_fillable(side, qty, lim, owner, stp)):
            events.append(_new(Cancelled, (order_id, side, price, qty, _R_FOK)))
            return events
        if crosses:
            qty = self._match(order_id, side, price, qty, lim, owner, stp, events)
        if qty:
            if kind is LIMIT or kind is POST_ONLY:
                self._rest(order_id, side, price, qty, owner, stp, kind is POST_ONLY)
            else:
                assert kind is not FOK, "FOK dry run and execution disagree"
                reason = _R_IOC if kind is IOC else _R_MARKET
                events.append(_new(Cancelled, (order_id, side, price, qty, reason)))
        return events

    def _rest(self, order_id, side, price, qty, owner, stp, post_only) -> None:
        """Put an order at the back of its level."""
        if side == 1:
            key, levels, keys = price, self._bids, self._bid_keys
        else:
            key, levels, keys = -price, self._asks, self._ask_keys
        seq = self._seq = self._seq + 1
        rec = [qty, owner, stp, seq, post_only]
        lvl = levels.get(key)
        if lvl is None:
            levels[key] = lvl = [qty, {order_id: rec}, price, side, 0]
            insort(keys, key)
        else:
            lvl[0] += qty
            lvl[1][order_id] = rec
        self._index[order_id] = lvl

    def _drop_level(self, lvl: list) -> None:
        """Remove an empty level from its side."""
        if lvl[3] == 1:
            key, levels, keys = lvl[2], self._bids, self._bid_keys
        else:
            key, levels, keys = -lvl[2], self._asks, self._ask_keys
        del levels[key]
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]

    def _match(self, taker_id, side, tprice, qty, lim, owner, stp, events) -> int:
        """Trade ``qty`` against the opposite levels whose key >= ``lim``; return the leaves.

        Appends Trade / STP events to ``events``.  A 0 return means the taker is
        done (filled, or cancelled by STP with its Cancelled already emitted).
        """
        if side == 1:
            opp, keys, oside = self._asks, self._ask_keys, SELL
        else:
            opp, keys, oside = self._bids, self._bid_keys, BUY
        index = self._index
        append = events.append
        stp_on = stp != 0 and owner is not None
        while qty and keys and keys[-1] >= lim:
            key = keys[-1]
            lvl = opp[key]
            orders = lvl[1]
            price = lvl[2]
            done = []  # deleting inside the walk would invalidate the dict iterator
            for rid, rec in orders.items():
                rq = rec[0]
                if stp_on and rec[1] == owner:
                    if stp == _DECREMENT:
                        m = rq if rq < qty else qty
                        lvl[0] -= m
                        if rq == m:
                            done.append(rid)
                            del index[rid]
                            append(_new(Cancelled, (rid, oside, price, m, _R_STP)))
                        else:
                            rec[0] = rq - m
                            append(_new(Reduced, (rid, oside, price, m, rq - m)))
                        qty -= m
                        if qty:
                            append(_new(Reduced, (taker_id, side, tprice, m, qty)))
                            continue
                        append(_new(Cancelled, (taker_id, side, tprice, m, _R_STP)))
                        break
                    if stp != _CANCEL_NEWEST:  # CANCEL_OLDEST or CANCEL_BOTH
                        lvl[0] -= rq
                        done.append(rid)
                        del index[rid]
                        append(_new(Cancelled, (rid, oside, price, rq, _R_STP)))
                    if stp != _CANCEL_OLDEST:  # CANCEL_NEWEST or CANCEL_BOTH
                        append(_new(Cancelled, (taker_id, side, tprice, qty, _R_STP)))
                        qty = 0
                        break
                    continue
                if rq <= qty:
                    qty -= rq
                    lvl[0] -= rq
                    done.append(rid)
                    del index[rid]
                    append(_new(Trade, (taker_id, rid, side, price, rq, qty, 0)))
                    if not qty:
                        break
                else:
                    rq -= qty
                    rec[0] = rq
                    lvl[0] -= qty
                    append(_new(Trade, (taker_id, rid, side, price, qty, 0, rq)))
                    qty = 0
                    break
            if len(done) == len(orders):
                del opp[key]
                keys.pop()
            elif done:
                for rid in done:
                    del orders[rid]
                # Deleted entries stay in a dict's entry table until it resizes, and every
                # walk from the front skips them: compact once they outnumber the live ones.
                lvl[4] += len(done)
                if lvl[4] > len(orders) + 16:
                    lvl[1] = dict(orders)  # a sparse dict copies compactly; the index holds lvl, not the dict
                    lvl[4] = 0
        return qty

    def _fok_fillable(self, side, qty, lim, owner, stp) -> bool:
        """Dry-run _match: would the whole ``qty`` trade?  Touches nothing."""
        opp, keys = (self._asks, self._ask_keys) if side == 1 else (self._bids, self._bid_keys)
        stp_on = stp != 0 and owner is not None
        for key in reversed(keys):
            if key < lim:
                return False
            lvl = opp[key]
            if not stp_on:
                qty -= lvl[0]
                if qty <= 0:
                    return True
                continue
            for rec in lvl[1].values():
                if rec[1] == owner:
                    if stp == _CANCEL_OLDEST:
                        continue
                    return False
                qty -= rec[0]
                if qty <= 0:
                    return True
        return False

    def _state(self) -> dict:
        """Plain-data dump of the whole book, for failure messages."""
        return {
            "bids": [(self._bids[k][2], self._bids[k][0], list(self._bids[k][1].items()))
                     for k in reversed(self._bid_keys)],
            "asks": [(self._asks[k][2], self._asks[k][0], list(self._asks[k][1].items()))
                     for k in reversed(self._ask_keys)],
            "bid_keys": list(self._bid_keys), "ask_keys": list(self._ask_keys),
            "index": {oid: (lvl[3], lvl[2]) for oid, lvl in self._index.items()},
            "seq": self._seq,
        }

    def _check(self) -> None:
        """Assert every invariant; on failure the AssertionError carries a state dump.

        Levels sorted and keyed right, FIFO (``seq`` increasing) in each level,
        never crossed, level totals add up, id index consistent.

        Runtime complexity: O(N + L)
        """
        try:
            n = 0
            for side, levels, keys in ((1, self._bids, self._bid_keys), (2, self._asks, self._ask_keys)):
                assert keys == sorted(set(keys)), "keys not strictly ascending"
                assert set(keys) == set(levels), "sorted keys and level dict disagree"
                for key in keys:
                    lvl = levels[key]
                    total, orders, price, lside, _ = lvl
                    assert type(price) is int and lside == side, f"level {key} has side/price {lside}/{price}"
                    assert key == (price if side == 1 else -price), f"level key {key} for price {price}"
                    assert orders, f"empty level at {price}"
                    assert total == sum(r[0] for r in orders.values()), f"level {price} total {total}"
                    last = 0
                    for oid, rec in orders.items():
                        assert type(rec[0]) is int and rec[0] > 0, f"order {oid} leaves {rec[0]}"
                        assert rec[3] > last, f"order {oid} out of time priority at {price}"
                        assert rec[3] <= self._seq, f"order {oid} from the future"
                        last = rec[3]
                        assert self._index.get(oid) is lvl, f"index of order {oid} is wrong"
                        n += 1
            assert n == len(self._index), f"index has {len(self._index)} ids, levels hold {n}"
            if self._bid_keys and self._ask_keys:
                bid, ask = self._bid_keys[-1], -self._ask_keys[-1]
                assert bid < ask, f"book crossed: bid {bid} >= ask {ask}"
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nbook state:\n{pprint.pformat(self._state())}") from None
