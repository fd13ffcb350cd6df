"""Crash and restart: ``marketdrill exchange`` is SIGKILLed mid-flow and restarted on the same state.

Real processes over TCP on 127.0.0.1.  The venue runs with ``state_dir`` (order log + FIX file
stores) and ``reset_on_logon = false``; the clients are raw FIX peers that keep what they sent,
so they can answer the venue's ResendRequest after a restart (PossDupFlag=Y resends, gap fills)
as a real initiator would.  After each kill the venue is started again on the same directory and
every client logs on again *without* ResetSeqNumFlag; then: sequence numbers resume, a
ResendRequest is served from the store, every acknowledged order answers an OrderStatusRequest
with its OrderID and state, resting orders still trade, and new OrderIDs/ExecIDs are new.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from sim.fix.codec import FixMessage, FrameReader, decode, encode
from sim.fix.timestamps import format_utc_timestamp
from tests.integration.isolation_helpers import bounded

T = "20260102-09:30:00"
APP_TYPES = {"D", "F", "G", "H"}
CONFIG = """\
[venue]
comp_id = "VENUE"
host = "127.0.0.1"
port = 0
begin_strings = ["FIX.4.4"]
reset_on_logon = false       # a reconnecting client continues its sequence numbers
state_dir = "state"          # order log and FIX file stores

[[instrument]]
symbol = "PRB"
tick_size = "0.01"
reference_price = "100.00"
lot_size = 1

[[firm]]
id = "A"

[[firm]]
id = "B"

