"""The venue over real TCP on 127.0.0.1: two firms trade, market data follows, isolation holds."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sim.fix.transport import FixAcceptor
from sim.venue import Venue
from sim.venue_config import load_venue_config
from tests.integration.rawfix import RawFixClient

PROBE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "venue-probe.toml"
T = "20260102-09:30:00"


@pytest.fixture
async def venue_port():
    loop = asyncio.get_running_loop()
    venue = Venue(load_venue_config(PROBE_CONFIG), now_ns=time.time_ns,
                  schedule=lambda delay_ns, fn: loop.call_later(delay_ns / 1e9, fn))
    acceptor = FixAcceptor(venue.sessions, now_ns=time.time_ns)
    port = await acceptor.start("127.0.0.1", 0)
    yield port
    await acceptor.stop()


def _f(message, tag):
    value = message.get(tag)
    return value.decode() if value is not None else None


async def test_two_firms_trade_and_the_subscriber_sees_the_book_change(venue_port):
    a, b = RawFixClient("A", "VENUE"), RawFixClient("B", "VENUE")
    try:
        for client in (a, b):
            await client.connect(venue_port)
            reply = await client.logon()
            assert _f(reply, 34) == "1" and _f(reply, 108) == "30"
        a.send("V", [(262, "md"), (263, 1), (264, 0), (265, 1), (267, 2), (269, 0), (269, 1), (146, 1), (55, "PRB")])
        snapshot = await a.expect("W")
        assert _f(snapshot, 268) == "0"
        a.send("D", [(11, "a1"), (21, 1), (55, "PRB"), (54, 2), (60, T), (38, 10), (40, 2), (44, "100.05"), (59, 0)])
        ack = await a.expect("8")
        assert (_f(ack, 150), _f(ack, 39), _f(ack, 151)) == ("0", "0", "10")
        incremental = await a.expect("X")
        assert (_f(incremental, 279), _f(incremental, 269), _f(incremental, 270), _f(incremental, 271)) == \
            ("0", "1", "100.05", "10")
        b.send("D", [(11, "b1"), (21, 1), (55, "PRB"), (54, 1), (60, T), (38, 4), (40, 2), (44, "100.07"), (59, 3)])
        assert _f(await b.expect("8"), 150) == "0"
        fill = await b.expect("8")
        assert (_f(fill, 150), _f(fill, 39), _f(fill, 31), _f(fill, 32), _f(fill, 6)) == ("F", "2", "100.05", "4", "100.05")
        maker = await a.expect("8")
        assert (_f(maker, 150), _f(maker, 39), _f(maker, 14), _f(maker, 151)) == ("F", "1", "4", "6")
        change = await a.expect("X")
        assert (_f(change, 279), _f(change, 271)) == ("1", "6")
        # Firm B cannot cancel firm A's order, even naming its OrderID.
        b.send("F", [(41, "a1"), (37, _f(ack, 37)), (11, "b2"), (55, "PRB"), (54, 2), (60, T), (38, 10)])
        reject = await b.expect("9")
        assert _f(reject, 37) == "NONE" and _f(reject, 434) == "1"
        # The order is still there for its owner to cancel.
        a.send("F", [(41, "a1"), (37, _f(ack, 37)), (11, "a2"), (55, "PRB"), (54, 2), (60, T), (38, 10)])
        cancelled = await a.expect("8")
        assert (_f(cancelled, 150), _f(cancelled, 11), _f(cancelled, 41), _f(cancelled, 151)) == ("4", "a2", "a1", "0")
        # A TestRequest is answered after everything the previous messages caused.
        a.send("1", [(112, "SYNC")])
        assert _f(await a.expect("X"), 279) == "2"
        heartbeat = await a.expect("0", skip=())
        assert _f(heartbeat, 112) == "SYNC"
    finally:
        await a.close()
        await b.close()


async def test_an_off_grid_price_is_a_rejected_report_not_a_session_reject(venue_port):
    a = RawFixClient("A", "VENUE")
    try:
        await a.connect(venue_port)
        await a.logon()
        a.send("D", [(11, "x1"), (21, 1), (55, "PRB"), (54, 1), (60, T), (38, 5), (40, 2), (44, "100.005"), (59, 0)])
        report = await a.expect("8")
        assert (_f(report, 150), _f(report, 39)) == ("8", "8") and "tick grid" in _f(report, 58)
        a.send("D", [(11, "x2"), (21, 1), (55, "ZZZ"), (54, 1), (60, T), (38, 5), (40, 2), (44, "1.00"), (59, 0)])
        report = await a.expect("8")
        assert _f(report, 150) == "8" and _f(report, 103) == "1"
    finally:
        await a.close()
