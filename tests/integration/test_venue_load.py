"""The venue under load over real TCP: many concurrent sessions trade, every order is answered, none is dropped.

* A scaled-down run of ``bench/bench_load.py``'s load phase, with the same client code: the real
  ``marketdrill exchange`` in a child process on a generated config (message throttle on), 20 raw
  FIX 4.4 sessions on 127.0.0.1 sending limit orders and cancels for 3 s, then logging out.
* Connections take turns: a backlog of thousands of orders on one connection does not hold back
  another connection's order until the backlog is worked off.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from pathlib import Path

import pytest

from sim.fix.transport import FixAcceptor
from sim.venue import Venue
from sim.venue_config import load_venue_config
from tests.integration.rawfix import RawFixClient

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "bench_load.py"
PROBE_CONFIG = ROOT / "examples" / "venue-probe.toml"
T = "20260102-09:30:00"
SESSIONS = 20
SECONDS = 3.0
RATE = 10.0  # orders per second per session (plus half as many cancels): far under the throttle


def _bench_load():
    """Import bench/bench_load.py (bench/ is not a package)."""
    if "bench_load" in sys.modules:
        return sys.modules["bench_load"]
    spec = importlib.util.spec_from_file_location("bench_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
async def test_twenty_sessions_trade_concurrently_and_every_order_is_answered():
    bench = _bench_load()
    with bench.running_venue(SESSIONS) as venue:
        result = await asyncio.wait_for(bench.run_load(venue.port, SESSIONS, SECONDS, RATE), 25.0)
        assert venue.alive()
    # each session's rate loop may fit one order more or less into its SECONDS, as the box schedules it
    assert abs(result["orders"] - SESSIONS * int(SECONDS * RATE)) <= SESSIONS, result["orders"]
    assert result["cancels"] > 0 and result["fills"] > 0  # the run trades and cancels, not only rests
    assert result["unanswered_orders"] == 0, result
    assert result["unanswered_cancels"] == 0, result
    assert result["dropped"] == [] and result["dropped_at_logout"] == [], result
    assert result["throttle_rejects"] == 0 and result["problems"] == [], result
    assert result["order_lat"]["n"] == result["orders"]


async def test_a_backlog_on_one_connection_does_not_hold_back_another_connections_order():
    loop = asyncio.get_running_loop()
    venue = Venue(load_venue_config(PROBE_CONFIG), now_ns=time.time_ns,
                  schedule=lambda delay_ns, fn: loop.call_later(delay_ns / 1e9, fn))
    order_of_processing: list[str] = []
    serve = venue.gateway.from_app

    def spy(session, message) -> None:
        order_of_processing.append(session.session_id.target_comp_id)
        serve(session, message)

    venue.gateway.from_app = spy  # type: ignore[method-assign]
    acceptor = FixAcceptor(venue.sessions, now_ns=time.time_ns)
    port = await acceptor.start("127.0.0.1", 0)
    flood, probe = RawFixClient("A", "VENUE"), RawFixClient("B", "VENUE")
    backlog = 3000
    try:
        for client in (flood, probe):
            await client.connect(port)
            await client.logon()
        # About 500 KB of orders from A, then one order from B, before the venue runs again.
        for i in range(backlog):
            flood.send("D", [(11, f"a{i}"), (21, 1), (55, "PRB"), (54, 1), (60, T), (38, 1), (40, 2), (44, "90.00"),
                             (59, 0)])
        probe.send("D", [(11, "b1"), (21, 1), (55, "PRB"), (54, 1), (60, T), (38, 1), (40, 2), (44, "90.00"),
                         (59, 0)])
        deadline = loop.time() + 20.0
        while len(order_of_processing) < backlog + 1 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        assert len(order_of_processing) == backlog + 1
        # Processed whole, each 256 KiB read of A's would have gone first (about 1,500 orders).
        assert order_of_processing.index("B") < 100, order_of_processing.index("B")
        assert (await probe.expect("8")).get(11) == b"b1"
    finally:
        await flood.close()
        await probe.close()
        await acceptor.stop()
