"""A minimal raw FIX client over asyncio TCP for integration tests (no session logic of ours)."""

from __future__ import annotations

import asyncio
import time

from sim.fix.codec import FixMessage, FrameReader, decode, encode
from sim.fix.timestamps import format_utc_timestamp


class RawFixClient:
    """Writes hand-built FIX messages to a server and reads what comes back, with timeouts."""

    def __init__(self, comp_id: str, target: str, begin: str = "FIX.4.4") -> None:
        self.comp_id, self.target, self.begin = comp_id, target, begin
        self.seq = 1
        self._reader = FrameReader()
        self._inbox: list[FixMessage] = []
        self.stream_reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int) -> None:
        """Open the TCP connection to 127.0.0.1:port."""
        self.stream_reader, self.writer = await asyncio.open_connection("127.0.0.1", port)

    def send(self, msg_type: str, body: list[tuple[int, object]] = ()) -> None:
        """Send one message with the next MsgSeqNum."""
        fields = [(34, self.seq), (49, self.comp_id), (52, format_utc_timestamp(time.time_ns())), (56, self.target)]
        self.seq += 1
        assert self.writer is not None
        self.writer.write(encode(self.begin.encode(), msg_type.encode(), fields + list(body)))

    async def expect(self, msg_type: str, timeout: float = 5.0, skip: tuple[str, ...] = ("0",)) -> FixMessage:
        """Wait for the next message of ``msg_type`` (skipping heartbeats); fail on anything else."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            while self._inbox:
                message = self._inbox.pop(0)
                kind = message.msg_type().decode()
                if kind in skip:
                    continue
                assert kind == msg_type, f"expected 35={msg_type}, got {message.fields}"
                return message
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no 35={msg_type} within {timeout}s")
            assert self.stream_reader is not None
            data = await asyncio.wait_for(self.stream_reader.read(65536), remaining)
            if not data:
                raise AssertionError(f"connection closed while waiting for 35={msg_type}")
            self._reader.feed(data)
            while (frame := self._reader.next_frame()) is not None:
                self._inbox.append(decode(frame))

    async def logon(self, heartbeat: int = 30) -> FixMessage:
        """Log on with ResetSeqNumFlag=Y and wait for the reply."""
        self.send("A", [(98, 0), (108, heartbeat), (141, "Y")])
        return await self.expect("A")

    async def close(self) -> None:
        """Close the connection."""
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
