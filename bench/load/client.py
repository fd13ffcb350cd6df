"""A lean raw-FIX client session (pre-encoded orders, replies framed and classified by byte search)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from bench.bench_venue_tcp import SYMBOL, VENUE_ID
from bench.load.venue import BEGIN
from sim.fix.codec import FrameReader, encode
from sim.fix.timestamps import format_utc_timestamp


def field_value(frame: bytes, tag: bytes) -> bytes | None:
    """Value of ``tag`` (e.g. b"\\x0111=") in a raw frame, by byte search."""
    i = frame.find(tag)
    if i < 0:
        return None
    i += len(tag)
    return frame[i:frame.find(b"\x01", i)]


def cents(c: int) -> bytes:
    """A price in cents as FIX text (10025 -> b"100.25")."""
    return b"%d.%02d" % (c // 100, c % 100)


class FixClient(asyncio.Protocol):
    """One order-entry session on raw FIX 4.4: logon, new orders and cancels, each answer matched by ClOrdID.

    Lean on purpose (replies are only framed and searched for a few tags), so 100 of them in one
    process cost far less CPU than the venue spends on them.
    """

    def __init__(self, comp_id: str) -> None:
        loop = asyncio.get_running_loop()
        self.comp = comp_id.encode()
        self.seq = 1
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self.logged_on: asyncio.Future = loop.create_future()
        self.closed: asyncio.Future = loop.create_future()
        self.closing = False                        # we asked to log out: a Logout now is the reply
        self.pending: dict[bytes, int] = {}         # ClOrdID -> send time, until its first answer
        self.info: dict[bytes, tuple[bytes, bytes]] = {}   # working order -> (side, qty), for its cancel
        self.working: dict[bytes, None] = {}        # acked, not done, no cancel sent: oldest first
        self.order_lat: list[int] = []
        self.cancel_lat: list[int] = []
        self.orders = self.cancels = self.acks = self.order_rejects = self.fills = 0
        self.cancelled = self.cancel_rejects = self.throttle_rejects = 0
        self.dropped: str | None = None
        self.problems: list[bytes] = []
        self._n = 0

    # -- sending --

    def _send(self, msg_type: bytes, body: list[tuple[int, bytes]], stamp: bytes) -> None:
        frame = encode(BEGIN, msg_type, [(34, self.seq), (49, self.comp), (52, stamp), (56, VENUE_ID), *body])
        self.seq += 1
        assert self.transport is not None
        self.transport.write(frame)

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send(b"A", [(98, b"0"), (108, b"30"), (141, b"Y")], format_utc_timestamp(time.time_ns()))

    def new_order(self, side: bytes, price: bytes, qty: bytes) -> bytes:
        """Send a DAY limit NewOrderSingle; returns its ClOrdID."""
        self._n += 1
        cl = b"N%d" % self._n
        stamp = format_utc_timestamp(time.time_ns())
        self.info[cl] = (side, qty)
        self.orders += 1
        self.pending[cl] = time.perf_counter_ns()
        self._send(b"D", [(11, cl), (21, b"1"), (38, qty), (40, b"2"), (44, price), (54, side), (55, SYMBOL.encode()),
                          (59, b"0"), (60, stamp)], stamp)
        return cl

    def cancel_oldest(self) -> bool:
        """Cancel the oldest working order, if any; True if a cancel was sent."""
        if not self.working:
            return False
        orig = next(iter(self.working))
        del self.working[orig]
        side, qty = self.info[orig]
        self._n += 1
        cl = b"C%d" % self._n
        stamp = format_utc_timestamp(time.time_ns())
        self.cancels += 1
        self.pending[cl] = time.perf_counter_ns()
        self._send(b"F", [(11, cl), (38, qty), (41, orig), (54, side), (55, SYMBOL.encode()), (60, stamp)], stamp)
        return True

    def logout(self) -> None:
        """Ask to log out (the venue's Logout reply then closes the connection)."""
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self._send(b"5", [], format_utc_timestamp(time.time_ns()))

    # -- receiving --

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        reader = self.reader
        reader.feed(data)
        while (frame := reader.next_frame()) is not None:
            msg_type = field_value(frame, b"\x0135=")
            if msg_type == b"8":
                self._report(frame, now)
            elif msg_type == b"9":
                cl = field_value(frame, b"\x0111=")
                sent = self.pending.pop(cl, None) if cl is not None else None
                if sent is not None:
                    self.cancel_lat.append(now - sent)
                self.cancel_rejects += 1
                self.info.pop(field_value(frame, b"\x0141=") or b"", None)  # too late: the order is done
            elif msg_type == b"A":
                if not self.logged_on.done():
                    self.logged_on.set_result(None)
            elif msg_type == b"5":
                if not self.closing and self.dropped is None:
                    self.dropped = "Logout: " + (field_value(frame, b"\x0158=") or b"").decode("latin-1")
                if self.transport is not None:
                    self.transport.close()
            elif msg_type == b"1":
                test_id = field_value(frame, b"\x01112=") or b""
                self._send(b"0", [(112, test_id)], format_utc_timestamp(time.time_ns()))
            elif msg_type != b"0" and len(self.problems) < 5:
                self.problems.append(frame)  # session Reject, BusinessMessageReject, ...

    def _report(self, frame: bytes, now: int) -> None:
        cl = field_value(frame, b"\x0111=") or b""
        exec_type = field_value(frame, b"\x01150=")
        status = field_value(frame, b"\x0139=")
        sent = self.pending.pop(cl, None)
        if exec_type == b"4":  # a cancel's report: ClOrdID is the cancel's, OrigClOrdID the order's
            if sent is not None:
                self.cancel_lat.append(now - sent)
            self.cancelled += 1
            orig = field_value(frame, b"\x0141=") or b""
            self.info.pop(orig, None)
            self.working.pop(orig, None)
            return
        if sent is not None:
            self.order_lat.append(now - sent)
        if exec_type == b"0":
            self.acks += 1
            self.working[cl] = None
        elif exec_type == b"F":
            self.fills += 1
        elif exec_type == b"8":
            self.order_rejects += 1
            if b"throttle" in frame:
                self.throttle_rejects += 1
            elif len(self.problems) < 5:
                self.problems.append(frame)
        if status in (b"2", b"4", b"8", b"C"):  # filled, cancelled, rejected, expired: no longer working
            self.working.pop(cl, None)
            self.info.pop(cl, None)

    def connection_lost(self, exc) -> None:
        if not self.closing and self.dropped is None:
            self.dropped = f"connection lost ({exc or 'closed by the venue'})"
        if not self.closed.done():
            self.closed.set_result(None)
        if not self.logged_on.done():
            self.logged_on.set_exception(ConnectionError(self.dropped or "closed before logon"))


async def connect_all(port: int, comp_ids: list[str], timeout_s: float = 30.0) -> list[FixClient]:
    """Connect and log on every session (20 connects at a time: the listen backlog is 100)."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(20)

    async def one(comp_id: str) -> FixClient:
        async with gate:
            _, client = await loop.create_connection(lambda: FixClient(comp_id), "127.0.0.1", port)
            await client.logged_on
            return client

    return await asyncio.wait_for(asyncio.gather(*(one(c) for c in comp_ids)), timeout_s)


async def logout_all(clients: list[FixClient], timeout_s: float = 10.0) -> None:
    """Log every session out, wait for the venue's replies, close whatever is left."""
    for client in clients:
        client.logout()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(c.closed for c in clients)), timeout_s)
    for client in clients:
        if client.transport is not None:
            client.transport.close()


def abandon(clients: list[FixClient], tasks: list[asyncio.Task] = ()) -> None:
    """On an error or an interrupt: no Logout handshake (the loop may be going away), just close."""
    for task in tasks:
        task.cancel()
    for client in clients:
        if client.transport is not None:
            with contextlib.suppress(Exception):
                client.transport.close()


async def wait_answered(clients: list[FixClient], grace_s: float) -> None:
    """Wait until no order or cancel awaits its first answer, or ``grace_s`` passes."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(c.pending for c in clients if c.dropped is None):
        await asyncio.sleep(0.05)
