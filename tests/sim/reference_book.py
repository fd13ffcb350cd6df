"""A deliberately tiny, obviously correct order book to test ``sim.book`` against.

One plain list of resting orders, each with an arrival number.  The best
opposite order is found by sorting that list every time; a FOK order is run as
an IOC on a deep copy of the book and kept only if its whole quantity traded.
No speed, no cleverness: it shares only the event and enum classes with
``sim.book``, none of its logic.
"""

from __future__ import annotations

import copy
import operator

from sim.book_events import (
    STP,
    Accepted,
    Cancelled,
    CancelReason,
    OrderType,
    PriceLevel,
    Reason,
    Reduced,
    Rejected,
    Replaced,
    Side,
    Trade,
)


def as_int(x):
    if isinstance(x, bool):
        return None
    try:
        return operator.index(x)
    except (TypeError, ValueError):
        return None


class RefOrder:
    def __init__(self, order_id, side, price, qty, owner, stp, post_only, seq):
        self.order_id = order_id
        self.side = side
        self.price = price
        self.qty = qty
        self.owner = owner
        self.stp = stp
        self.post_only = post_only
        self.seq = seq


class ReferenceBook:
    def __init__(self):
        self.orders: list[RefOrder] = []  # every resting order, any order
        self.seq = 0

    def find(self, order_id):
        oid = as_int(order_id)
        for o in self.orders:
            if oid is not None and o.order_id == oid:
                return o
        return None

    def crosses(self, side, price, other):
        """Would an order on ``side`` at ``price`` (None = market) trade with ``other``?"""
        if other.side == side:
            return False
        if price is None:
            return True
        return price >= other.price if side == Side.BUY else price <= other.price

    def queue(self, side, price):
        """Resting orders the incoming order can trade with, best first."""
        found = [o for o in self.orders if self.crosses(side, price, o)]
        if side == Side.BUY:
            found.sort(key=lambda o: (o.price, o.seq))
        else:
            found.sort(key=lambda o: (-o.price, o.seq))
        return found

    def match(self, oid, side, price, qty, owner, stp, events):
        """Trade against the queue; return the leaves (0 also when STP cancelled us)."""
        while qty > 0:
            q = self.queue(side, price)
            if not q:
                break
            r = q[0]
            if stp != STP.NONE and owner is not None and r.owner == owner:
                if stp == STP.DECREMENT:
                    m = min(r.qty, qty)
                    r.qty -= m
                    qty -= m
                    if r.qty == 0:
                        self.orders.remove(r)
                        events.append(Cancelled(r.order_id, r.side, r.price, m, CancelReason.STP))
                    else:
                        events.append(Reduced(r.order_id, r.side, r.price, m, r.qty))
                    if qty == 0:
                        events.append(Cancelled(oid, side, price, m, CancelReason.STP))
                    else:
                        events.append(Reduced(oid, side, price, m, qty))
                    continue
                if stp in (STP.CANCEL_OLDEST, STP.CANCEL_BOTH):
                    self.orders.remove(r)
                    events.append(Cancelled(r.order_id, r.side, r.price, r.qty, CancelReason.STP))
                if stp in (STP.CANCEL_NEWEST, STP.CANCEL_BOTH):
                    events.append(Cancelled(oid, side, price, qty, CancelReason.STP))
                    return 0
                continue
            fill = min(r.qty, qty)
            r.qty -= fill
            qty -= fill
            if r.qty == 0:
                self.orders.remove(r)
            events.append(Trade(oid, r.order_id, side, r.price, fill, qty, r.qty))
        return qty

    def rest(self, oid, side, price, qty, owner, stp, post_only):
        self.seq += 1
        self.orders.append(RefOrder(oid, side, price, qty, owner, stp, post_only, self.seq))

    def would_cross(self, side, price):
        return bool(self.queue(side, price))

    def submit(self, order_id, side, qty, price=None, kind=OrderType.LIMIT, owner=None, stp=STP.NONE):
        oid = as_int(order_id)
        if oid is None:
            return [Rejected(order_id, Reason.BAD_ORDER_ID, "bad id")]
        if self.find(oid) is not None:
            return [Rejected(oid, Reason.DUPLICATE_ORDER_ID, "duplicate")]
        if as_int(side) not in (1, 2):
            return [Rejected(oid, Reason.BAD_SIDE, "bad side")]
        side = Side(as_int(side))
        k = as_int(kind)
        if k not in [t.value for t in OrderType]:
            return [Rejected(oid, Reason.BAD_ORDER_TYPE, "bad type")]
        kind = OrderType(k)
        q = as_int(qty)
        if q is None or q <= 0:
            return [Rejected(oid, Reason.BAD_QUANTITY, "bad qty")]
        if kind == OrderType.MARKET:
            if price is not None:
                return [Rejected(oid, Reason.UNEXPECTED_PRICE, "price on market")]
        else:
            if price is None:
                return [Rejected(oid, Reason.MISSING_PRICE, "no price")]
            if as_int(price) is None:
                return [Rejected(oid, Reason.BAD_PRICE, "bad price")]
            price = as_int(price)
        m = as_int(stp)
        if m not in [s.value for s in STP]:
            return [Rejected(oid, Reason.BAD_STP, "bad stp")]
        stp = STP(m)
        if kind == OrderType.POST_ONLY and self.would_cross(side, price):
            return [Rejected(oid, Reason.WOULD_CROSS, "would cross")]
        events = [Accepted(oid, side, kind, price, q)]
        if kind == OrderType.FOK:
            trial = copy.deepcopy(self)
            trial_events = []
            trial.match(oid, side, price, q, owner, stp, trial_events)
            traded = sum(e.qty for e in trial_events if isinstance(e, Trade))
            if traded == q:
                self.orders, self.seq = trial.orders, trial.seq
                return events + trial_events
            return events + [Cancelled(oid, side, price, q, CancelReason.FOK)]
        left = self.match(oid, side, price, q, owner, stp, events)
        if left:
            if kind in (OrderType.LIMIT, OrderType.POST_ONLY):
                self.rest(oid, side, price, left, owner, stp, kind == OrderType.POST_ONLY)
            elif kind == OrderType.IOC:
                events.append(Cancelled(oid, side, price, left, CancelReason.IOC_REMAINDER))
            else:
                events.append(Cancelled(oid, side, price, left, CancelReason.MARKET_REMAINDER))
        return events

    def cancel(self, order_id):
        o = self.find(order_id)
        if o is None:
            return [Rejected(order_id, Reason.UNKNOWN_ORDER, "unknown")]
        self.orders.remove(o)
        return [Cancelled(o.order_id, o.side, o.price, o.qty, CancelReason.USER)]

    def replace(self, order_id, qty, price=None):
        o = self.find(order_id)
        if o is None:
            return [Rejected(order_id, Reason.UNKNOWN_ORDER, "unknown")]
        q = as_int(qty)
        if q is None or q <= 0:
            return [Rejected(order_id, Reason.BAD_QUANTITY, "bad qty")]
        if price is None:
            price = o.price
        elif as_int(price) is None:
            return [Rejected(order_id, Reason.BAD_PRICE, "bad price")]
        price = as_int(price)
        if price == o.price and q <= o.qty:
            events = [Replaced(o.order_id, o.side, o.price, o.qty, price, q, True)]
            o.qty = q
            return events
        self.orders.remove(o)
        if o.post_only and self.would_cross(o.side, price):
            self.orders.append(o)  # nothing changed: put it back with its old arrival number
            return [Rejected(order_id, Reason.WOULD_CROSS, "would cross")]
        events = [Replaced(o.order_id, o.side, o.price, o.qty, price, q, False)]
        left = self.match(o.order_id, o.side, price, q, o.owner, o.stp, events)
        if left:
            self.rest(o.order_id, o.side, price, left, o.owner, o.stp, o.post_only)
        return events

    def depth(self, n=5):
        out = []
        for side, best_first in ((Side.BUY, True), (Side.SELL, False)):
            prices = sorted({o.price for o in self.orders if o.side == side}, reverse=best_first)[:n]
            out.append([PriceLevel(p, sum(o.qty for o in self.orders if o.side == side and o.price == p),
                                   sum(1 for o in self.orders if o.side == side and o.price == p))
                        for p in prices])
        return out

    def resting(self):
        """Every resting order as a comparable tuple, in a canonical order."""
        return sorted((o.order_id, o.side, o.price, o.qty) for o in self.orders)
