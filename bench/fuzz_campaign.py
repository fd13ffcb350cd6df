"""The long fuzz campaign (``make fuzz``): generated and mutated FIX at the codec, the session and the venue.

Run: ``.venv/bin/python bench/fuzz_campaign.py [--seed N] [--count N] [--venue-count N] [--jobs N]
[--only codec session venue] [--out PATH]``.  Writes ``bench/results/fuzz.md`` (``--out``) unless
``--no-write``; exits 1 when anything escaped or a reply was not the prescribed one.

Three targets, each seeded (``random.Random`` per target and shard, so a run is reproducible):

* **codec** -- byte streams through :class:`~sim.fix.codec.FrameReader` and :func:`~sim.fix.codec.decode`:
  generated messages (random valid messages of every type of the FIX 4.2/4.4 dictionaries) and
  mutations of them (bit flips, truncation, garbage inside and between frames, wrong BodyLength and
  CheckSum, duplicated/dropped/reordered fields, huge and non-ASCII values, missing SOH, bad tags,
  group count and data-length mismatches...), fed in random chunks.  Properties: only
  ``GarbledFrame`` ever leaves ``decode``, the reader never raises, a good frame after any mutated
  one (and a fence that ends what the mutated one claimed) is recovered byte-identical, the fast
  decode path agrees with the exact slow path, and a generated frame round-trips through ``encode``.
* **session** -- a logged-on acceptor :class:`~sim.fix.session.Session` (FIX 4.2 and 4.4, echo
  application) fed classified defects, each with the answer the session layer prescribes: garbled
  frames are ignored without consuming the MsgSeqNum; dictionary violations get Reject(3) with the
  right 373/371/372/45; a wrong CompID or SendingTime gets Reject 9/10 and a Logout; a wrong
  BeginString a Logout; MsgSeqNum too low a Logout and a disconnect (PossDup: ignored, or Reject
  1/122, or Reject 10 + Logout); too high a ResendRequest, then the gap fill releases the queued
  message; a valid application message the echo application does not handle gets
  BusinessMessageReject 380=3.  Plus unclassified random mutations, judged against a reference
  verdict (garbled -> silence; dictionary violation -> that Reject).  After every input the next
  good message (a TestRequest) must be answered; a session that logged out is logged on again.
* **venue** -- generated and mutated order entry (D/F/G/H/q/V) through a
  :class:`~sim.venue.Venue` built from ``examples/venue-probe.toml``, fed directly to its sessions
  in virtual time.  Every message gets a reply (ExecutionReport, OrderCancelReject, Reject,
  OrderMassCancelReport, market data), never silence (except a MarketDataRequest unsubscribe, which
  FIX answers with nothing), never an exception -- including exceptions the session turns into
  BusinessMessageReject "Application error" -- and everything the venue sends validates against
  its own dictionary.

Memory is sampled (RSS and ``sys.getallocatedblocks``) after every window of inputs; the report
compares the first window with the last.  Session stores and venue order books are state, not
leaks: the session is logged on again with ResetSeqNumFlag=Y every few thousand inputs, and the
venue is rebuilt every few thousand inputs (a new trading day), so each window holds the same
amount of state.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fuzz.codec_target import run_codec  # noqa: E402
from bench.fuzz.report import memory_summary, write_report  # noqa: E402
from bench.fuzz.results import TargetResult  # noqa: E402
from bench.fuzz.session_target import run_session  # noqa: E402
from bench.fuzz.venue_target import run_venue  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "fuzz.md"
DEFAULT_COUNT = 1_000_000        # codec and session, each
DEFAULT_VENUE_COUNT = 100_000


_RUNNERS: dict[str, Callable[..., TargetResult]] = {"codec": run_codec, "session": run_session, "venue": run_venue}


def _shard(args: tuple[str, int, int, int, float]) -> TargetResult:
    target, count, seed, shard, every_s = args
    return _RUNNERS[target](count, seed, shard, every_s=every_s)


def run_target(target: str, count: int, seed: int, jobs: int, every_s: float = 5.0) -> TargetResult:
    """Run one target over ``jobs`` processes (shards with their own seeds) and merge the results."""
    jobs = max(1, min(jobs, count))
    shares = [count // jobs + (1 if i < count % jobs else 0) for i in range(jobs)]
    work = [(target, n, seed, i, every_s) for i, n in enumerate(shares)]
    started = time.monotonic()
    if jobs == 1:
        results = [_shard(work[0])]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_shard, work))
    merged = results[0]
    for other in results[1:]:
        merged.merge(other)
    merged.seconds = time.monotonic() - started
    return merged



def main(argv: list[str] | None = None) -> int:
    """Run the campaign, print a summary, write the results file."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20260102)
    ap.add_argument("--count", type=int, default=DEFAULT_COUNT, help="inputs for the codec and for the session")
    ap.add_argument("--venue-count", type=int, default=None,
                    help=f"inputs for the venue (default {DEFAULT_VENUE_COUNT:,}, or --count/10 when --count is given)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes per target")
    ap.add_argument("--only", nargs="+", choices=list(_RUNNERS), help="run only these targets")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--no-write", action="store_true", help="do not write the results file")
    ap.add_argument("--progress-s", type=float, default=5.0)
    args = ap.parse_args(argv)
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    venue_count = args.venue_count if args.venue_count is not None else (
        DEFAULT_VENUE_COUNT if args.count == DEFAULT_COUNT else max(1, args.count // 10))
    counts = {"codec": args.count, "session": args.count, "venue": venue_count}
    started = time.monotonic()
    results = []
    for target in args.only or list(_RUNNERS):
        print(f"== {target}: {counts[target]:,} inputs, seed {args.seed}, {args.jobs} process(es)", flush=True)
        r = run_target(target, counts[target], args.seed, args.jobs, args.progress_s)
        first, last, _ = memory_summary(r)
        print(f"== {target}: {r.inputs:,} inputs in {r.seconds:.0f} s ({r.inputs / max(r.seconds, 1e-9):,.0f}/s), "
              f"escapes {r.escapes}, app errors {r.app_errors}, mismatches {r.mismatches}, invalid replies "
              f"{r.invalid_replies}; memory {first} -> {last}", flush=True)
        for f in sorted(r.findings.values(), key=lambda f: -f.count):
            print(f"   {f.kind} ({f.count}x): {f.signature}\n      e.g. {f.examples[0][:300]!r}", flush=True)
        results.append(r)
    total = time.monotonic() - started
    if not args.no_write:
        write_report(args.out, results, raw_argv, args.seed, args.jobs, total)
        print(f"wrote {args.out}", flush=True)
    return 0 if all(r.clean for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
