"""Helpers for the venue isolation and authentication tests: a two-firm venue on TCP, draining a socket."""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sim.fix.codec import FixMessage, decode
from sim.fix.transport import FixAcceptor
from sim.venue import Venue
from sim.venue_config import load_venue_config
from tests.integration.rawfix import RawFixClient

T = "20260102-09:30:00"
PASSWORD_A = "A-s3cret-pw"
PASSWORD_B = "B-other-pw"
# Standard header/trailer tags: everything else in a message is its body.
HEADER_TAGS = frozenset({8, 9, 35, 34, 49, 52, 56, 43, 97, 122, 10})
# Tags that would identify a firm, trader or account in a market-data body.
IDENTITY_TAGS = frozenset({1, 49, 50, 56, 57, 109, 115, 116, 128, 129, 142, 143, 448, 452, 453, 523})

VENUE_TOML = """\
[venue]
comp_id = "VENUE"
host = "127.0.0.1"
port = 0
begin_strings = ["FIX.4.4"]
reset_on_logon = true
{log_line}

[[instrument]]
symbol = "PRB"
tick_size = "0.01"
reference_price = "100.00"
lot_size = 1

[[firm]]
id = "A"
password = "{password_a}"

[[firm]]
id = "B"
{password_b_line}

[agents]
enabled = false
"""


def bounded(seconds: float) -> Callable:
    """Fail an async test that runs longer than ``seconds`` instead of hanging the suite."""
    def wrap(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(fn)
        async def run(*args, **kwargs) -> None:
            async with asyncio.timeout(seconds):
                await fn(*args, **kwargs)
        return run
    return wrap


@dataclass
class RunningVenue:
    venue: Venue
    acceptor: FixAcceptor
    port: int

    def flush_logs(self) -> None:
        """Push every session's buffered FileLog lines to disk (nothing in the venue flushes them)."""
        for session in self.venue.sessions:
            flush = getattr(session.log, "flush", None)
            if flush is not None:
                flush()


@asynccontextmanager
async def running_venue(tmp_path: Path, *, log_dir: str = "", password_b: str = "") -> AsyncIterator[RunningVenue]:
    """Firms A (with a password) and B on FIX 4.4, one symbol PRB, listening on a free 127.0.0.1 port."""
    config_path = tmp_path / "venue.toml"
    config_path.write_text(VENUE_TOML.format(
        log_line=f'log_path = "{log_dir}"' if log_dir else "", password_a=PASSWORD_A,
        password_b_line=f'password = "{password_b}"' if password_b else ""))
    config = load_venue_config(config_path)
    loop = asyncio.get_running_loop()
    venue = Venue(config, now_ns=time.time_ns, schedule=lambda delay_ns, fn: loop.call_later(delay_ns / 1e9, fn))
    acceptor = FixAcceptor(venue.sessions, now_ns=time.time_ns)
    port = await acceptor.start("127.0.0.1", 0)
    try:
        yield RunningVenue(venue, acceptor, port)
    finally:
        await acceptor.stop()
        for session in venue.sessions:
            close = getattr(session.log, "close", None)
            if close is not None:
                close()


_test_ids = itertools.count(1)


async def drain(client: RawFixClient, timeout: float = 5.0) -> list[FixMessage]:
    """Everything the venue sent ``client`` up to now (heartbeats included, the sync heartbeat not).

    Sends a TestRequest and reads until the Heartbeat answering it: the venue sends everything a
    message caused before it handles the next one, so the answer comes after all of it.
    """
    token = f"DRAIN{next(_test_ids)}"
    client.send("1", [(112, token)])
    got: list[FixMessage] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        while client._inbox:
            message = client._inbox.pop(0)
            if message.msg_type() == b"0" and message.get(112) == token.encode():
                return got
            got.append(message)
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError(f"no Heartbeat answering TestRequest {token} within {timeout}s; got {got}")
        assert client.stream_reader is not None
        data = await asyncio.wait_for(client.stream_reader.read(65536), remaining)
        if not data:
            raise AssertionError(f"connection closed while draining; got {got}")
        client._reader.feed(data)
        while (frame := client._reader.next_frame()) is not None:
            client._inbox.append(decode(frame))


async def read_until_closed(client: RawFixClient, timeout: float = 5.0) -> list[FixMessage]:
    """Every message until the venue closes the connection (fails if it stays open past ``timeout``)."""
    got = list(client._inbox)
    client._inbox.clear()
    deadline = asyncio.get_running_loop().time() + timeout
    assert client.stream_reader is not None
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError(f"connection still open after {timeout}s; got {got}")
        try:
            data = await asyncio.wait_for(client.stream_reader.read(65536), remaining)
        except ConnectionResetError:
            return got
        except TimeoutError:
            raise AssertionError(f"connection still open after {timeout}s; got {got}") from None
        if not data:
            return got
        client._reader.feed(data)
        while (frame := client._reader.next_frame()) is not None:
            got.append(decode(frame))


def f(message: FixMessage, tag: int) -> str | None:
    value = message.get(tag)
    return value.decode("latin-1") if value is not None else None


def of_type(messages: list[FixMessage], msg_type: str) -> list[FixMessage]:
    return [m for m in messages if m.msg_type() == msg_type.encode()]


def body(message: FixMessage) -> list[tuple[int, bytes]]:
    return [(t, v) for t, v in message.fields if t not in HEADER_TAGS]
