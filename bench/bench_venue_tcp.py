"""Venue over TCP benchmark: orders per second through the whole venue (FIX sessions, gateway, Exchange).

Run: ``.venv/bin/python bench/bench_venue_tcp.py [--quick]`` (about 60 s; ``--quick`` about 20 s).
Writes ``bench/results/venue_tcp.md``.

What runs
---------
* **Server** (a child process: this file with ``--serve``): :class:`~sim.venue.Venue` +
  :class:`~sim.fix.transport.FixAcceptor` on uvloop, exactly as ``marketdrill exchange`` wires it
  (FIX 4.4, one symbol PRB on a 0.01 tick, one session per firm, memory stores and the default
  in-memory session log, no venue controls, no background agents).
* **Clients** (this process, uvloop): 1 or 10 firms, one TCP session each.  They are *lean*
  on purpose: orders are pre-encoded (right MsgSeqNum, fresh SendingTime) before the clock
  starts, replies are only framed and classified by byte search, and each burst of new orders
  goes out in one write.  A client running our full Session would cost about as much CPU per
  report as the venue spends per order and would measure itself, not the venue.
* Up to ``WINDOW`` orders in flight in total (shared among the sessions); an order counts as done
  when its ExecutionReport ack (150=0) or reject (150=8) arrives.
* Workloads: **rest** (buys 95.00-99.99 and sells 100.01-105.00, qty 10, nothing crosses: the book
  grows to every order sent) and **trade** (everything at 100.00, qty 1, each session alternating
  sell/buy, so about every other order takes the resting one: ack + fill to the taker, fill to the
  maker).

References in this process, for ratios that survive a noisy machine
-------------------------------------------------------------------
* **Exchange alone**: the same orders as direct ``Exchange.new_order`` calls (no FIX).
* **Venue without sockets**: the same pre-encoded frames fed straight into the venue's sessions
  (``Session.receive_bytes``), replies drained: the venue's whole FIX + matching cost, no I/O.

CPU per order is reported for the server (``/proc/<pid>/stat``, 10 ms ticks) and the references
(``time.process_time``).  Best of ``REPEATS`` runs; a fresh server per run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_fix_tcp import (  # noqa: E402
    ROOT,
    ServerProcess,
    dump_profile,
    machine_line,
    now_utc,
    ok,
    run_on,
    serve_until_stdin_closes,
)

from sim.exchange import Exchange  # noqa: E402
from sim.fix.codec import FrameReader, encode  # noqa: E402
from sim.fix.timestamps import format_utc_timestamp  # noqa: E402
from sim.fix.transport import FixAcceptor  # noqa: E402
from sim.venue import Venue  # noqa: E402
from sim.venue_config import VenueConfig, venue_config_from_dict  # noqa: E402
from sim.venue_events import OrdType, TimeInForce  # noqa: E402

VENUE_ID = "VENUE"
SYMBOL = "PRB"
WINDOW = 1000
PHASE_TIMEOUT_S = 60.0
SERVER_MAX_S = 900.0
TARGET_ORDERS_10 = 50_000


def venue_config(firms: int) -> VenueConfig:
    """FIX 4.4 venue, one symbol, ``firms`` firms F0.. with one session each."""
    return venue_config_from_dict({
        "venue": {"comp_id": VENUE_ID, "host": "127.0.0.1", "port": 0, "begin_strings": ["FIX.4.4"],
                  "reset_on_logon": True},
        "instrument": [{"symbol": SYMBOL, "tick_size": "0.01", "reference_price": "100.00", "lot_size": 1}],
        "firm": [{"id": f"F{k}"} for k in range(firms)],
        "agents": {"enabled": False},
    }, source="<bench_venue_tcp>")


# -- WORKLOADS ------------------------------------------------------------------------------------


def _cents(c: int) -> bytes:
    return b"%d.%02d" % (c // 100, c % 100)


def orders(workload: str, firm: int, count: int, firms: int) -> list[tuple[bytes, bytes, bytes]]:
    """(side, price, qty) of each order a firm sends."""
    out = []
    for i in range(count):
        if workload == "rest":
            step = (i // 2) % 500
            out.append((b"1", _cents(9999 - step), b"10") if i % 2 == 0 else (b"2", _cents(10001 + step), b"10"))
        else:
            sell = (i % 2 == 0) if firms == 1 else (firm % 2 == 0)
            out.append((b"2" if sell else b"1", b"100.00", b"1"))
    return out


def encode_flow(comp: str, tag: str, flow: list[tuple[bytes, bytes, bytes]]) -> tuple[bytes, list[bytes]]:
    """The Logon (seq 1, ResetSeqNumFlag=Y) and each NewOrderSingle frame (seq 2..), stamped now."""
    stamp = format_utc_timestamp(time.time_ns())
    begin, sender = b"FIX.4.4", comp.encode()
    logon = encode(begin, b"A", [(34, 1), (49, sender), (52, stamp), (56, VENUE_ID), (98, b"0"), (108, b"30"),
                                 (141, b"Y")])
    frames = []
    for i, (side, price, qty) in enumerate(flow):
        frames.append(encode(begin, b"D", [
            (34, i + 2), (49, sender), (52, stamp), (56, VENUE_ID), (11, b"%s%d" % (tag.encode(), i)), (21, b"1"),
            (38, qty), (40, b"2"), (44, price), (54, side), (55, SYMBOL), (59, b"0"), (60, stamp)]))
    return logon, frames


# -- SERVER (child process) -----------------------------------------------------------------------


async def _start_venue(firms: int) -> int:
    loop = asyncio.get_running_loop()
    venue = Venue(venue_config(firms), now_ns=time.time_ns,
                  schedule=lambda delay_ns, fn: loop.call_later(delay_ns / 1e9, fn))
    acceptor = FixAcceptor(venue.sessions, now_ns=time.time_ns)
    _start_venue.keep = (venue, acceptor)  # type: ignore[attr-defined]
    return await acceptor.start("127.0.0.1", 0)


def serve_main(firms: int, profile: str | None) -> None:
    """``--serve``: run the venue until the parent closes stdin."""
    def go():
        return run_on("uvloop", serve_until_stdin_closes(lambda: _start_venue(firms), SERVER_MAX_S))
    if profile:
        dump_profile(go, profile)
    else:
        go()


# -- LEAN CLIENT ----------------------------------------------------------------------------------


class _Flow(asyncio.Protocol):
    """One firm's session: logon, then keep up to ``window`` orders in flight until all are acked."""

    def __init__(self, logon: bytes, frames: list[bytes], window: int, on_done: Callable[[], None]) -> None:
        self.logon_frame, self.frames, self.window, self.on_done = logon, frames, window, on_done
        self.reader = FrameReader()
        self.logged_on: asyncio.Future = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.sent = self.acked = self.fills = self.rejects = 0
        self.errors: list[bytes] = []
        self.running = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.logon_frame)

    def start(self) -> None:
        self.running = True
        self._top_up()

    def _top_up(self) -> None:
        sent, n = self.sent, len(self.frames)
        upto = min(n, self.acked + self.window)
        if upto > sent:
            self.transport.write(b"".join(self.frames[sent:upto]))
            self.sent = upto

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        acked = self.acked
        while (frame := reader.next_frame()) is not None:
            if b"\x0135=8\x01" in frame:
                if b"\x01150=0\x01" in frame:
                    acked += 1
                elif b"\x01150=F\x01" in frame:
                    self.fills += 1
                elif b"\x01150=8\x01" in frame:
                    acked += 1
                    self.rejects += 1
                    if len(self.errors) < 3:
                        self.errors.append(frame)
            elif b"\x0135=A\x01" in frame:
                if not self.logged_on.done():
                    self.logged_on.set_result(None)
            elif b"\x0135=X\x01" in frame or b"\x0135=0\x01" in frame:
                pass
            elif len(self.errors) < 3:
                self.errors.append(frame)  # Reject, BusinessMessageReject, Logout...
        self.acked = acked
        if self.running:
            if acked >= len(self.frames):
                self.running = False
                self.on_done()
            else:
                self._top_up()

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        if not self.logged_on.done():
            self.logged_on.set_exception(ConnectionError("closed before logon"))
        if self.running:
            self.running = False
            self.on_done()


