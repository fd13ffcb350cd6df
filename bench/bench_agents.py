"""Agents benchmark: background-market commands per second of CPU, in virtual time.

Run: ``.venv/bin/python bench/bench_agents.py`` (about 30-60 s on the 2-core dev VM).  Writes
``bench/results/agents.md``.

An *agent event* is one order, cancel or replace an agent submits, including its matching and
the Exchange's reports (``Market.commands``).  The market runs on a standalone ``VirtualClock``
(no asyncio) for ``VIRTUAL_S`` seconds of virtual time over ``SYMBOLS`` instruments with busy
settings, so almost all CPU goes to agent decisions, timers and the Exchange.  Three figures:

1. **agents + Exchange** - ``emit`` is a no-op: the agents' own cost plus the Exchange's;
2. **full venue wiring** - the same market attached to a real :class:`~sim.venue.Venue` with
   :func:`~sim.agents.attach_to_venue` (emit = the gateway's dispatch to market data, no
   subscribers), i.e. what a scenario pays;
3. **Exchange alone** - the exact command stream of run 1, recorded once and replayed straight
   into a fresh Exchange with no agents: what the matching core costs for the same work.
   ``agents only`` = (1 - 3) per command is the agent layer's own overhead.

CPU time (``time.process_time``) rather than wall time: the dev box is a shared 2-core VM whose
load average often exceeds 2, and process time is what our code costs.  Best of ``REPEATS``.
"""

from __future__ import annotations

import datetime as _dt
import gc
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from sim.agents import Market, agents_config_from_dict, attach_to_venue  # noqa: E402
from sim.clock import VirtualClock, seconds  # noqa: E402
from sim.exchange import Exchange  # noqa: E402
from sim.instruments import InstrumentTable  # noqa: E402

VIRTUAL_S = 6
SYMBOLS = 10
REPEATS = 5
SEED = 42
AGENTS = {"seed": SEED, "noise_rate_per_s": 200, "lp_count": 4, "lp_refresh_ms": 50, "momentum_count": 2,
          "momentum_rate_per_s": 5}


def _instruments() -> list[dict]:
    out = []
    for i in range(SYMBOLS):
        tick, ref = (("0.01", "100.00"), ("0.25", "5000.00"), ("1", "3000"))[i % 3]
        out.append({"symbol": f"S{i}", "tick_size": tick, "reference_price": ref})
    return out


def _table() -> InstrumentTable:
    return InstrumentTable.from_dicts(_instruments())


def run_agents(record: list | None = None) -> tuple[float, int, str]:
    """Run 1: agents + Exchange; return (cpu seconds, commands, digest)."""
    clock = VirtualClock()
    exchange = Exchange(_table(), now_ns=clock.now_ns)
    if record is not None:
        for name in ("new_order", "cancel", "replace"):
            method = getattr(exchange, name)

            def recorder(*, _m=method, _n=name, **kwargs):
                record.append((_n, kwargs))
                return _m(**kwargs)
            setattr(exchange, name, recorder)
    market = Market(agents_config_from_dict(AGENTS), exchange, clock, emit=lambda events: None)
    market.start()
    t0 = time.process_time()
    clock.advance(seconds(VIRTUAL_S))
    return time.process_time() - t0, market.commands, market.digest()


def run_venue() -> tuple[float, int, str]:
    """Run 2: the same market wired into a Venue (emit = gateway dispatch)."""
    from sim.venue import Venue
    from sim.venue_config import venue_config_from_dict

    config = venue_config_from_dict({"instrument": _instruments(), "firm": [{"id": "A"}], "agents": AGENTS})
    clock = VirtualClock()
    venue = Venue(config, now_ns=clock.now_ns)
    market = attach_to_venue(venue, clock)
    t0 = time.process_time()
    clock.advance(seconds(VIRTUAL_S))
    return time.process_time() - t0, market.commands, market.digest()


def run_exchange_only(calls: list) -> float:
    """Run 3: replay the recorded command stream into a fresh Exchange."""
    exchange = Exchange(_table(), now_ns=lambda: 0)
    bound = {name: getattr(exchange, name) for name in ("new_order", "cancel", "replace")}
    t0 = time.process_time()
    for name, kwargs in calls:
        bound[name](**kwargs)
    return time.process_time() - t0


