"""Vocabulary of the order book: enums, reason codes and the events it emits.

Events are ``typing.NamedTuple`` classes: typed, immutable, readable in a repr,
and cheap.  The book builds them on its hot path with ``tuple.__new__(Cls,
(...))``, which skips the generated Python ``__new__`` and costs about a third
of a slotted dataclass (frozen slotted dataclasses cost four times more, see
``bench/results/book.md``).  Plain tuples compare equal across classes, so
every event class gets an ``__eq__`` that also compares the class: a
``Cancelled`` never equals a ``Trade`` with the same fields.

Sides, order types and STP modes are ``IntEnum`` so callers may pass the FIX-ish
integers (``1`` buy, ``2`` sell); the book normalises them to members in the
events.  Reason codes are ``StrEnum``: stable machine strings for logs and
journals, each ``Rejected`` also carries a human sentence.
"""

from __future__ import annotations

from collections.abc import Hashable
from enum import IntEnum, StrEnum
from typing import NamedTuple

__all__ = [
    "Side", "OrderType", "STP", "Reason", "CancelReason",
    "Accepted", "Rejected", "Trade", "Cancelled", "Reduced", "Replaced",
    "PriceLevel", "Depth", "RestingOrder", "Event", "touched_levels",
]


class _ShortRepr:
    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"  # type: ignore[attr-defined]


class Side(_ShortRepr, IntEnum):
    """Side of an order; the values are FIX Side(54)."""

    BUY = 1
    SELL = 2


class OrderType(_ShortRepr, IntEnum):
    """How an incoming order treats the part that does not trade at once."""

    LIMIT = 0       # rests
    MARKET = 1      # no price; the rest is cancelled (never converted to a limit)
    IOC = 2         # limit price; the rest is cancelled
    FOK = 3         # limit price; all at once or nothing
    POST_ONLY = 4   # limit price; rejected if it would trade on arrival


class STP(_ShortRepr, IntEnum):
    """Self-trade prevention mode of the incoming (aggressing) order."""

    NONE = 0
    CANCEL_NEWEST = 1   # cancel the aggressor's remaining quantity
    CANCEL_OLDEST = 2   # cancel the resting order, keep matching
    CANCEL_BOTH = 3     # cancel both
    DECREMENT = 4       # shrink both by the smaller quantity, no trade


class Reason(_ShortRepr, StrEnum):
    """Machine reason code of a ``Rejected`` event."""

    BAD_ORDER_ID = "bad_order_id"
    DUPLICATE_ORDER_ID = "duplicate_order_id"
    UNKNOWN_ORDER = "unknown_order"
    BAD_SIDE = "bad_side"
    BAD_ORDER_TYPE = "bad_order_type"
    BAD_QUANTITY = "bad_quantity"
    MISSING_PRICE = "missing_price"
    UNEXPECTED_PRICE = "unexpected_price"
    BAD_PRICE = "bad_price"
    BAD_STP = "bad_stp"
    WOULD_CROSS = "would_cross"


class CancelReason(_ShortRepr, StrEnum):
    """Why quantity left the book without trading (``Cancelled.reason``)."""

    USER = "user"
    IOC_REMAINDER = "ioc_remainder"
    FOK = "fok"
    MARKET_REMAINDER = "market_remainder"
    STP = "stp"


# -- EVENTS --

class Accepted(NamedTuple):
    """A new order passed validation; trades, a cancel or nothing (it rests) follow.

    ``price`` is None for a market order.
    """

    order_id: int
    side: Side
    kind: OrderType
    price: int | None
    qty: int


class Rejected(NamedTuple):
    """A request was refused; the book did not change."""

    order_id: object
    reason: Reason
    text: str


class Trade(NamedTuple):
    """One execution between the aggressor (taker) and one resting order (maker).

    The price is the maker's; ``*_leaves`` are the quantities each order still
    has open after this trade (0 = done).  The maker is on the other side.
    """

    taker_id: int
    maker_id: int
    taker_side: Side
    price: int
    qty: int
    taker_leaves: int
    maker_leaves: int


class Cancelled(NamedTuple):
    """An order is done without trading ``qty`` (its leaves at that moment).

    ``price`` is the order's limit (None for a market order).
    """

    order_id: int
    side: Side
    price: int | None
    qty: int
    reason: CancelReason


class Reduced(NamedTuple):
    """STP decrement took ``qty`` off an order that stays open with ``leaves``."""

    order_id: int
    side: Side
    price: int | None
    qty: int
    leaves: int


class Replaced(NamedTuple):
    """A resting order now has ``price`` and ``qty`` leaves (trades may follow)."""

    order_id: int
    side: Side
    old_price: int
    old_qty: int
    price: int
    qty: int
    priority_kept: bool


Event = Accepted | Rejected | Trade | Cancelled | Reduced | Replaced


def _event_eq(self: tuple, other: object) -> bool:
    return type(self) is type(other) and tuple.__eq__(self, other)


def _event_ne(self: tuple, other: object) -> bool:
    return not _event_eq(self, other)


def _event_hash(self: tuple) -> int:
    return hash((type(self).__name__, tuple(self)))


for _cls in (Accepted, Rejected, Trade, Cancelled, Reduced, Replaced):
    _cls.__eq__ = _event_eq  # type: ignore[method-assign,assignment]
    _cls.__ne__ = _event_ne  # type: ignore[method-assign,assignment]
    _cls.__hash__ = _event_hash  # type: ignore[method-assign,assignment]


# -- QUERY RESULTS --

class PriceLevel(NamedTuple):
    """Aggregate of one price level: total leaves and number of orders."""

    price: int
    qty: int
    count: int


class Depth(NamedTuple):
    """Best-first price levels of each side."""

    bids: list[PriceLevel]
    asks: list[PriceLevel]


class RestingOrder(NamedTuple):
    """A resting order as the book sees it (``leaves`` is its open quantity)."""

    order_id: int
    side: Side
    price: int
    leaves: int
    owner: Hashable | None
    stp: STP
    post_only: bool


def touched_levels(events: list) -> list[tuple[Side, int]]:
    """Return the (side, price) levels the events may have changed, in first-touch order.

    A superset of the levels whose totals changed: look each up with
    ``OrderBook.level_qty`` to publish incremental market data.

    Runtime complexity: O(len(events))

    >>> touched_levels([Accepted(1, Side.BUY, OrderType.LIMIT, 100, 5),
    ...                 Trade(1, 7, Side.BUY, 99, 2, 3, 0)])
    [(Side.BUY, 100), (Side.SELL, 99)]
    """
    seen: dict[tuple[Side, int], None] = {}
    for ev in events:
        cls = type(ev)
        if cls is Trade:
            seen[(Side.SELL if ev.taker_side == Side.BUY else Side.BUY, ev.price)] = None
        elif cls is Replaced:
            seen[(ev.side, ev.old_price)] = None
            seen[(ev.side, ev.price)] = None
        elif cls is not Rejected and ev.price is not None:
            seen[(ev.side, ev.price)] = None
    return list(seen)