async def run_flows(port: int, workload: str, firms: int, per_firm: int, tag: str) -> dict:
    """All firms connect and log on, then send their orders at once; returns orders/s."""
    loop = asyncio.get_running_loop()
    window = max(1, WINDOW // firms)
    remaining = [firms]
    finished = loop.create_future()

    def one_done() -> None:
        remaining[0] -= 1
        if remaining[0] == 0 and not finished.done():
            finished.set_result(time.perf_counter_ns())

    flows: list[_Flow] = []
    transports = []
    try:
        for k in range(firms):
            logon, frames = encode_flow(f"F{k}", tag, orders(workload, k, per_firm, firms))
            transport, flow = await asyncio.wait_for(loop.create_connection(
                lambda lo=logon, fr=frames: _Flow(lo, fr, window, one_done), "127.0.0.1", port), 10.0)
            transports.append(transport)
            flows.append(flow)
        await asyncio.wait_for(asyncio.gather(*(f.logged_on for f in flows)), 10.0)
        gc.collect()
        cpu0 = time.process_time()
        t0 = time.perf_counter_ns()
        for flow in flows:
            flow.start()
        t1 = await asyncio.wait_for(finished, PHASE_TIMEOUT_S)
        cpu = time.process_time() - cpu0
    finally:
        for transport in transports:
            transport.close()
    total = firms * per_firm
    acked = sum(f.acked for f in flows)
    errors = [e for f in flows for e in f.errors]
    if acked < total:
        raise RuntimeError(f"only {acked}/{total} orders acknowledged; first problems: {errors[:3]!r}")
    return {"orders": total, "rate": total / ((t1 - t0) / 1e9), "fills": sum(f.fills for f in flows),
            "rejects": sum(f.rejects for f in flows), "client_cpu_us": cpu / total * 1e6,
            "errors": errors[:3]}


# -- REFERENCES (this process, no sockets) --------------------------------------------------------


def ref_exchange(workload: str, firms: int, per_firm: int) -> dict:
    """The same orders as direct Exchange calls: the matching core's cost."""
    config = venue_config(firms)
    exchange = Exchange(config.instruments, now_ns=time.time_ns)
    instrument = config.instruments.get(SYMBOL)
    commands = []
    flows = [orders(workload, k, per_firm, firms) for k in range(firms)]
    for i in range(per_firm):
        for k in range(firms):
            side, price, qty = flows[k][i]
            commands.append((f"F{k}", f"FIX.4.4:VENUE->F{k}", f"R{k}-{i}", int(side), int(qty),
                             instrument.to_ticks(price)))
    new_order = exchange.new_order
    gc.collect()
    t0 = time.process_time()
    events = 0
    for firm, owner, cl, side, qty, price in commands:
        events += len(new_order(firm=firm, owner=owner, cl_ord_id=cl, symbol=SYMBOL, side=side, qty=qty,
                                ord_type=OrdType.LIMIT, price=price, time_in_force=TimeInForce.DAY))
    cpu = time.process_time() - t0
    return {"orders": len(commands), "rate": len(commands) / cpu, "cpu_us": cpu / len(commands) * 1e6}


def ref_venue_sansio(workload: str, firms: int, per_firm: int, chunk: int = 50) -> dict:
    """The same frames fed straight into the venue's sessions: FIX + gateway + Exchange, no I/O."""
    venue = Venue(venue_config(firms), now_ns=time.time_ns)
    sessions = {s.session_id.target_comp_id: s for s in venue.sessions}
    streams = []
    for k in range(firms):
        session = sessions[f"F{k}"]
        logon, frames = encode_flow(f"F{k}", "S", orders(workload, k, per_firm, firms))
        session.connected()
        session.receive_bytes(logon)
        assert session.logged_on
        streams.append((session, [b"".join(frames[i:i + chunk]) for i in range(0, len(frames), chunk)]))
    all_sessions = [s for s, _ in streams]
    gc.collect()
    t0 = time.process_time()
    replies = 0
    for j in range(len(streams[0][1])):
        for session, chunks in streams:
            if j < len(chunks):
                replies += len(session.receive_bytes(chunks[j]))
        for session in all_sessions:
            replies += len(session.take_actions())
    cpu = time.process_time() - t0
    total = firms * per_firm
    return {"orders": total, "rate": total / cpu, "cpu_us": cpu / total * 1e6, "replies": replies}


# -- DRIVER ---------------------------------------------------------------------------------------


def run_config(workload: str, firms: int, per_firm: int, tag: str) -> dict:
    """A fresh venue server, one measured run over TCP."""
    server = ServerProcess(Path(__file__).resolve(), ["--serve", "--firms", str(firms)])
    try:
        cpu0 = server.cpu_s()
        result = run_on("uvloop", run_flows(server.port, workload, firms, per_firm, tag))
        result["server_cpu_us"] = (server.cpu_s() - cpu0) / result["orders"] * 1e6
    finally:
        server.stop()
    return result


def main() -> None:
    """Run every configuration, print the results and write bench/results/venue_tcp.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short run (~20 s); figures are rougher")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--firms", type=int, default=10, help=argparse.SUPPRESS)
    ap.add_argument("--profile", metavar="FILE",
                    help="profile the venue server (10 sessions, trade workload) with cProfile; top entries to FILE")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "venue_tcp.md"))
    args = ap.parse_args()
    if args.serve:
        serve_main(args.firms, args.profile)
        return
    total, repeats = (5000, 1) if args.quick else (16000, 2)
    if args.profile:
        server = ServerProcess(Path(__file__).resolve(), ["--serve", "--firms", "10", "--profile", args.profile])
        try:
            result = run_on("uvloop", run_flows(server.port, "trade", 10, total // 10, "P"))
            print(f"trade, 10 sessions, under the profiler: {result['rate']:,.0f} orders/s")
        finally:
            server.stop()
        print(f"venue server profile written to {args.profile}")
        return

    started = time.monotonic()
    best: dict[tuple[str, str, int], dict] = {}

    def keep(key: tuple[str, str, int], result: dict) -> None:
        print(f"  {key[0]} {key[1]} {key[2]} session(s): {result['rate']:,.0f} orders/s", flush=True)
        if key not in best or result["rate"] > best[key]["rate"]:
            best[key] = result

    for rep in range(repeats):
        print(f"bench_venue_tcp: round {rep + 1}/{repeats}", flush=True)
        for workload in ("rest", "trade"):
            for firms in (1, 10):
                keep(("tcp", workload, firms), run_config(workload, firms, total // firms, f"{workload[0]}{rep}"))
                keep(("sansio", workload, firms), ref_venue_sansio(workload, firms, total // firms))
            keep(("exchange", workload, 10), ref_exchange(workload, 10, total // 10))
    elapsed = time.monotonic() - started
    text = render(best, total, repeats, elapsed, args.quick)
    print(text)
    Path(args.out).write_text(text, encoding="utf-8")


def render(best: dict, total: int, repeats: int, elapsed: float, quick: bool) -> str:
    """The results file."""
    rows = []
    for workload in ("rest", "trade"):
        ex = best[("exchange", workload, 10)]
        for firms in (1, 10):
            tcp, ref = best[("tcp", workload, firms)], best[("sansio", workload, firms)]
            trades = tcp["fills"] // 2
            rows.append(
                f"| {workload} | {firms} | **{tcp['rate']:,.0f}** | {tcp['server_cpu_us']:.0f} | "
                f"{tcp['client_cpu_us']:.0f} | {ref['cpu_us']:.0f} | {ex['cpu_us']:.1f} | "
                f"{tcp['server_cpu_us'] / ref['cpu_us']:.2f}x | {trades:,} | {tcp['rejects']} |")
    rest10, trade10 = best[("tcp", "rest", 10)], best[("tcp", "trade", 10)]
    ex_t, ref_t = best[("exchange", "trade", 10)], best[("sansio", "trade", 10)]
    lines = [
        "# Venue over TCP benchmark",
        "",
        f"- date: {now_utc()}",
        f"- machine: {machine_line()}",
        f"- command: `.venv/bin/python bench/bench_venue_tcp.py{' --quick' if quick else ''}`",
        f"- method: venue (Venue + FixAcceptor, uvloop) in a **separate process**; lean raw-FIX clients in this "
        f"process (pre-encoded orders, replies framed and classified by byte search), one TCP session per firm; "
        f"{total:,} NewOrderSingles per run split evenly over the sessions, {WINDOW} in flight in total; an order is "
        f"done at its ack (150=0) or reject.  Fresh venue per run; best of {repeats} run(s); total {elapsed:.0f} s.",
        "- CPU columns are microseconds per order: the venue process over TCP, the client process, the venue "
        "without sockets (frames fed to its sessions in this process), and the Exchange alone (direct calls).",
        "",
        "| workload | sessions | orders/s over TCP | venue CPU us/order (TCP) | client CPU us/order | "
        "venue CPU us/order, no sockets | Exchange alone us/order | TCP / no sockets | trades | rejects |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "- rest: nothing crosses, the book grows to every order sent (1,000 price levels).  trade: one price, "
        "one session alternates sell/buy, ten sessions: even firms sell, odd firms buy (every trade between two "
        "firms); a trade sends the taker ack + fill and the maker a fill.",
        f"- where the venue's CPU goes (trade, 10 sessions): Exchange {ex_t['cpu_us']:.0f} us of "
        f"{ref_t['cpu_us']:.0f} us per order without sockets ({ex_t['cpu_us'] / ref_t['cpu_us']:.0%}); the rest "
        f"is FIX (parse, validate, session checks, encode the reports, store) and the gateway.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| venue >= {TARGET_ORDERS_10:,} orders/s over TCP with 10 sessions (resting orders) | "
        f"{rest10['rate']:,.0f}/s | {ok(rest10['rate'] >= TARGET_ORDERS_10)} |",
        f"| venue >= {TARGET_ORDERS_10:,} orders/s over TCP with 10 sessions (trading orders) | "
        f"{trade10['rate']:,.0f}/s | {ok(trade10['rate'] >= TARGET_ORDERS_10)} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
