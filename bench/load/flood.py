"""The abusive flooder (a child process: bench_load.py --flood PORT SECONDS) and the isolation run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.bench_fix_tcp import ROOT, run_on
from bench.bench_venue_tcp import SYMBOL, VENUE_ID
from bench.load.client import abandon, connect_all, field_value, logout_all
from bench.load.traffic import run_probe
from bench.load.venue import BEGIN, FLOOD_ID, PROBE_ID, VenueProcess, die_with_parent
from sim.fix.codec import FrameReader, encode
from sim.fix.timestamps import format_utc_timestamp


class _Flooder(asyncio.Protocol):
    """One connection of the flooder: logon, then NewOrderSingles as fast as TCP accepts them."""

    CHUNK = 256

    def __init__(self, cycle: int, stats: dict, started: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        self.loop, self.cycle, self.stats, self.started = loop, cycle, stats, started
        self.reader = FrameReader()
        self.seq = 1
        self.paused = False
        self.flooding = False
        self.done: asyncio.Future = loop.create_future()
        self.t_logon = self.t_logout = self.t_closed = 0.0
        self.logout_text = ""

    def connection_made(self, transport) -> None:
        self.transport = transport
        stamp = format_utc_timestamp(time.time_ns())
        transport.write(encode(BEGIN, b"A", [(34, 1), (49, FLOOD_ID.encode()), (52, stamp), (56, VENUE_ID),
                                             (98, b"0"), (108, b"30"), (141, b"Y")]))
        self.seq = 2

    def _pump(self) -> None:
        """Write chunks until TCP pushes back, yielding to the loop between rounds to read replies."""
        if not self.flooding or self.paused or self.transport.is_closing():
            return
        for _ in range(4):
            stamp = format_utc_timestamp(time.time_ns())
            sender, seq, tag = FLOOD_ID.encode(), self.seq, b"F%d-" % self.cycle
            frames = [encode(BEGIN, b"D", [(34, seq + i), (49, sender), (52, stamp), (56, VENUE_ID),
                                           (11, tag + b"%d" % (seq + i)), (21, b"1"), (38, b"1"), (40, b"2"),
                                           (44, b"80.00"), (54, b"1"), (55, SYMBOL.encode()), (59, b"0"),
                                           (60, stamp)]) for i in range(self.CHUNK)]
            self.seq += self.CHUNK
            self.stats["sent"] += self.CHUNK
            self.transport.write(b"".join(frames))
            if self.paused:
                return
        self.loop.call_soon(self._pump)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.loop.call_soon(self._pump)

    def data_received(self, data: bytes) -> None:
        stats = self.stats
        self.reader.feed(data)
        while (frame := self.reader.next_frame()) is not None:
            msg_type = field_value(frame, b"\x0135=")
            if msg_type == b"8":
                exec_type = field_value(frame, b"\x01150=")
                if exec_type == b"0":
                    stats["acks"] += 1
                elif exec_type == b"8":
                    if b"throttle" in frame:
                        stats["throttle_rejects"] += 1
                        text = (field_value(frame, b"\x0158=") or b"").decode("latin-1")
                        kind = "logout limit" if "logout" in text else "reject limit"
                        stats["reject_texts"].setdefault(kind, text)
                    else:
                        stats["other_rejects"] += 1
            elif msg_type == b"A":
                self.t_logon = time.monotonic()
                self.flooding = True
                self.started()
                self.loop.call_soon(self._pump)
            elif msg_type == b"5":
                # An abusive client: note the Logout and keep flooding until the venue hangs up.
                self.t_logout = time.monotonic()
                self.logout_text = (field_value(frame, b"\x0158=") or b"").decode("latin-1")
            else:
                stats["other_messages"] += 1

    def connection_lost(self, exc) -> None:
        self.flooding = False
        self.t_closed = time.monotonic()
        if not self.done.done():
            self.done.set_result(None)


async def flood(port: int, seconds: float) -> dict:
    """Flood for ``seconds``: reconnect and flood again whenever the venue disconnects us."""
    loop = asyncio.get_running_loop()
    stats: dict = {"sent": 0, "acks": 0, "throttle_rejects": 0, "other_rejects": 0, "other_messages": 0,
                   "reject_texts": {}, "connections": 0, "logouts": 0, "disconnects": 0, "logout_texts": [],
                   "logout_to_disconnect_s": [], "logon_to_logout_s": [], "refused": 0}
    announced = []

    def started() -> None:
        if not announced:
            announced.append(True)
            print("FLOODING", flush=True)

    deadline = loop.time() + seconds
    cycle = 0
    while loop.time() < deadline:
        cycle += 1
        try:
            transport, proto = await loop.create_connection(lambda c=cycle: _Flooder(c, stats, started),
                                                            "127.0.0.1", port)
        except OSError:
            stats["refused"] += 1
            await asyncio.sleep(0.05)
            continue
        stats["connections"] += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(proto.done), max(0.0, deadline - loop.time()))
        if proto.t_logout:
            stats["logouts"] += 1
            if len(stats["logout_texts"]) < 3 and proto.logout_text not in stats["logout_texts"]:
                stats["logout_texts"].append(proto.logout_text)
            if proto.t_logon:
                stats["logon_to_logout_s"].append(round(proto.t_logout - proto.t_logon, 3))
        if proto.done.done():
            stats["disconnects"] += 1
            if proto.t_logout:
                stats["logout_to_disconnect_s"].append(round(proto.t_closed - proto.t_logout, 3))
        else:
            transport.close()
    return stats


def flood_main(port: int, seconds: float) -> None:
    """``--flood``: flood the venue, then print the statistics as one JSON line."""
    try:
        stats = run_on("uvloop", flood(port, seconds))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent reports it
        sys.exit(130)
    print("RESULT " + json.dumps(stats), flush=True)


class FlooderProcess:
    """The flooder in a child process (its event loop must not slow the probe's measurements)."""

    def __init__(self, port: int, seconds: float) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve().parents[1] / "bench_load.py"), "--flood", str(port),
                                      str(seconds)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     cwd=str(ROOT), preexec_fn=die_with_parent, text=True)

    def wait_started(self, timeout_s: float = 15.0) -> None:
        """Block until the flooder is logged on and writing."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.strip() == "FLOODING":
                return
        raise RuntimeError("the flooder did not start")

    def result(self, timeout_s: float) -> dict:
        """Wait for the flooder to finish and return its statistics."""
        assert self.proc.stdout is not None
        out, _ = self.proc.communicate(timeout=timeout_s)
        for line in out.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[7:])
        raise RuntimeError(f"the flooder printed no result: {out[-500:]!r}")

    def stop(self) -> None:
        """Kill it if it is still running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


