"""Venue load and flood-isolation benchmark: 100 FIX sessions over TCP, and one flooder vs a probe.

Run: ``.venv/bin/python bench/bench_load.py [--quick]`` (about 90 s; ``--quick`` about 35 s).
Writes ``bench/results/load.md``.

What runs
---------
* **Venue**: the real ``marketdrill exchange --config FILE --port 0 --quiet`` in a child process
  (its port is read from its stdout), on a config generated in a temp dir: FIX 4.4, one symbol PRB
  (0.01 tick, reference 100.00), ``LOAD_SESSIONS`` firms ``L000``.. plus ``FLOOD`` and ``PROBE``,
  no background agents, and the message throttle on (``THROTTLE``: CME-like, 1,000 messages per
  3 s rejected beyond, 1,500 logs the session out).  Its memory is read from
  ``/proc/<pid>/status`` (VmRSS, VmHWM) and its CPU from ``/proc/<pid>/stat``.
* **Load phase** (fresh venue): ``LOAD_SESSIONS`` lean raw-FIX sessions in this process (uvloop)
  log on, then each sends limit orders at a fixed rate (random side, price 100.00 +- 5 ticks, so
  about half cross and trade) and every second order also cancels its oldest working order; then
  they wait for the last answers and log out.  Every NewOrderSingle must get its first
  ExecutionReport (ack, reject or fill) and every cancel its report or OrderCancelReject; a
  session that gets a Logout or loses its connection without asking is *dropped*.
* **Flood isolation** (another fresh venue): the ``PROBE`` session sends a new order and a cancel
  at a steady rate and measures order -> ack; first alone, then while ``FLOOD``, in a child
  process of its own, writes orders as fast as TCP lets it (it ignores the Logout and reconnects
  whenever it is disconnected, as an abusive client would), counting what the venue did to it.

Latencies are client-side ``perf_counter_ns`` from just before the write to the reply's
``data_received`` (so they include both event loops and the kernel).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_fix_tcp import ROOT, run_on  # noqa: E402
from bench.load.flood import flood_main, run_flood_isolation  # noqa: E402
from bench.load.report import render  # noqa: E402
from bench.load.traffic import run_load  # noqa: E402
from bench.load.venue import LOAD_RATE, LOAD_SESSIONS, PROBE_RATE, running_venue  # noqa: E402


def load_phase(sessions: int, seconds: float, rate: float, say: Callable[[str], None]) -> dict:
    """A fresh venue: baseline memory, the load run, peak memory and CPU."""
    with running_venue(sessions) as venue:
        time.sleep(1.0)  # let the venue settle after start-up before the baseline
        base = venue.memory_kb()
        say(f"  venue pid {venue.pid} on port {venue.port}: baseline RSS {base['VmRSS'] / 1024:.1f} MiB "
            f"(peak so far {base['VmHWM'] / 1024:.1f} MiB)")
        cpu0 = venue.cpu_s()
        result = run_on("uvloop", run_load(venue.port, sessions, seconds, rate, sample=venue.memory_kb, progress=say))
        result["venue_cpu_s"] = venue.cpu_s() - cpu0
        result["base_kb"] = base
        result["end_kb"] = venue.memory_kb()
        result["venue_alive"] = venue.alive()
    return result


def flood_phase(seconds: float, rate: float, rounds: int, say: Callable[[str], None]) -> list[dict]:
    """``rounds`` times, on a fresh venue each: the probe alone, then under flood."""
    results = []
    for k in range(rounds):
        say(f"  round {k + 1}/{rounds}")
        with running_venue(0) as venue:
            result = run_on("uvloop", run_flood_isolation(venue, seconds, rate, say))
            result["venue_alive"] = venue.alive()
        results.append(result)
    return results


def _sigterm_to_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: they stop the child processes


def main() -> None:
    """Run both phases, print the results and write bench/results/load.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short run (~35 s): 5 s of load, 5 s per probe condition")
    ap.add_argument("--sessions", type=int, default=LOAD_SESSIONS, help="load sessions (default 100)")
    ap.add_argument("--rate", type=float, default=LOAD_RATE, help="new orders per second per load session")
    ap.add_argument("--seconds", type=float, default=None, help="load phase length (default 20, --quick 5)")
    ap.add_argument("--flood", nargs=2, metavar=("PORT", "SECONDS"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.md"))
    args = ap.parse_args()
    if args.flood:
        flood_main(int(args.flood[0]), float(args.flood[1]))
        return
    signal.signal(signal.SIGTERM, _sigterm_to_exit)
    load_s = args.seconds or (5.0 if args.quick else 20.0)
    probe_s, rounds = (5.0, 1) if args.quick else (10.0, 2)
    args.load_at_start = os.getloadavg()[0]
    started = time.monotonic()
    print(f"bench_load: {args.sessions} sessions x {args.rate:g} orders/s for {load_s:g} s", flush=True)
    load = load_phase(args.sessions, load_s, args.rate, lambda text: print(text, flush=True))
    print(f"  {load['orders']:,} orders, {load['unanswered_orders']} unanswered, {len(load['dropped'])} dropped; "
          f"venue peak RSS {load['samples'][-1]['VmHWM'] / 1024:.1f} MiB", flush=True)
    print(f"bench_load: flood isolation, probe at {PROBE_RATE} orders/s, {probe_s:g} s per condition, "
          f"{rounds} round(s)", flush=True)
    flood_result = flood_phase(probe_s, PROBE_RATE, rounds, lambda text: print(text, flush=True))
    elapsed = time.monotonic() - started
    text = render(load, flood_result, probe_s, elapsed, args)
    print(text)
    Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("bench_load: interrupted (child processes stopped)", file=sys.stderr)
        sys.exit(130)
