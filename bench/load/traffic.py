"""The load phase (many sessions trading) and the latency probe."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from bench.bench_fix_tcp import percentile
from bench.load.client import FixClient, abandon, cents, connect_all, logout_all, wait_answered
from bench.load.venue import ANSWER_GRACE_S, LOAD_PREFIX


async def _trade(client: FixClient, k: int, start: float, end: float, interval: float) -> None:
    """Send a limit order every ``interval`` s from ``start`` to ``end`` (loop time); every 2nd also a cancel."""
    loop = asyncio.get_running_loop()
    rng = random.Random(k)
    due = start
    i = 0
    while due < end and client.dropped is None:
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
            if client.dropped is not None:
                break
        side = b"1" if rng.random() < 0.5 else b"2"
        client.new_order(side, cents(10000 + rng.randint(-5, 5)), b"%d" % rng.randint(1, 10))
        if i % 2 == 1:
            client.cancel_oldest()
        i += 1
        due += interval  # a fixed schedule: a late wake-up does not shift the rate


async def run_load(port: int, sessions: int, seconds: float, rate: float, *, prefix: str = LOAD_PREFIX,
                   sample: Callable[[], dict] | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """``sessions`` clients log on, trade for ``seconds`` at ``rate`` orders/s each, wait for answers, log out."""
    loop = asyncio.get_running_loop()
    say = progress or (lambda text: None)
    t_connect = time.monotonic()
    clients = await connect_all(port, [f"{prefix}{k:03d}" for k in range(sessions)])
    logon_s = time.monotonic() - t_connect
    say(f"  {sessions} sessions logged on in {logon_s:.1f} s")
    samples = [{"t": 0.0, **sample()}] if sample else []
    cpu0 = time.process_time()
    interval = 1.0 / rate
    start = loop.time() + 0.2
    end = start + seconds
    # Staggered starts: the sessions' orders are spread over the interval, not sent in bursts.
    tasks = [loop.create_task(_trade(c, k, start + interval * k / sessions, end, interval))
             for k, c in enumerate(clients)]
    try:
        next_report = 5.0
        while not all(t.done() for t in tasks):
            await asyncio.sleep(0.5)
            elapsed = loop.time() - start
            if sample:
                samples.append({"t": elapsed, **sample()})
            if elapsed >= next_report:
                next_report += 5.0
                answered = sum(c.orders - len([p for p in c.pending if p[:1] == b"N"]) for c in clients)
                say(f"  t={elapsed:.0f}s: {sum(c.orders for c in clients):,} orders, {answered:,} answered, "
                    f"{sum(c.dropped is not None for c in clients)} dropped"
                    + (f", venue RSS {samples[-1]['VmRSS'] / 1024:.1f} MiB" if samples else ""))
        for task in tasks:
            task.result()  # a client bug must fail the run, not hide in a task
        trading_s = loop.time() - start
        await wait_answered(clients, ANSWER_GRACE_S)
        answer_s = loop.time() - end
        if sample:
            samples.append({"t": loop.time() - start, **sample()})
        cpu = time.process_time() - cpu0
        unanswered_orders = sum(1 for c in clients for p in c.pending if p[:1] == b"N")
        unanswered_cancels = sum(1 for c in clients for p in c.pending if p[:1] == b"C")
        dropped = [(c.comp.decode(), c.dropped) for c in clients if c.dropped is not None]
    except BaseException:
        abandon(clients, tasks)
        raise
    await logout_all(clients)
    late_drops = [(c.comp.decode(), c.dropped) for c in clients if c.dropped is not None]
    order_lat = sorted(x for c in clients for x in c.order_lat)
    cancel_lat = sorted(x for c in clients for x in c.cancel_lat)
    orders = sum(c.orders for c in clients)
    cancels = sum(c.cancels for c in clients)
    return {
        "sessions": sessions, "seconds": seconds, "rate": rate, "logon_s": logon_s, "trading_s": trading_s,
        "answer_s": answer_s, "orders": orders, "cancels": cancels, "unanswered_orders": unanswered_orders,
        "unanswered_cancels": unanswered_cancels, "acks": sum(c.acks for c in clients),
        "order_rejects": sum(c.order_rejects for c in clients),
        "throttle_rejects": sum(c.throttle_rejects for c in clients), "fills": sum(c.fills for c in clients),
        "cancelled": sum(c.cancelled for c in clients), "cancel_rejects": sum(c.cancel_rejects for c in clients),
        "dropped": dropped, "dropped_at_logout": [d for d in late_drops if d not in dropped],
        "problems": [p for c in clients for p in c.problems][:5],
        "order_lat": _lat(order_lat), "cancel_lat": _lat(cancel_lat), "client_cpu_s": cpu, "samples": samples,
    }


def _lat(sorted_ns: list[int]) -> dict:
    """p50/p99/p99.9/max in microseconds, and the sample count."""
    if not sorted_ns:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "p999": float("nan"), "max": float("nan")}
    return {"n": len(sorted_ns), "p50": percentile(sorted_ns, 50) / 1e3, "p99": percentile(sorted_ns, 99) / 1e3,
            "p999": percentile(sorted_ns, 99.9) / 1e3, "max": sorted_ns[-1] / 1e3}




async def run_probe(client: FixClient, seconds: float, rate: float) -> dict:
    """A new order (a buy far below the book: it rests) then its cancel, ``rate`` times a second."""
    loop = asyncio.get_running_loop()
    client.order_lat.clear()
    client.cancel_lat.clear()
    rejects0, problems0 = client.order_rejects, len(client.problems)
    interval = 1.0 / rate
    due = loop.time()
    end = due + seconds
    sent = 0
    while due < end and client.dropped is None:
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        client.new_order(b"1", b"90.00", b"1")
        sent += 1
        await asyncio.sleep(min(interval / 2, max(0.0, due + interval / 2 - loop.time())))
        client.cancel_oldest()
        due += interval
    await wait_answered([client], ANSWER_GRACE_S)
    return {"sent": sent, "unanswered": sum(1 for p in client.pending if p[:1] == b"N"),
            "rejects": client.order_rejects - rejects0, "problems": len(client.problems) - problems0,
            "dropped": client.dropped, "order_lat": _lat(sorted(client.order_lat)),
            "cancel_lat": _lat(sorted(client.cancel_lat))}
