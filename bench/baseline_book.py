"""The straightforward book that ``sim.book.OrderBook`` must beat.

What most people write first: a ``SortedDict`` of price levels per side, each
level a ``collections.deque`` of order objects, a dict for lookup by id, events
built with their ordinary constructors.  Cancel is ``deque.remove`` (O(level
size)).  Same event semantics as ``sim.book`` for what the benchmark sends
(limit, market, IOC, FOK, cancel); no self-trade prevention, no replace, and
only the validation the benchmark stream needs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from sortedcontainers import SortedDict

from sim.book_events import (
    Accepted,
    Cancelled,
    CancelReason,
    OrderType,
    Reason,
    Rejected,
    Side,
    Trade,
)


@dataclass(slots=True)
class BaselineOrder:
    order_id: int
    side: Side
    price: int
    qty: int
    owner: object


class BaselineBook:
    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()  # price -> deque[BaselineOrder]
        self.asks: SortedDict = SortedDict()
        self.orders: dict[int, BaselineOrder] = {}

    def submit(self, order_id, side, qty, price=None, kind=OrderType.LIMIT, owner=None, stp=0):
        if qty <= 0:
            return [Rejected(order_id, Reason.BAD_QUANTITY, "quantity must be positive")]
        if order_id in self.orders:
            return [Rejected(order_id, Reason.DUPLICATE_ORDER_ID, "order id already in the book")]
        side = Side(side)
        kind = OrderType(kind)
        events = [Accepted(order_id, side, kind, price, qty)]
        if kind == OrderType.FOK and self._available(side, price, qty) < qty:
            events.append(Cancelled(order_id, side, price, qty, CancelReason.FOK))
            return events
        qty = self._match(order_id, side, price, qty, events)
        if qty:
            if kind == OrderType.LIMIT:
                order = BaselineOrder(order_id, side, price, qty, owner)
                book = self.bids if side == Side.BUY else self.asks
                if price not in book:
                    book[price] = deque()
                book[price].append(order)
                self.orders[order_id] = order
            elif kind == OrderType.MARKET:
                events.append(Cancelled(order_id, side, price, qty, CancelReason.MARKET_REMAINDER))
            else:
                events.append(Cancelled(order_id, side, price, qty, CancelReason.IOC_REMAINDER))
        return events

    def _crosses(self, side, limit, level_price):
        if limit is None:
            return True
        return level_price <= limit if side == Side.BUY else level_price >= limit

    def _available(self, side, limit, wanted):
        book = self.asks if side == Side.BUY else self.bids
        prices = book.keys() if side == Side.BUY else reversed(book.keys())
        total = 0
        for p in prices:
            if not self._crosses(side, limit, p) or total >= wanted:
                break
            total += sum(o.qty for o in book[p])
        return total

    def _match(self, order_id, side, limit, qty, events):
        book = self.asks if side == Side.BUY else self.bids
        while qty and book:
            price, level = book.peekitem(0) if side == Side.BUY else book.peekitem(-1)
            if not self._crosses(side, limit, price):
                break
            while qty and level:
                maker = level[0]
                fill = min(qty, maker.qty)
                qty -= fill
                maker.qty -= fill
                events.append(Trade(order_id, maker.order_id, side, price, fill, qty, maker.qty))
                if maker.qty == 0:
                    level.popleft()
                    del self.orders[maker.order_id]
            if not level:
                del book[price]
        return qty

    def cancel(self, order_id):
        order = self.orders.pop(order_id, None)
        if order is None:
            return [Rejected(order_id, Reason.UNKNOWN_ORDER, "order is not in the book")]
        book = self.bids if order.side == Side.BUY else self.asks
        level = book[order.price]
        level.remove(order)
        if not level:
            del book[order.price]
        return [Cancelled(order_id, order.side, order.price, order.qty, CancelReason.USER)]

    def __len__(self):
        return len(self.orders)
