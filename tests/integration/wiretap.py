"""A TCP proxy between two FIX engines: records every frame, and can lose frames or go silent.

It stands in for the network between QuickFIX and marketdrill so that faults can be injected
without touching either engine's internals:

* ``drop_once(sender, predicate)`` loses the first frame from ``sender`` that matches (the
  sender stored and "sent" it; the receiver sees a sequence gap and asks for a resend);
* ``mute(sender)`` stops delivering anything from ``sender`` while the connection stays open (the
  other side stops hearing heartbeats and must detect it with TestRequest and a timeout).

Frames are cut with a framer of its own (``8=`` ... ``9=len`` ... ``10=ddd<SOH>``), independent of
``sim.fix.codec``, and recorded as :class:`Frame` with a monotonic timestamp and whether they were
delivered.  When either side closes, the proxy closes the other side too and records who closed
first and when (``closes``): that is how the tests time a heartbeat timeout.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

_BODY_LENGTH = re.compile(rb"8=[^\x01]*\x019=(\d+)\x01")


@dataclass(frozen=True, slots=True)
class Frame:
    """One FIX frame seen on the wire."""

    t: float  # time.monotonic() when the proxy read it
    sender: str  # name of the engine that sent it
    raw: bytes
    delivered: bool
    connection: int  # 1 for the first TCP connection through the proxy, 2 for a reconnect, ...

    @property
    def tags(self) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for item in self.raw.split(b"\x01"):
            tag, sep, value = item.partition(b"=")
            if sep and tag.isdigit():
                out.setdefault(int(tag), value)
        return out

    @property
    def msg_type(self) -> bytes:
        return self.tags.get(35, b"")


def split_frames(buffer: bytearray) -> list[bytes]:
    """Remove and return the complete frames at the front of ``buffer`` (garbage is kept as is)."""
    frames = []
    while True:
        match = _BODY_LENGTH.match(buffer)
        if match is None:
            return frames
        end = match.end() + int(match.group(1)) + 7  # body, then "10=ddd<SOH>"
        if len(buffer) < end:
            return frames
        frames.append(bytes(buffer[:end]))
        del buffer[:end]


class WireTap:
    """Listens on 127.0.0.1; every connection is relayed to ``upstream_port``.

    ``client`` names the engine that connects to the tap (the FIX initiator), ``server`` the one
    listening upstream (the FIX acceptor).
    """

    def __init__(self, upstream_port: int, *, client: str, server: str) -> None:
        self.upstream_port = upstream_port
        self.client, self.server = client, server
        self.frames: list[Frame] = []
        self.closes: list[tuple[int, str, float]] = []  # (connection, who closed it first, when)
        self.connections = 0
        self._drops: list[tuple[str, Callable[[Frame], bool]]] = []
        self._muted: set[str] = set()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        if self._server is not None:
            await asyncio.wait_for(self._server.wait_closed(), 2)

    # -- fault injection -------------------------------------------------------------------------

    def drop_once(self, sender: str, predicate: Callable[[Frame], bool]) -> None:
        """Lose the next frame from ``sender`` for which ``predicate(frame)`` is true."""
        self._drops.append((sender, predicate))

    def mute(self, sender: str) -> None:
        """From now on deliver nothing that ``sender`` writes (the connection stays open)."""
        self._muted.add(sender)

    # -- reading the record ----------------------------------------------------------------------

    def sent_by(self, sender: str, msg_type: bytes | None = None, *, delivered: bool | None = None) -> list[Frame]:
        return [f for f in self.frames if f.sender == sender and (msg_type is None or f.msg_type == msg_type)
                and (delivered is None or f.delivered == delivered)]

    def transcript(self, last: int = 60) -> str:
        """The last frames, one line each (for failure messages)."""
        lines = []
        for f in self.frames[-last:]:
            mark = "" if f.delivered else "  [NOT DELIVERED]"
            text = f.raw.replace(b"\x01", b"|").decode("latin-1")
            lines.append(f"{f.t:.3f} #{f.connection} {f.sender}: {text}{mark}")
        closes = [f"connection #{c} closed first by {who} at {t:.3f}" for c, who, t in self.closes]
        return "\n".join(lines + (closes or ["no connection closed"]))

    # -- relaying --------------------------------------------------------------------------------

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        self.connections += 1
        connection = self.connections
        self._writers += [client_writer, server_writer]
        writers = (client_writer, server_writer)
        for reader, writer, sender in ((client_reader, server_writer, self.client),
                                       (server_reader, client_writer, self.server)):
            task = asyncio.get_running_loop().create_task(self._pump(reader, writer, sender, connection, writers))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sender: str,
                    connection: int, writers: tuple[asyncio.StreamWriter, ...]) -> None:
        buffer = bytearray()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                buffer += data
                for raw in split_frames(buffer):
                    self._relay(raw, writer, sender, connection)
        except (ConnectionError, OSError):
            pass
        finally:
            if all(c != connection for c, _, _ in self.closes):
                self.closes.append((connection, sender, time.monotonic()))
            for w in writers:
                w.close()

    def _relay(self, raw: bytes, writer: asyncio.StreamWriter, sender: str, connection: int) -> None:
        frame = Frame(time.monotonic(), sender, raw, True, connection)
        deliver = sender not in self._muted
        if deliver:
            for i, (who, predicate) in enumerate(self._drops):
                if who == sender and predicate(frame):
                    del self._drops[i]
                    deliver = False
                    break
        if not deliver:
            frame = Frame(frame.t, sender, raw, False, connection)
        self.frames.append(frame)
        if deliver and not writer.is_closing():
            writer.write(raw)