def _nogc():
    gc.disable()
    try:
        return run_agents()
    finally:
        gc.enable()


def main() -> None:
    wall0 = time.perf_counter()
    calls: list = []
    _, n_rec, digest_rec = run_agents(calls)
    # interleaved repeats: the shared VM's load changes by the second, and every variant should
    # see the same weather; the best of each is the least disturbed
    runs: dict[str, list] = {"agents": [], "venue": [], "exchange": [], "nogc": []}
    for _ in range(REPEATS):
        for name, fn in (("agents", run_agents), ("venue", run_venue), ("exchange", lambda: run_exchange_only(calls)),
                         ("nogc", _nogc)):
            gc.collect()
            runs[name].append(fn())
    cpu_a, n_a, digest_a = min(runs["agents"])
    cpu_v, n_v, digest_v = min(runs["venue"])
    cpu_nogc = min(runs["nogc"])[0]
    cpu_x = min(runs["exchange"])
    assert n_a == n_rec == len(calls) and digest_a == digest_rec, "recording changed the run"
    assert digest_v == digest_a, "venue wiring changed what the agents did"
    per = {k: v for k, v in zip(("agents", "venue", "exchange"), (cpu_a / n_a, cpu_v / n_v, cpu_x / n_a),
                                strict=True)}
    agents_only = per["agents"] - per["exchange"]
    kinds: dict[str, int] = {}
    for name, _kwargs in calls:
        kinds[name] = kinds.get(name, 0) + 1
    rows = [
        ("agents + Exchange (emit no-op)", n_a / cpu_a, per["agents"]),
        ("agents + Exchange, GC disabled", n_a / cpu_nogc, cpu_nogc / n_a),
        ("full venue wiring (attach_to_venue, dispatch to market data)", n_v / cpu_v, per["venue"]),
        ("Exchange alone, same command stream replayed", n_a / cpu_x, per["exchange"]),
        ("agent layer alone (1st row minus Exchange alone)", 1 / agents_only if agents_only > 0 else float("inf"),
         agents_only),
    ]
    wall = time.perf_counter() - wall0
    lines = [
        "# Agents benchmark",
        "",
        f"- date: {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.machine()}, nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, load average {os.getloadavg()[0]:.2f} at the end",
        "- command: `.venv/bin/python bench/bench_agents.py`",
        f"- workload: {SYMBOLS} symbols, {VIRTUAL_S} s virtual, seed {SEED}, `{AGENTS}` (+ defaults); "
        f"{n_a:,} agent events: " + ", ".join(f"{v:,} {k}" for k, v in sorted(kinds.items())),
        f"- method: CPU time (`time.process_time`) of `clock.advance`, best of {REPEATS} interleaved; total wall "
        f"{wall:.0f} s; digests of all runs equal ({digest_a[:12]}...)",
        "",
        "| measurement | agent events/s | us per event |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {rate:,.0f} | {us * 1e6:.1f} |" for name, rate, us in rows]
    share = per["exchange"] / per["agents"]
    lines += [
        "",
        f"- target: >= 300,000 agent events/s. **Not met** end to end: {n_a / cpu_a:,.0f}/s.",
        f"- what limits it: the Exchange core is {share:.0%} of the CPU per event "
        f"({per['exchange'] * 1e6:.1f} us: an `Order` record, 2-4 `ExecReport` records (slotted, no longer frozen: see sim/venue_events.py), exec-id "
        "strings and a `BookChange` per command; the book's own matching is a few us of that). "
        "Exchange.orders keeps every order ever sent, so the cyclic GC scans a growing heap "
        f"(GC off: {n_a / cpu_nogc:,.0f}/s).  The agent layer itself (decisions from pre-drawn numpy "
        "batches, one clock timer per action, arbitrageur look-ups, routing, digest) costs "
        f"{agents_only * 1e6:.1f} us per event by subtraction, so even a free Exchange would stop near "
        f"{1 / agents_only if agents_only > 0 else float('inf'):,.0f}/s in CPython.",
        "- figures move by +-30 % between runs on this VM (load from other jobs); compare ratios within one "
        "file rather than across files.",
        "- the agents' own ExecReports are not dispatched (they reach no session); dispatching them would "
        "build a FIX body with Decimal arithmetic for each before finding no session.",
    ]
    out = Path(__file__).resolve().parent / "results" / "agents.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