[agents]
enabled = false
"""


def _f(message: FixMessage, tag: int) -> str | None:
    value = message.get(tag)
    return value.decode() if value is not None else None


class VenueProcess:
    """``marketdrill exchange --config FILE --port 0`` as a child process."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc: asyncio.subprocess.Process | None = None
        self.banner: list[str] = []
        self._drain: asyncio.Task | None = None

    async def start(self) -> int:
        """Start the venue; returns the port it listens on."""
        script = Path(sys.executable).with_name("marketdrill")
        command = [str(script)] if script.exists() else [sys.executable, "-c",
                                                          "import sys; from scenarios.cli import main; "
                                                          "sys.exit(main())"]
        self.proc = await asyncio.create_subprocess_exec(
            *command, "exchange", "--config", str(self.config), "--port", "0", "--quiet",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=self.config.parent)
        assert self.proc.stdout is not None
        self.banner = []
        port = None
        while port is None:
            line = (await asyncio.wait_for(self.proc.stdout.readline(), 10)).decode()
            assert line, f"venue exited before listening: {''.join(self.banner)}"
            self.banner.append(line)
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match[1])
        while True:  # the rest of the banner, up to the order log line (and what follows it at once)
            wait = 0.05 if any("order log:" in line for line in self.banner) else 5.0
            try:
                line = (await asyncio.wait_for(self.proc.stdout.readline(), wait)).decode()
            except TimeoutError:
                break
            self.banner.append(line)
        self._drain = asyncio.create_task(self._read_rest())
        return port

    async def _read_rest(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while await self.proc.stdout.readline():
            pass

    async def kill(self) -> None:
        """SIGKILL: no signal handler, no flush, no close."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        assert await self.proc.wait() == -signal.SIGKILL
        if self._drain is not None:
            await self._drain

    async def stop(self) -> None:
        """Stop it if it still runs (test teardown)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._drain is not None:
            await self._drain


class Peer:
    """A raw FIX initiator that keeps its sent messages (to resend them) and everything received."""

    def __init__(self, comp_id: str) -> None:
        self.comp_id = comp_id
        self.seq = 1
        self.sent: dict[int, tuple[str, list, str]] = {}   # seq -> (type, body, SendingTime)
        self.received: list[FixMessage] = []
        self.last_in = 0                                   # highest MsgSeqNum seen from the venue
        self._frames = FrameReader()
        self._unread: list[FixMessage] = []
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int) -> None:
        self._frames = FrameReader()
        self._unread = []
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)

    def send(self, msg_type: str, body: list[tuple[int, object]]) -> int:
        """Send with the next MsgSeqNum; returns it."""
        seq, stamp = self.seq, format_utc_timestamp(time.time_ns())
        self.seq += 1
        self.sent[seq] = (msg_type, list(body), stamp)
        self._write(msg_type, [(34, seq), (49, self.comp_id), (52, stamp), (56, "VENUE")], body)
        return seq

    def _write(self, msg_type: str, header: list, body: list) -> None:
        assert self.writer is not None
        self.writer.write(encode(b"FIX.4.4", msg_type.encode(), header + list(body)))

    def order(self, cl: str, side: int, qty: int, price: str) -> int:
        return self.send("D", [(11, cl), (21, 1), (38, qty), (40, 2), (44, price), (54, side), (55, "PRB"),
                               (59, 0), (60, T)])

    def status(self, cl: str, side: int) -> int:
        return self.send("H", [(11, cl), (54, side), (55, "PRB")])

    async def logon(self) -> FixMessage:
        """Log on without ResetSeqNumFlag (sequence numbers continue) and wait for the reply."""
        self.send("A", [(98, 0), (108, 30)])
        return await self.until(lambda m: _f(m, 35) == "A")

    async def until(self, done, timeout: float = 5.0) -> FixMessage:
        """Read until a message satisfies ``done``; answers the venue's ResendRequests meanwhile."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            while self._unread:
                message = self._unread.pop(0)
                self.received.append(message)
                seq = int(_f(message, 34))
                if _f(message, 35) != "4":
                    self.last_in = max(self.last_in, seq)
                else:
                    self.last_in = max(self.last_in, int(_f(message, 36)) - 1)
                if _f(message, 35) == "2":
                    self._answer_resend(int(_f(message, 7)), int(_f(message, 16)))
                if done(message):
                    return message
            remaining = deadline - asyncio.get_running_loop().time()
            assert self.reader is not None
            try:
                data = await asyncio.wait_for(self.reader.read(65536), max(remaining, 0))
            except TimeoutError:
                last = [m.fields for m in self.received[-4:]]
                raise AssertionError(f"{self.comp_id}: timed out; last received: {last}") from None
            if not data:
                raise AssertionError(f"{self.comp_id}: connection closed")
            self._frames.feed(data)
            while (frame := self._frames.next_frame()) is not None:
                self._unread.append(decode(frame))

    def _answer_resend(self, begin: int, end: int) -> None:
        """Resend our application messages begin..end (PossDupFlag=Y); admin ones become gap fills.

        What the venue already holds in its queue comes back to it as a too-low PossDup and is dropped.
        """
        last = self.seq - 1 if end == 0 else min(end, self.seq - 1)
        for seq in range(begin, last + 1):
            msg_type, body, stamp = self.sent[seq]
            now = format_utc_timestamp(time.time_ns())
            if msg_type in APP_TYPES:
                header = [(34, seq), (43, "Y"), (49, self.comp_id), (52, now), (56, "VENUE"), (122, stamp)]
                self._write(msg_type, header, body)
            else:
                header = [(34, seq), (43, "Y"), (49, self.comp_id), (52, now), (56, "VENUE"), (122, now)]
                self._write("4", header, [(36, seq + 1), (123, "Y")])

    def reports(self, **match: str) -> list[FixMessage]:
        """Execution reports received so far whose tags match (``tag_11="a1"``)."""
        return [m for m in self.received if _f(m, 35) == "8"
                and all(_f(m, int(k[4:])) == v for k, v in match.items())]

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
            self.writer = None


@pytest.fixture
async def venue(tmp_path):
    config = tmp_path / "venue.toml"
    config.write_text(CONFIG)
    process = VenueProcess(config)
    yield process
    await process.stop()


async def _reconnect(peer: Peer, port: int) -> FixMessage:
    """Log on to the restarted venue; fetch what it sent and we never read (ResendRequest)."""
    await peer.close()
    await peer.connect(port)
    seen_before = peer.last_in
    reply = await peer.logon()
    assert int(_f(reply, 34)) >= seen_before + 1, "the venue's sequence numbers went back"
    if int(_f(reply, 34)) > seen_before + 1:
        peer.send("2", [(7, seen_before + 1), (16, 0)])
        await peer.until(lambda m: peer.last_in >= int(_f(reply, 34)) - 1 and _f(m, 43) == "Y")
    return reply


async def _statuses(peer: Peer, orders: dict[str, tuple[int, str]]) -> dict[str, FixMessage]:
    """OrderStatusRequest for each ClOrdID; returns the ExecType=I replies by ClOrdID."""
    out: dict[str, FixMessage] = {}
    for cl, (side, _) in orders.items():
        peer.status(cl, side)
    while len(out) < len(orders):
        reply = await peer.until(lambda m: _f(m, 35) == "8" and _f(m, 150) == "I")
        out[_f(reply, 11)] = reply
    return out


def _ids(peer: Peer, tag: int) -> set[str]:
    return {_f(m, tag) for m in peer.received if _f(m, 35) == "8" and _f(m, tag) not in (None, "NONE")}


@bounded(30)
async def test_killed_after_acks_every_order_is_back_and_the_store_serves_a_resend(venue):
    port = await venue.start()
    a, b = Peer("A"), Peer("B")
    try:
        for peer in (a, b):
            await peer.connect(port)
            await peer.logon()
        acked: dict[str, tuple[int, str]] = {}
        for i, price in enumerate(("99.95", "99.96", "99.96", "99.90", "99.97")):
            a.order(f"a{i}", 1, 10 + i, price)
            ack = await a.until(lambda m: _f(m, 35) == "8")
            assert _f(ack, 150) == "0"
            acked[f"a{i}"] = (1, _f(ack, 37))
        b.order("b0", 2, 5, "100.10")
        acked_b = {"b0": (2, _f(await b.until(lambda m: _f(m, 35) == "8"), 37))}
        before = {peer.comp_id: list(peer.received) for peer in (a, b)}
        await venue.kill()

        port = await venue.start()
        assert any("6 orders restored, 6 open" in line for line in venue.banner), venue.banner
        reply = await _reconnect(a, port)
        assert _f(reply, 34) == str(a.last_in) and int(_f(reply, 34)) == len(before["A"]) + 1
        await _reconnect(b, port)
        # A ResendRequest for everything is served from the FIX store: the Logon as a gap fill,
        # every report again with PossDupFlag=Y and the same OrderID and ExecID.
        a.send("2", [(7, 1), (16, 0)])
        resent: list[FixMessage] = []
        while len(resent) < len(acked):
            message = await a.until(lambda m: _f(m, 43) == "Y")
            if _f(message, 35) == "8":
                resent.append(message)
            else:
                assert _f(message, 35) == "4" and _f(message, 123) == "Y"
        originals = [m for m in before["A"] if _f(m, 35) == "8"]
        assert [(_f(m, 34), _f(m, 37), _f(m, 17)) for m in resent] == \
            [(_f(m, 34), _f(m, 37), _f(m, 17)) for m in originals]
        # Every acknowledged order: same OrderID, same state.
        for peer, orders in ((a, acked), (b, acked_b)):
            for cl, reply in (await _statuses(peer, orders)).items():
                assert (_f(reply, 37), _f(reply, 39), _f(reply, 151)) == (orders[cl][1], "0", _f(reply, 38))
        # The book is back in price-time priority: a sell of 30 at 99.96 meets a4 (14 at 99.97),
        # then a1 (11) before a2 (5 of 12), which came later at the same price.
        exec_before = _ids(a, 17) | _ids(b, 17)
        b.order("b1", 2, 30, "99.96")
        fills = []
        while len(fills) < 3:
            fills.append(await a.until(lambda m: _f(m, 35) == "8" and _f(m, 150) == "F"))
        assert [(_f(m, 37), _f(m, 32)) for m in fills] == \
            [(acked["a4"][1], "14"), (acked["a1"][1], "11"), (acked["a2"][1], "5")]
        await b.until(lambda m: len(b.reports(tag_11="b1")) >= 4)
        new_b = b.reports(tag_11="b1")
        assert _f(new_b[0], 37) not in {oid for _, oid in [*acked.values(), *acked_b.values()]}
        new_exec = {_f(m, 17) for m in fills + new_b}
        assert len(new_exec) == len(fills) + len(new_b) and not new_exec & exec_before
    finally:
        await a.close()
        await b.close()


@bounded(30)
async def test_killed_mid_burst_nothing_acknowledged_is_lost_and_resent_orders_are_not_doubled(venue):
    port = await venue.start()
    a = Peer("A")
    try:
        await a.connect(port)
        await a.logon()
        burst = {f"x{i}": (1 + i % 2, "99.50" if i % 2 == 0 else "100.50") for i in range(60)}
        for cl, (side, price) in list(burst.items())[:30]:
            a.order(cl, side, 1 + len(cl), price)
        await a.until(lambda m: len(a.reports(tag_150="0")) >= 10)
        for cl, (side, price) in list(burst.items())[30:]:
            a.order(cl, side, 1 + len(cl), price)
        await venue.kill()  # orders in flight: some processed but unread, some never read by the venue
        acked = {_f(m, 11): _f(m, 37) for m in a.reports(tag_150="0")}
        assert 10 <= len(acked) <= 30

        port = await venue.start()
        await _reconnect(a, port)  # answers the venue's ResendRequest with PossDup resends
        # Every order of the burst ends up at the venue exactly once.
        statuses = await _statuses(a, {cl: (side, "") for cl, (side, _) in burst.items()})
        order_ids = {cl: _f(reply, 37) for cl, reply in statuses.items()}
        assert all(_f(reply, 39) == "0" for reply in statuses.values()), \
            {cl: _f(r, 58) for cl, r in statuses.items() if _f(r, 39) != "0"}
        assert len(set(order_ids.values())) == 60
        for cl, order_id in acked.items():
            assert order_ids[cl] == order_id, cl
        # No ClOrdID was answered with a duplicate-ClOrdID reject.
        assert not a.reports(tag_150="8")
    finally:
        await a.close()


@bounded(30)
async def test_killed_right_after_a_fill_the_partial_fill_survives_and_still_trades(venue):
    port = await venue.start()
    a, b = Peer("A"), Peer("B")
    try:
        for peer in (a, b):
            await peer.connect(port)
            await peer.logon()
        a.order("s1", 2, 10, "100.05")
        ack = await a.until(lambda m: _f(m, 35) == "8")
        b.order("t1", 1, 4, "100.05")
        maker = await a.until(lambda m: _f(m, 35) == "8" and _f(m, 150) == "F")
        await b.until(lambda m: _f(m, 35) == "8" and _f(m, 150) == "F")
        await venue.kill()
        exec_before = _ids(a, 17) | _ids(b, 17)
        order_ids_before = _ids(a, 37) | _ids(b, 37)

        port = await venue.start()
        await _reconnect(a, port)
        await _reconnect(b, port)
        # The fill is in the store: a resend of its MsgSeqNum returns it, PossDupFlag=Y.
        a.send("2", [(7, _f(maker, 34)), (16, _f(maker, 34))])
        again = await a.until(lambda m: _f(m, 43) == "Y" and _f(m, 35) == "8")
        assert (_f(again, 17), _f(again, 32), _f(again, 14)) == (_f(maker, 17), "4", "4")
        status = (await _statuses(a, {"s1": (2, "")}))["s1"]
        assert (_f(status, 37), _f(status, 39), _f(status, 14), _f(status, 151), _f(status, 6)) == \
            (_f(ack, 37), "1", "4", "6", "100.05")
        taker = (await _statuses(b, {"t1": (1, "")}))["t1"]
        assert (_f(taker, 39), _f(taker, 14)) == ("2", "4")
        b.order("t2", 1, 6, "100.05")
        fill = await a.until(lambda m: _f(m, 35) == "8" and _f(m, 150) == "F")
        assert (_f(fill, 37), _f(fill, 39), _f(fill, 14), _f(fill, 32)) == (_f(ack, 37), "2", "10", "6")
        await b.until(lambda m: len(b.reports(tag_11="t2")) >= 2)
        new = b.reports(tag_11="t2") + [fill]
        assert not {_f(m, 17) for m in new} & exec_before
        assert _f(new[0], 37) not in order_ids_before
    finally:
        await a.close()
        await b.close()
