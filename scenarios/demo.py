"""``marketdrill demo``: a seeded random order stream through one order book, summarised.

This is the main job until the scenario runner exists: it shows the pieces that work today
(instrument price grid, order book, journal hash) and that the same seed always gives the same
journal hash.
"""

from __future__ import annotations

import time

import numpy as np

from sim.book import OrderBook
from sim.book_events import Accepted, Cancelled, OrderType, Rejected, Side, Trade
from sim.instruments import Instrument
from sim.journal import Journal

T0_NS = 1_767_346_200_000_000_000  # 2026-01-02 09:30:00 UTC, the demo's virtual start


def run_demo(seed: int = 7, orders: int = 20_000) -> int:
    """Run the demo stream and print a summary; returns the exit status."""
    instrument = Instrument.create("PRB", "0.01", "100.00")
    rng = np.random.default_rng(seed)
    book = OrderBook()
    clock = [T0_NS]
    journal = Journal(lambda: clock[0])
    started = time.perf_counter()

    # Draw the whole stream up front: one vectorised call per variable, and the stream depends
    # only on the seed, not on what the book does with it.
    ops = rng.choice(4, size=orders, p=[0.55, 0.30, 0.10, 0.05])   # limit, cancel, marketable, IOC
    sides = rng.integers(1, 3, size=orders)
    offsets = rng.integers(1, 15, size=orders)
    sizes = rng.integers(1, 20, size=orders) * 100
    gaps_ns = rng.exponential(2_000_000, size=orders).astype(np.int64) + 1   # ~2 ms between events
    picks = rng.random(size=orders)

    live: list[int] = []
    counts = {"accepted": 0, "rejected": 0, "cancelled": 0, "trades": 0}
    reject_reasons: dict[str, int] = {}
    volume = notional = 0
    mid = instrument.reference_ticks
    for i in range(orders):
        clock[0] += int(gaps_ns[i])
        op = int(ops[i])
        side = Side(int(sides[i]))
        sign = 1 if side is Side.BUY else -1
        if op == 1 and live:
            order_id = live.pop(int(picks[i] * len(live)))
            events = book.cancel(order_id)
        else:
            order_id = i + 1
            qty = int(sizes[i])
            if op == 0:
                price, kind = mid - sign * int(offsets[i]), OrderType.LIMIT
            elif op == 2:
                price, kind = mid + sign * int(offsets[i]), OrderType.LIMIT
            else:
                price, kind = mid + sign * int(offsets[i]), OrderType.IOC
            events = book.submit(order_id, side, qty, price, kind=kind)
            journal.record("order.new", id=order_id, side=side.name, qty=qty, px=price, type=kind.name)
        for event in events:
            if isinstance(event, Trade):
                counts["trades"] += 1
                volume += event.qty
                notional += event.qty * event.price
                mid = event.price
                journal.record("trade", taker=event.taker_id, maker=event.maker_id, px=event.price, qty=event.qty)
            elif isinstance(event, Accepted):
                counts["accepted"] += 1
            elif isinstance(event, Cancelled):
                counts["cancelled"] += 1
                journal.record("order.cancelled", id=event.order_id, reason=str(event.reason))
            elif isinstance(event, Rejected):
                counts["rejected"] += 1
                reject_reasons[str(event.reason)] = reject_reasons.get(str(event.reason), 0) + 1
                journal.record("order.rejected", id=event.order_id, reason=str(event.reason))
        resting = book.order(order_id)
        if resting is not None and order_id not in live and op != 1:
            live.append(order_id)
    wall = time.perf_counter() - started
    book._check()

    bid, ask = book.best_bid(), book.best_ask()
    vwap = instrument.to_price(round(notional / volume)) if volume else "-"
    spread = f"{instrument.to_price(ask.price - bid.price)}" if bid and ask else "-"
    simulated_s = (clock[0] - T0_NS) / 1e9
    print(f"marketdrill demo: {orders:,} order events on {instrument.symbol} "
          f"(tick {instrument.tick_size}, seed {seed})")
    print(f"  simulated time   {simulated_s:,.1f} s of virtual time in {wall:.2f} s wall")
    print(f"  orders           {counts['accepted']:,} accepted, {counts['rejected']:,} rejected, "
          f"{counts['cancelled']:,} cancelled")
    if reject_reasons:
        detail = ", ".join(f"{reason}: {n:,}" for reason, n in sorted(reject_reasons.items()))
        print(f"  rejections       {detail} (a cancel that arrives after the order filled is refused)")
    print(f"  trades           {counts['trades']:,} trades, {volume:,} shares, VWAP {vwap}")
    if bid and ask:
        print(f"  top of book      {bid.qty:,} @ {instrument.to_price(bid.price)}  /  "
              f"{ask.qty:,} @ {instrument.to_price(ask.price)}  (spread {spread})")
    depth = book.depth(3)
    print("  depth (3 levels) bids " + ", ".join(f"{lvl.qty}@{instrument.to_price(lvl.price)}" for lvl in depth.bids))
    print("                   asks " + ", ".join(f"{lvl.qty}@{instrument.to_price(lvl.price)}" for lvl in depth.asks))
    print(f"  journal          {len(journal):,} events, hash {journal.hash}")
    print("  (run again with the same --seed: the hash is the same; the book passed its invariant check)")
    return 0
