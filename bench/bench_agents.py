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


def run_agents(record: list | None = None) -> tuple[float, int, str, int]:
    """Run 1: agents + Exchange; return (cpu seconds, commands, digest, clock timers run)."""
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
    timers = clock.advance(seconds(VIRTUAL_S))
    return time.process_time() - t0, market.commands, market.digest(), timers


def clock_cost(chains: int = 64, n: int = 20_000) -> float:
    """CPU seconds per VirtualClock timer: a no-op callback that schedules its successor.

    ``chains`` timers are pending at once, about what the agents keep (one per agent plus the
    market's own), so the heap is as deep as in run 1.
    """
    clock = VirtualClock()
    gap = 1_000 * chains

    def tick() -> None:
        clock.call_at(clock.now_ns() + gap, tick)

    for i in range(chains):
        clock.call_at(clock.now_ns() + 1 + i * 1_000, tick)
    t0 = time.process_time()
    ran = clock.advance(n * 1_000)
    return (time.process_time() - t0) / ran


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
    _, n_rec, digest_rec, _ = run_agents(calls)
    # interleaved repeats: the shared VM's load changes by the second, and every variant should
    # see the same weather; the best of each is the least disturbed
    runs: dict[str, list] = {"agents": [], "venue": [], "exchange": [], "nogc": [], "clock": []}
    for _ in range(REPEATS):
        for name, fn in (("agents", run_agents), ("venue", run_venue), ("exchange", lambda: run_exchange_only(calls)),
                         ("nogc", _nogc), ("clock", clock_cost)):
            gc.collect()
            runs[name].append(fn())
    cpu_a, n_a, digest_a, timers = min(runs["agents"])
    cpu_v, n_v, digest_v = min(runs["venue"])
    cpu_nogc = min(runs["nogc"])[0]
    cpu_x = min(runs["exchange"])
    clock_per_event = min(runs["clock"]) * timers / n_a
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
        (f"- of which VirtualClock timers ({timers / n_a:.2f} per event, no-op timers timed alone)",
         1 / clock_per_event, clock_per_event),
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
        f"- target: >= 300,000 agent events/s, i.e. 3.3 us per event; measured end to end {n_a / cpu_a:,.0f}/s "
        "(table below).",
        "- before the 2026-11-25 hot-path rework (same workload and digest): 33,609/s end to end, Exchange alone "
        "16.2 us per event (load 0.34).  Load-independent comparison, valgrind instruction counts per event "
        "(cachegrind, PYTHONHASHSEED=0): end to end 120.8k -> 99.3k, Exchange alone 72.3k -> 52.3k, agent layer "
        "48.6k -> 46.9k; interleaved A/B under the same load (best of 5 x 4 rounds): 25,259/s -> 34,851/s, "
        "Exchange alone 20.5 -> 14.2 us.",
        f"- what limits it: the Exchange core is {share:.0%} of the CPU per event ({per['exchange'] * 1e6:.1f} us).  "
        "Per command it builds an `Order` (19 fields), 1-4 `ExecReport`s (21 fields), their exec-id strings and a "
        "`BookChange`, and indexes the order three ways; a bytecode count (sys.settrace opcodes) puts ~1,500 "
        "bytecodes behind each agent event (1 s of this workload, 2026-11-25): Exchange ~420, book ~265, "
        "dataclass `__init__`s ~140, Market routing and digest ~195, VirtualClock ~200, the agents' own "
        "decisions ~280.  No single piece is big "
        "enough to matter alone; 300k/s would need ~150 bytecodes per event, a tenth of what one order with its "
        "reports costs in CPython.  The cyclic GC is a few per cent (GC off: "
        f"{n_a / cpu_nogc:,.0f}/s): Exchange.orders keeps every order, but most garbage dies by refcount.  The "
        f"agent layer costs {agents_only * 1e6:.1f} us per event by subtraction, {clock_per_event * 1e6:.1f} us of "
        "it the clock's timers (sim/clock.py: `run_until` asks `next_timer_ns` and `step` asks it again, each "
        "dropping cancelled heads through `Timer.cancelled()`), so even a free Exchange would stop near "
        f"{1 / agents_only if agents_only > 0 else float('inf'):,.0f}/s in CPython.",
        "- figures move by +-30 % between runs on this VM (load from other jobs); compare ratios within one "
        "file rather than across files.",
        "- the agents' own ExecReports are not dispatched (they reach no session); dispatching them would "
        "build a FIX body for each before finding no session.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| >= 300,000 agent events/s (agents + Exchange, virtual time) | {n_a / cpu_a:,.0f}/s | "
        f"{'yes' if n_a / cpu_a >= 300_000 else '**not met**'} |",
    ]
    out = Path(__file__).resolve().parent / "results" / "agents.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
