"""Call auctions: collect orders while an instrument is not continuous, then uncross them at one price.

An instrument that is in pre-open, in an opening or re-opening auction, paused (LULD, stop logic)
or halted with orders held does not match: its orders wait in a :class:`CallBook`.  When the
call ends, :meth:`CallBook.uncross` picks one price and says who trades with whom; the
:class:`~sim.exchange.Exchange` turns that into execution reports and puts the rest into the
continuous book.

Design, and why
---------------
* **One place for every order of a call.**  When a call opens, the exchange moves the
  instrument's resting orders into the call book (in their time priority), so cancel, replace and
  the uncross see one collection.  The alternative, leaving the frozen book in place and keeping
  only new orders aside, makes every cancel/replace ask "which book?" and lets a replace in the
  frozen book trade during a halt.  The price the market sees during a call is therefore an empty
  book (no indicative price is published; the ``StatusChange`` says why).
* **The same vocabulary as the book.**  ``submit``/``cancel``/``replace`` take the arguments of
  :class:`~sim.book.OrderBook`'s and return its events (``Accepted``, ``Cancelled``,
  ``Replaced``, ``Rejected``), so the exchange translates them with the code it already has.
  IOC, FOK and post-only orders cannot wait for a call and are rejected (``bad_order_type``);
  market orders are welcome and count at every price.
* **The price rule** (Xetra, Euronext and US opening crosses all share its core): among the
  candidate prices (every limit price in the call, plus the reference price) take the one with
  the **largest executable volume** ``min(demand(p), supply(p))``; among equals the **smallest
  absolute imbalance** ``|demand(p) - supply(p)|``; among equals the price **nearest the
  reference**; then the **lower** price (a fixed choice so runs are deterministic; it never
  decides anything in practice, because a reference lying between two tied prices is itself a
  candidate that ties with them and is nearest).  Between two adjacent limit prices demand and
  supply are constant, so no price off the candidate list executes more: the volume is maximal
  among all prices, which the hypothesis tests check.
* **Allocation** walks each side in priority: market orders first, then better limit prices,
  then earlier arrival; the buy and sell queues are paired in that order, one execution per pair,
  all at the uncross price.  Maximal volume guarantees that what is left does not cross (a
  remaining bid at or above a remaining ask would mean a price with more volume), so the
  remainders can go straight into the continuous book.  Market orders left over are cancelled.
* Self-trade prevention does not apply inside an uncross (as on most venues' auctions); it
  applies again to the continuous book.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from sim.book_events import (
    STP,
    Accepted,
    Cancelled,
    CancelReason,
    Event,
    OrderType,
    Reason,
    Rejected,
    Replaced,
    Side,
)

__all__ = ["CallBook", "CallOrder", "Uncross", "choose_price", "executable_volume"]


@dataclass(slots=True)
class CallOrder:
    """One order waiting in a call: ``price`` None is a market order; ``seq`` is its time priority."""

    order_id: int
    side: Side
    price: int | None
    qty: int
    owner: Hashable | None
    stp: STP
    seq: int


@dataclass(frozen=True, slots=True)
class Uncross:
    """What an uncross decided: the price, the volume, the pairs that trade and what is left.

    ``fills`` are ``(buy order id, sell order id, qty)`` in execution order; ``rest`` are the limit
    orders (with their new leaves) that go to the continuous book, in time priority; ``cancel``
    are the market orders left unfilled.  ``price`` is None when nothing can trade.
    """

    price: int | None
    volume: int
    fills: tuple[tuple[int, int, int], ...]
    rest: tuple[CallOrder, ...]
    cancel: tuple[CallOrder, ...]


def executable_volume(bids: Iterable[tuple[int | None, int]], asks: Iterable[tuple[int | None, int]],
                      price: int) -> tuple[int, int]:
    """Demand and supply at ``price`` for (limit price or None for market, qty) pairs.

    Runtime complexity: O(n)

    >>> executable_volume([(101, 5), (None, 2)], [(100, 4), (102, 9)], 101)
    (7, 4)
    """
    demand = sum(q for p, q in bids if p is None or p >= price)
    supply = sum(q for p, q in asks if p is None or p <= price)
    return demand, supply


def choose_price(bids: list[tuple[int | None, int]], asks: list[tuple[int | None, int]],
                 reference: int) -> tuple[int | None, int]:
    """The uncross price and its volume (None, 0 when nothing trades); see the module docstring.

    Runtime complexity: O((n + k) log n) for n orders and k candidate prices, via cumulative sums.

    >>> choose_price([(101, 10)], [(99, 10)], 100)   # every candidate trades 10 with no imbalance
    (100, 10)
    >>> choose_price([(101, 10)], [(99, 4)], 100)    # 4 at 99, 100 and 101; imbalance 6 everywhere
    (100, 4)
    """
    candidates = sorted({p for p, _ in bids if p is not None} | {p for p, _ in asks if p is not None}
                        | {reference})
    market_bid = sum(q for p, q in bids if p is None)
    market_ask = sum(q for p, q in asks if p is None)
    # Demand at p = market bids + limit bids priced >= p: a suffix sum over the ascending candidates.
    bid_at: dict[int, int] = {}
    for p, q in bids:
        if p is not None:
            bid_at[p] = bid_at.get(p, 0) + q
    ask_at: dict[int, int] = {}
    for p, q in asks:
        if p is not None:
            ask_at[p] = ask_at.get(p, 0) + q
    demand = [0] * len(candidates)
    running = market_bid
    for i in range(len(candidates) - 1, -1, -1):
        running += bid_at.get(candidates[i], 0)
        demand[i] = running
    best: tuple[int, int, int, int] | None = None  # (-volume, imbalance, distance, price): smaller wins
    running = market_ask
    for i, p in enumerate(candidates):
        running += ask_at.get(p, 0)
        volume = min(demand[i], running)
        if volume <= 0:
            continue
        key = (-volume, abs(demand[i] - running), abs(p - reference), p)
        if best is None or key < best:
            best = key
    if best is None:
        return None, 0
    return best[3], -best[0]


class CallBook:
    """The orders of one instrument collected during a call, in time priority.

    >>> call = CallBook()
    >>> _ = call.submit(1, Side.BUY, 10, price=101); _ = call.submit(2, Side.SELL, 6, price=99)
    >>> result = call.uncross(reference=100)
    >>> result.price, result.fills, [(o.order_id, o.qty) for o in result.rest]
    (100, ((1, 2, 6),), [(1, 4)])
    """

    def __init__(self) -> None:
        self._orders: dict[int, CallOrder] = {}
        self._seq = 0

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def __len__(self) -> int:
        return len(self._orders)

    def orders(self) -> list[CallOrder]:
        """Every waiting order in time priority (a copy).  Runtime complexity: O(n log n)"""
        return sorted(self._orders.values(), key=lambda o: o.seq)

    def submit(self, order_id: int, side: Side | int, qty: int, price: int | None = None,
               kind: OrderType | int = OrderType.LIMIT, owner: Hashable | None = None,
               stp: STP | int = STP.NONE) -> list[Event]:
        """Collect a limit or market order; ``Accepted``, or ``Rejected`` for IOC/FOK/post-only.

        Runtime complexity: O(1)
        """
        kind = OrderType(kind)
        if kind not in (OrderType.LIMIT, OrderType.MARKET):
            return [Rejected(order_id, Reason.BAD_ORDER_TYPE,
                             f"{kind.name} orders cannot wait for an auction; send a limit or market order")]
        if order_id in self._orders:
            return [Rejected(order_id, Reason.DUPLICATE_ORDER_ID, f"order {order_id} is already in the call")]
        self._seq += 1
        side = Side(side)
        self._orders[order_id] = CallOrder(order_id, side, price if kind == OrderType.LIMIT else None, qty,
                                           owner, STP(stp), self._seq)
        return [Accepted(order_id, side, kind, price if kind == OrderType.LIMIT else None, qty)]

    def cancel(self, order_id: int) -> list[Event]:
        """Withdraw a waiting order; ``Cancelled`` (reason USER) or ``Rejected``.  Runtime complexity: O(1)"""
        order = self._orders.pop(order_id, None)
        if order is None:
            return [Rejected(order_id, Reason.UNKNOWN_ORDER, f"order {order_id!r} is not in the call")]
        return [Cancelled(order_id, order.side, order.price, order.qty, CancelReason.USER)]

    def replace(self, order_id: int, qty: int, price: int | None = None) -> list[Event]:
        """New leaves and/or price; priority is kept only for the same price and a smaller qty.

        Runtime complexity: O(1)
        """
        order = self._orders.get(order_id)
        if order is None:
            return [Rejected(order_id, Reason.UNKNOWN_ORDER, f"order {order_id!r} is not in the call")]
        if order.price is None:
            return [Rejected(order_id, Reason.BAD_ORDER_TYPE, "a market order in a call cannot be replaced")]
        new_price = order.price if price is None else price
        kept = new_price == order.price and qty <= order.qty
        event = Replaced(order_id, order.side, order.price, order.qty, new_price, qty, kept)
        if not kept:
            self._seq += 1
            order.seq = self._seq
        order.price, order.qty = new_price, qty
        return [event]

    def uncross(self, reference: int) -> Uncross:
        """Decide the uncross at the max-volume price and empty the call.  Runtime complexity: O(n log n)"""
        orders = self.orders()
        self._orders.clear()
        bids = [(o.price, o.qty) for o in orders if o.side == Side.BUY]
        asks = [(o.price, o.qty) for o in orders if o.side == Side.SELL]
        price, volume = choose_price(bids, asks, reference)
        fills: list[tuple[int, int, int]] = []
        if price is not None:
            # Priority: market first, then better price, then earlier (seq); only orders that accept price.
            buys = sorted((o for o in orders if o.side == Side.BUY and (o.price is None or o.price >= price)),
                          key=lambda o: (o.price is not None, -(o.price or 0), o.seq))
            sells = sorted((o for o in orders if o.side == Side.SELL and (o.price is None or o.price <= price)),
                           key=lambda o: (o.price is not None, o.price or 0, o.seq))
            left = volume
            i = j = 0
            while left > 0:
                buy, sell = buys[i], sells[j]
                qty = min(buy.qty, sell.qty, left)
                fills.append((buy.order_id, sell.order_id, qty))
                buy.qty -= qty
                sell.qty -= qty
                left -= qty
                if buy.qty == 0:
                    i += 1
                if sell.qty == 0:
                    j += 1
        rest = tuple(o for o in orders if o.qty > 0 and o.price is not None)
        cancel = tuple(o for o in orders if o.qty > 0 and o.price is None)
        return Uncross(price, volume, tuple(fills), rest, cancel)