async def run_flood_isolation(venue: VenueProcess, seconds: float, rate: float,
                              say: Callable[[str], None]) -> dict:
    """Probe alone, then probe while the flooder floods; the flooder's own statistics."""
    loop = asyncio.get_running_loop()
    (probe,) = await connect_all(venue.port, [PROBE_ID])
    try:
        await run_probe(probe, 1.0, rate)  # warm-up: first-use costs are not the baseline
        cpu0 = venue.cpu_s()
        alone = await run_probe(probe, seconds, rate)
        alone["venue_cpu"] = (venue.cpu_s() - cpu0) / seconds
        say(f"  probe alone: p50 {alone['order_lat']['p50']:.0f} us, p99 {alone['order_lat']['p99']:.0f} us "
            f"({alone['sent']} orders)")
        mem_before = venue.memory_kb()["VmRSS"]
        flooder = FlooderProcess(venue.port, seconds + 1.0)
        try:
            await loop.run_in_executor(None, flooder.wait_started)
            await asyncio.sleep(0.5)  # be inside the flood, not at its first byte
            cpu0 = venue.cpu_s()
            flooded = await run_probe(probe, seconds, rate)
            flooded["venue_cpu"] = (venue.cpu_s() - cpu0) / seconds
            stats = await loop.run_in_executor(None, flooder.result, seconds + 30.0)
            stats["rss_growth_kb"] = venue.memory_kb()["VmRSS"] - mem_before
        finally:
            flooder.stop()
        say(f"  probe under flood: p50 {flooded['order_lat']['p50']:.0f} us, p99 {flooded['order_lat']['p99']:.0f} us"
            f" ({flooded['sent']} orders); flooder sent {stats['sent']:,}, {stats['throttle_rejects']:,} throttle "
            f"rejects, {stats['logouts']} logouts, {stats['disconnects']} disconnects")
        await asyncio.sleep(0.5)
        after = await run_probe(probe, min(seconds, 3.0), rate)
        probe_dropped = probe.dropped
    except BaseException:
        abandon([probe])
        raise
    await logout_all([probe])
    return {"alone": alone, "flooded": flooded, "after": after, "flooder": stats, "probe_dropped": probe_dropped}
