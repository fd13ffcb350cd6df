"""`marketdrill exchange` with a background market: agents trade in real time, subscribers see it.

``serve_venue`` (what the CLI runs) is started in-process on 127.0.0.1 with
``examples/venue-agents.toml`` and a free port; raw FIX clients (no session logic of ours) log on,
subscribe, and must see incremental refreshes caused by agent activity within a few seconds, and
trade against the agents' quotes.  Every wait has a deadline and the venue is always stopped.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sim.clock import VirtualClock, seconds
from sim.fix.codec import FixMessage, decode
from sim.fix.dictionary import Dictionary
from sim.fix.validation import validate
from sim.venue import Venue, check_agents, serve_venue, start_agents
from sim.venue_config import VenueConfigError, load_venue_config, venue_config_from_dict
from tests.integration.rawfix import RawFixClient

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "venue-agents.toml"
T = "20260102-09:30:00"


def _f(message: FixMessage, tag: int) -> str | None:
    value = message.get(tag)
    return value.decode() if value is not None else None


class Recorder(RawFixClient):
    """A raw client that keeps every message it read (for validation afterwards)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[FixMessage] = []

    async def expect(self, msg_type: str, timeout: float = 5.0, skip: tuple[str, ...] = ("0",)) -> FixMessage:
        message = await super().expect(msg_type, timeout, skip)
        self.seen.append(message)
        return message

    async def expect_any(self, msg_types: tuple[str, ...], timeout: float = 5.0) -> FixMessage:
        """The next message of any of ``msg_types`` (heartbeats skipped; anything else fails)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            while self._inbox:
                message = self._inbox.pop(0)
                kind = message.msg_type().decode()
                if kind == "0":
                    continue
                assert kind in msg_types, f"expected 35 in {msg_types}, got {message.fields}"
                self.seen.append(message)
                return message
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"nothing of {msg_types} within {timeout}s")
            data = await asyncio.wait_for(self.stream_reader.read(65536), remaining)
            if not data:
                raise AssertionError("connection closed")
            self._reader.feed(data)
            while (frame := self._reader.next_frame()) is not None:
                self._inbox.append(decode(frame))

    def validate_all(self) -> None:
        dictionary = Dictionary.for_begin_string(self.begin)
        for message in self.seen:
            assert validate(message, dictionary) is None, message.fields


def subscribe(client: RawFixClient, md_req_id: str, symbol: str) -> None:
    client.send("V", [(262, md_req_id), (263, 1), (264, 0), (265, 1), (267, 2), (269, 0), (269, 1),
                      (146, 1), (55, symbol)])


@pytest.fixture
async def running_venue(capsys):
    """serve_venue on a free port with the example config; yields (port, captured-output reader)."""
    config = load_venue_config(EXAMPLE, port=0)
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_venue(config, ready=ready.set_result, stop=stop, status_every_s=0.2))
    try:
        port = await asyncio.wait_for(asyncio.shield(ready), 10)
        yield port, lambda: capsys.readouterr().out
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.mark.slow
async def test_a_subscriber_sees_incremental_refreshes_from_agent_activity_within_seconds(running_venue):
    port, output = running_venue
    a = Recorder("A", "VENUE")
    b = Recorder("B", "VENUE", begin="FIX.4.2")
    try:
        for client in (a, b):
            await client.connect(port)
            await client.logon()
        subscribe(a, "prb", "PRB")
        subscribe(b, "xyz", "XYZ")
        await a.expect("W")
        await b.expect("W")
        # Nobody but the agents trades: every refresh comes from the background market.
        asks: dict[str, int] = {}
        for _ in range(5):
            refresh = await a.expect("X", timeout=5)
            assert _f(refresh, 262) == "prb"
            entries = list(zip(refresh.get_all(279), refresh.get_all(269), refresh.get_all(270),
                               refresh.get_all(271), strict=True))
            for action, side, px, qty in entries:
                if side == b"1":
                    if action == b"2":
                        asks.pop(px.decode(), None)
                    else:
                        asks[px.decode()] = int(qty)
        for _ in range(3):
            assert _f(await b.expect("X", timeout=5), 262) == "xyz"
        # The agents' quotes are real: a FIX firm can trade against them.
        while not asks:
            refresh = await a.expect("X", timeout=5)
            for action, side, px in zip(refresh.get_all(279), refresh.get_all(269), refresh.get_all(270),
                                        strict=True):
                if side == b"1" and action != b"2":
                    asks[px.decode()] = 1
        a.send("D", [(11, "lift"), (21, 1), (55, "PRB"), (54, 1), (60, T), (38, 1), (40, 2), (44, "105.00"),
                     (59, 3)])
        reports = []
        while not reports or _f(reports[-1], 39) not in ("2", "4"):
            message = await a.expect_any(("8", "X"), timeout=5)
            if message.msg_type() == b"8":
                reports.append(message)
        assert "F" in [_f(r, 150) for r in reports], [r.fields for r in reports]
        a.validate_all()
        b.validate_all()
        await asyncio.sleep(0.5)  # let the status line come round
        out = output()
        assert "background market: " in out
        counts = [int(line.split("agents running: ")[1].split()[0]) for line in out.splitlines()
                  if "agents running: " in line]
        assert counts and counts[-1] > 0, out
    finally:
        await a.close()
        await b.close()


def test_the_status_line_shows_the_agents_activity():
    clock = VirtualClock()
    venue = Venue(load_venue_config(EXAMPLE), now_ns=clock.now_ns,
                  schedule=lambda delay, fn: clock.call_later(delay, fn))
    assert "agents" not in venue.status_line()
    market = start_agents(venue, clock)
    assert market is not None and market.running
    clock.advance(seconds(2))
    assert market.commands > 0
    assert f"agents running: {market.commands} commands" in venue.status_line()
    market.stop(cancel_orders=False)
    assert "agents stopped" in venue.status_line()


def test_agents_start_only_when_the_config_has_an_agents_table_that_is_not_disabled():
    base = {"instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
            "firm": [{"id": "A"}]}
    clock = VirtualClock()
    for agents, expected in ((None, False), ({"enabled": False}, False), ({"enabled": True}, True),
                             ({"seed": 3}, True)):
        config = venue_config_from_dict({**base, **({"agents": agents} if agents is not None else {})})
        venue = Venue(config, now_ns=clock.now_ns)
        market = start_agents(venue, clock)
        assert (market is not None) == expected, agents
        if market is not None:
            market.stop(cancel_orders=False)


def test_a_bad_agents_table_is_a_venue_config_error_before_anything_starts():
    base = {"instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
            "firm": [{"id": "A"}]}
    with pytest.raises(VenueConfigError, match="nosie_rate_per_s.*did you mean 'noise_rate_per_s'"):
        check_agents(venue_config_from_dict({**base, "agents": {"nosie_rate_per_s": 1}}, source="v.toml"))
    with pytest.raises(VenueConfigError, match="v.toml: \\[agents\\] symbols: 'ZZZ'"):
        check_agents(venue_config_from_dict({**base, "agents": {"symbols": ["ZZZ"]}}, source="v.toml"))


def test_the_agents_trade_again_after_a_timer_driven_reopening():
    """A pause re-opens from a timer (Phases.emit): the background market must see it too."""
    clock = VirtualClock()
    config = venue_config_from_dict({
        "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
        "firm": [{"id": "A"}], "agents": {"seed": 1}})
    venue = Venue(config, now_ns=clock.now_ns, schedule=lambda delay, fn: clock.call_later(delay, fn))
    market = start_agents(venue, clock)
    clock.advance(seconds(1))
    venue.gateway.dispatch(venue.phases.pause("PRB", seconds(1), "luld_pause", "PRB paused"))
    assert market.state["PRB"].halted
    before = market.commands
    clock.advance(seconds(3))
    assert venue.phases.phase("PRB") == "continuous"
    assert not market.state["PRB"].halted and market.commands > before
